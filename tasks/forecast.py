"""Forecast stage: the champion model + the latest history -> a forecasts partition with lineage."""
from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.predict import forecast_frame
from tasks.settings import Settings
from tasks.curated import read_curated
from tasks.storage import Storage
from tasks.tracking import load_champion


def partition_name(cutoff: pd.Timestamp) -> str:
    """``cutoff_date=YYYY-MM-DD``: a key distinct from the ``cutoff`` column inside the file, so that
    ``pd.read_parquet("<storage>/forecasts")`` reads every partition (pyarrow refuses a hive key
    that collides with a file column)."""
    fmt = "%Y-%m-%d" if cutoff == cutoff.normalize() else "%Y-%m-%dT%H%M%S"
    return f"cutoff_date={cutoff.strftime(fmt)}"


def forecast_stage(s: Settings, flow_run_id: str | None = None) -> dict:
    storage = Storage(s.storage.root)
    bundle, version, run_id = load_champion(s)  # fails before anything is written
    history = read_curated(s.storage.root)
    if history.empty:
        raise FileNotFoundError(f"no curated data under {storage.uri('curated')}: run ingest first")
    fc, skipped = forecast_frame(bundle, history)
    if fc.empty:
        raise ValueError(f"no series has the {bundle.network.input_size} points the model needs")
    cutoff = pd.Timestamp(fc["cutoff"].max())
    fc["model_name"] = s.tracking.model_name
    fc["model_version"] = version
    fc["mlflow_run_id"] = run_id
    fc["flow_run_id"] = flow_run_id or ""
    fc["created_at"] = pd.Timestamp(datetime.now(timezone.utc)).tz_localize(None)
    rel = f"forecasts/{partition_name(cutoff)}/forecasts.parquet"
    storage.write_parquet(rel, fc)
    return {
        "path": storage.uri(rel),
        "rows": len(fc),
        "series": int(fc["unique_id"].nunique()),
        "cutoff": str(cutoff.date()) if cutoff == cutoff.normalize() else str(cutoff),
        "model_version": version,
        "mlflow_run_id": run_id,
        "skipped_series": skipped,
    }


@task(name="write-forecasts", cache_policy=NO_CACHE)
def forecast_task(s: Settings, flow_run_id: str | None) -> dict:
    return forecast_stage(s, flow_run_id)
