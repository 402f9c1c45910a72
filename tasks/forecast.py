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
from tasks.scores import degraded, score_forecasts
from tasks.tracking import NoChampionError, champion_version, load_champion, log_scores, model_page


def partition_name(cutoff: pd.Timestamp) -> str:
    """``cutoff_date=YYYY-MM-DD``: a key distinct from the ``cutoff`` column inside the file, so that
    ``pd.read_parquet("<storage>/forecasts")`` reads every partition (pyarrow refuses a hive key
    that collides with a file column)."""
    fmt = "%Y-%m-%d" if cutoff == cutoff.normalize() else "%Y-%m-%dT%H%M%S"
    return f"cutoff_date={cutoff.strftime(fmt)}"


def load_history(s: Settings) -> pd.DataFrame:
    history = read_curated(s.storage.root)
    if history.empty:
        raise FileNotFoundError(f"no curated data under {Storage(s.storage.root).uri('curated')}: run ingest first")
    return history


def forecast_stage(s: Settings, history: pd.DataFrame, flow_run_id: str | None = None) -> dict:
    storage = Storage(s.storage.root)
    bundle, version, run_id = load_champion(s)  # fails before anything is written
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
        "model_uri_ui": model_page(s, version),
    }


def score_stage(s: Settings, history: pd.DataFrame) -> dict:
    """Score earlier forecasts against the actuals ingested since; flag a degrading champion."""
    scores = score_forecasts(Storage(s.storage.root), history, s.data.season_length)
    if scores.empty:
        return {"scores": [], "degraded": False, "champion_version": None}
    champion = champion_version(s)
    logged = log_scores(s, scores)
    return {
        "scores": scores.astype({"cutoff": str, "scored_at": str}).to_dict("records"),
        "degraded": champion is not None and degraded(scores, champion, s.monitor.mase_threshold, s.monitor.patience),
        "champion_version": champion,
        "logged_to_mlflow": logged,
    }


def transient(task, task_run, state) -> bool:
    """Retry I/O failures (storage, tracking server), not the ones a retry cannot fix."""
    exc = state.result(raise_on_failure=False)
    return not isinstance(exc, (NoChampionError, FileNotFoundError, ValueError, RuntimeError))


@task(name="load-history", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 5, 15],
      retry_condition_fn=transient)
def history_task(s: Settings) -> pd.DataFrame:
    return load_history(s)


@task(name="score-earlier-forecasts", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 5, 15],
      retry_condition_fn=transient)
def score_task(s: Settings, history: pd.DataFrame) -> dict:
    return score_stage(s, history)


@task(name="write-forecasts", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 5, 15],
      retry_condition_fn=transient)
def forecast_task(s: Settings, history: pd.DataFrame, flow_run_id: str | None) -> dict:
    return forecast_stage(s, history, flow_run_id)
