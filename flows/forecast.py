"""Forecast flow: score earlier forecasts, then champion model + latest history -> forecasts."""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from flows.common import flow_run_id, settings_from
from tasks.forecast import forecast_task, history_task, score_task

DEGRADED_EVENT = "lstm-forecast.champion.degraded"


@flow(name="forecast", log_prints=True)
def forecast_flow(storage: str | None = None, overrides: dict[str, Any] | None = None) -> dict:
    """1. load the history  2. score earlier forecasts whose actuals arrived (closed loop)
    3. forecast every series with models:/<name>@champion  4. write the cutoff's partition."""
    s = settings_from(overrides, **{"storage.root": storage})
    log = get_run_logger()
    history = history_task(s)
    scores = score_task(s, history)
    if scores["scores"]:
        create_table_artifact(key="forecast-scores", table=scores["scores"],
                              description="Realised accuracy of earlier forecasts, per cutoff and model version")
    if scores["degraded"]:
        log.warning("champion v%s: realised MASE above %s for %d cutoffs in a row: retrain requested",
                    scores["champion_version"], s.monitor.mase_threshold, s.monitor.patience)
        emit_event(event=DEGRADED_EVENT, resource={"prefect.resource.id": f"lstm-forecast.model.{s.tracking.model_name}"},
                   payload={"model_version": scores["champion_version"], "threshold": s.monitor.mase_threshold})
    result = forecast_task(s, history, flow_run_id())
    result["scores"], result["degraded"] = scores["scores"], scores["degraded"]
    create_markdown_artifact(
        key="forecast-summary",
        markdown=(f"# Forecasts {result['cutoff']}\n\n{result['rows']} rows, {result['series']} series, "
                  f"model `{s.tracking.model_name}` v{result['model_version']} "
                  f"(MLflow run `{result['mlflow_run_id']}`)\n\nWritten to `{result['path']}`\n"),
    )
    if result.get("model_uri_ui"):
        create_link_artifact(key="champion-model", link=result["model_uri_ui"], link_text="model version in MLflow")
    if result["skipped_series"]:
        log.warning("%d series could not be forecast (too short or missing recent points)",
                    len(result["skipped_series"]))
    return result
