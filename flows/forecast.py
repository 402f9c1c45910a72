"""Forecast flow: champion model + latest history -> forecasts Parquet partition."""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.common import flow_run_id, settings_from
from tasks.forecast import forecast_task


@flow(name="forecast", log_prints=True)
def forecast_flow(storage: str | None = None, overrides: dict[str, Any] | None = None) -> dict:
    """1. load models:/<name>@champion  2. predict every series  3. write the cutoff's partition."""
    s = settings_from(overrides, **{"storage.root": storage})
    result = forecast_task(s, flow_run_id())
    create_markdown_artifact(
        key="forecast-summary",
        markdown=(f"# Forecasts {result['cutoff']}\n\n{result['rows']} rows, {result['series']} series, "
                  f"model `{s.tracking.model_name}` v{result['model_version']} "
                  f"(MLflow run `{result['mlflow_run_id']}`)\n\nWritten to `{result['path']}`\n"),
    )
    if result["skipped_series"]:
        get_run_logger().warning("%d series too short to forecast", len(result["skipped_series"]))
    return result
