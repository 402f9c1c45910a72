"""Forecast flow: score earlier forecasts, then champion model + latest history -> forecasts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.context import FlowRunContext
from prefect.events import emit_event

from flows.common import SettingsTaskRunner, flow_run_id, runner_name, settings_from
from flows.render import forecast_markdown, scores_table
from tasks.forecast.stage import (
    ForecastResult,
    forecast_shard_task,
    load_and_score_task,
    plan_task,
    write_forecasts_task,
)

DEGRADED_EVENT = "lstm-forecast.champion.degraded"


@flow(name="forecast", log_prints=True, task_runner=SettingsTaskRunner())
def forecast_flow(storage: str | None = None, overrides: dict[str, Any] | None = None) -> ForecastResult:
    """1. score earlier forecasts whose actuals arrived (closed loop)  2. load models:/<name>@champion
    and choose the shards of series  3. forecast each shard (one task each, under the flow's task
    runner)  4. write the cutoff's partition once."""
    s = settings_from(overrides, **{"storage.root": storage})
    log = get_run_logger()
    scores = load_and_score_task(s)
    if scores.scores:
        create_table_artifact(
            key="forecast-scores",
            table=scores_table(scores),
            description="Realised accuracy of earlier forecasts, per cutoff and model version",
        )
    if scores.degraded:
        log.warning(
            "champion v%s: realised MASE above %s for %d cutoffs in a row: retrain requested",
            scores.champion_version,
            s.monitor.mase_threshold,
            s.monitor.patience,
        )
        emit_event(
            event=DEGRADED_EVENT,
            resource={"prefect.resource.id": f"lstm-forecast.model.{s.tracking.model_name}"},
            payload={"model_version": scores.champion_version, "threshold": s.monitor.mase_threshold},
        )
    plan = plan_task(s)
    parts = forecast_shard_task.map(plan.shards, unmapped(s), unmapped(plan)).result()
    result = replace(
        write_forecasts_task(s, plan, parts, flow_run_id()),
        shards=len(plan.shards),
        task_runner=runner_name(FlowRunContext.get().task_runner),
        scores=scores.scores,
        degraded=scores.degraded,
    )
    create_markdown_artifact(key="forecast-summary", markdown=forecast_markdown(s.tracking.model_name, result))
    if result.model_uri_ui:
        create_link_artifact(key="champion-model", link=result.model_uri_ui, link_text="model version in MLflow")
    if result.skipped_series:
        log.warning("%d series could not be forecast (too short or missing recent points)", len(result.skipped_series))
    return result
