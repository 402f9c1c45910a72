"""Forecast stage: the champion model + the latest history -> a forecasts partition with lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from lstm_model.bundle import ModelBundle
from tasks.adapters import tables
from tasks.adapters.curated import Curated, read_curated
from tasks.adapters.settings import Settings
from tasks.adapters.storage import Storage
from tasks.adapters.tracking import NoChampionError, champion_version, load_champion, log_scores, model_page
from tasks.forecast.future import FutureSummary, check_future, read_future, store_future
from tasks.forecast.predict import forecast_frame
from tasks.ingest.sidefile import check_static
from tasks.monitor.scores import FORECASTS, degraded, score_forecasts
from tasks.series.features import FeatureSpec
from tasks.series.static import read_static, store_static


def partition_value(cutoff: pd.Timestamp) -> str:
    """The ``cutoff_date`` partition of a cutoff: ``YYYY-MM-DD`` (with the time for intraday
    cutoffs), a key distinct from the ``cutoff`` column of the rows."""
    return cutoff.strftime("%Y-%m-%d" if cutoff == cutoff.normalize() else "%Y-%m-%dT%H%M%S")


def load_history(s: Settings) -> pd.DataFrame:
    """The whole curated dataset, its table version in ``attrs["curated_version"]``."""
    cur = Curated(Storage(s.storage.root))
    version = cur.version()
    history = cur.read(version=version)
    history.attrs["curated_version"] = version
    if history.empty:
        raise FileNotFoundError(f"no curated data under {Storage(s.storage.root).uri('curated')}: run ingest first")
    return history


@dataclass(frozen=True)
class ScoreSummary:
    """The closed loop's outcome: earlier forecasts scored against the actuals ingested since."""

    scores: list[dict] = field(default_factory=list)  # per cutoff and model version: points, mae, mase, ...
    degraded: bool = False  # the champion's realised MASE is over the threshold for ``patience`` cutoffs
    champion_version: str | None = None  # None: nothing scored
    logged_to_mlflow: int = 0  # score rows logged to the runs of the versions that forecast them


@dataclass(frozen=True)
class ForecastResult:
    """One forecast: the cutoff's partition written, its lineage, what could not be forecast."""

    path: str  # the partition written
    table_version: int  # the forecasts table's version of that write
    rows: int
    series: int
    cutoff: str  # the date (or timestamp, intraday) the forecasts start after
    model_version: str
    mlflow_run_id: str
    curated_version: int | None  # the curated table version read (None: a frame not read from the table)
    skipped_series: list[str]
    skipped_reasons: dict[str, str]  # series id -> why it was not forecast
    series_per_model: dict[str, int]  # served model -> number of series it forecast
    model_uri_ui: str | None  # the model version's page in the MLflow UI
    future_input: FutureSummary | None = None  # what --future-input gave, when given
    # set by the forecast flow:
    shards: int = 1
    task_runner: str = "ThreadPoolTaskRunner"
    scores: list[dict] = field(default_factory=list)  # :attr:`ScoreSummary.scores` of the same run
    degraded: bool = False


ROWS_PER_SHARD = 1_000_000
MAX_AUTO_SHARDS = 64


class ForecastPlan:
    """What every shard needs: the champion (loaded once) and the shards ``(k, n)`` of the series.

    A plain class on purpose, not a dataclass: Prefect walks dataclasses, lists and dicts passed to
    tasks, and the model holds every series id (100 k ids walked for each of 20 shard tasks cost
    15 s); an opaque object is passed as it is, to threads and to Dask or Ray workers alike."""

    def __init__(
        self,
        bundle: ModelBundle,
        version: str,
        run_id: str,
        shards: list[tuple[int, int]],
        curated_version: int | None = None,
        future: pd.DataFrame | None = None,
        future_input: FutureSummary | None = None,
        static: pd.DataFrame | None = None,
    ) -> None:
        self.bundle, self.version, self.run_id, self.shards = bundle, version, run_id, shards
        self.curated_version = curated_version  # every shard reads this version of the curated table
        self.future = future  # the stored future values of the future-known covariates (None: none read)
        self.future_input = future_input  # what --future-input gave, when given
        self.static = static  # the static covariates of every series (None: the model reads none)


def plan_forecast(s: Settings) -> ForecastPlan:
    """Load the champion (fails before anything is written) and choose the shards: the setting, else
    one per :data:`ROWS_PER_SHARD` curated rows (from the table's log), between 1 and
    :data:`MAX_AUTO_SHARDS`; the curated table's version, pinned for every shard."""
    bundle, version, run_id = load_champion(s)
    cur = Curated(Storage(s.storage.root))
    table = cur.table()
    n = s.scale.forecast_shards
    if n is None:
        n = max(1, min(MAX_AUTO_SHARDS, -(-cur.size(table)[0] // ROWS_PER_SHARD)))
    future, given = future_values(s, bundle)
    shards = [(k, n) for k in range(n)]
    version_read = None if table is None else table.version()
    return ForecastPlan(bundle, version, run_id, shards, version_read, future, given, static_values(s, bundle))


def static_values(s: Settings, bundle: ModelBundle) -> pd.DataFrame | None:
    """The static covariates the champion reads (``--static-input`` stored first, when given)."""
    storage = Storage(s.storage.root)
    if s.storage.static_input:
        store_static(storage, check_static(s.storage.static_input)[0])
    columns = list(FeatureSpec.from_dict(bundle.meta.get("features")).static)
    return read_static(storage, columns) if columns else None


def future_values(s: Settings, bundle: ModelBundle) -> tuple[pd.DataFrame | None, FutureSummary | None]:
    """The future values the champion's future-known columns read (``--future-input`` checked and
    stored first, when given), and what that file gave."""
    columns = list(FeatureSpec.from_dict(bundle.meta.get("features")).future)
    storage, given = Storage(s.storage.root), None
    if s.storage.future_input:
        if not columns:
            raise ValueError(
                f"--future-input {s.storage.future_input}: the champion model reads no future-known covariate "
                "(train with --future-covariates NAMES)"
            )
        frame, given = check_future(s.storage.future_input, columns, bundle.series_ids)
        store_future(storage, frame)
    return (read_future(storage, columns) if columns else None), given


def forecast_shard(s: Settings, plan: ForecastPlan, shard: tuple[int, int]) -> tuple[pd.DataFrame, list[str]]:
    """Forecasts of one shard's series, reading only that shard of the curated data."""
    history = read_curated(s.storage.root, shard=shard if shard[1] > 1 else None, version=plan.curated_version)
    if history.empty:
        return pd.DataFrame(), []
    return forecast_frame(plan.bundle, history, s.tracking.serve_model, plan.future, plan.static)


def forecast_stage(s: Settings, history: pd.DataFrame, flow_run_id: str | None = None) -> ForecastResult:
    """Champion + a history frame -> the cutoff's partition, in one go (no shards)."""
    bundle, version, run_id = load_champion(s)  # fails before anything is written
    future, given = future_values(s, bundle)
    static = static_values(s, bundle)
    plan = ForecastPlan(bundle, version, run_id, [(0, 1)], history.attrs.get("curated_version"), future, given, static)
    frame = forecast_frame(bundle, history, s.tracking.serve_model, future, static)
    return write_forecasts(s, plan, [frame], flow_run_id)


def finite_only(fc: pd.DataFrame, skipped: dict[str, str]) -> pd.DataFrame:
    """``fc`` without the series that hold a non-finite forecast or bound (none should: the last
    guard before the table), each added to ``skipped`` with the columns that held one."""
    cols = [c for c in fc.columns if c.startswith("y_hat")]
    bad = ~np.isfinite(fc[cols].to_numpy(dtype=np.float64))  # (rows, columns)
    if not bad.any():
        return fc
    rows = bad.any(axis=1)
    for uid, g in pd.DataFrame(bad[rows], columns=cols).groupby(fc.loc[rows, "unique_id"].to_numpy()):
        skipped[str(uid)] = "a non-finite forecast value in " + ", ".join(c for c in cols if g[c].any())
    return fc[~fc["unique_id"].isin(list(skipped))].reset_index(drop=True)


def write_forecasts(
    s: Settings, plan: ForecastPlan, parts: list[tuple[pd.DataFrame, dict[str, str]]], flow_run_id: str | None = None
) -> ForecastResult:
    """The shards' forecasts + lineage -> one atomic write of the cutoff's partition."""
    storage = Storage(s.storage.root)
    frames = [finite_only(f, sk) for f, sk in parts if not f.empty]
    frames = [f for f in frames if not f.empty]
    reasons = dict(sorted((i, why) for _, sk in parts for i, why in sk.items()))
    skipped = list(reasons)
    if not frames:
        why = "; ".join(f"{n} {r}" for r, n in pd.Series(reasons, dtype=object).value_counts().items())
        raise ValueError(f"no series could be forecast ({len(skipped)} skipped: {why})")
    fc = pd.concat(frames, ignore_index=True).sort_values(["unique_id", "ds"], kind="stable", ignore_index=True)
    cutoff = pd.Timestamp(fc["cutoff"].max())
    version, run_id = plan.version, plan.run_id
    fc["model_name"] = s.tracking.model_name
    fc["model_version"] = version
    fc["mlflow_run_id"] = run_id
    fc["flow_run_id"] = flow_run_id or ""
    fc["curated_version"] = pd.array([plan.curated_version] * len(fc), dtype="Int64")  # null: not read from the table
    fc["created_at"] = pd.Timestamp(datetime.now(timezone.utc)).tz_localize(None)
    partition = partition_value(cutoff)
    table_version = tables.replace_partition(storage, FORECASTS, fc, partition)  # one commit, whole or nothing
    return ForecastResult(
        path=storage.uri(f"{FORECASTS}/{tables.PARTITION}={partition}"),
        table_version=table_version,
        rows=len(fc),
        series=int(fc["unique_id"].nunique()),
        cutoff=str(cutoff.date()) if cutoff == cutoff.normalize() else str(cutoff),
        model_version=version,
        mlflow_run_id=run_id,
        curated_version=plan.curated_version,
        skipped_series=skipped,
        skipped_reasons=reasons,
        series_per_model={str(k): int(v) for k, v in fc.drop_duplicates("unique_id")["model"].value_counts().items()},
        model_uri_ui=model_page(s, version),
        future_input=plan.future_input,
    )


def load_and_score(s: Settings) -> ScoreSummary:
    """Score earlier forecasts (the first forecast of a storage reads nothing); fails when there is
    no curated data at all."""
    storage = Storage(s.storage.root)
    if not Curated(storage).size()[0]:
        raise FileNotFoundError(f"no curated data under {storage.uri('curated')}: run ingest first")
    if not tables.exists(storage, FORECASTS):
        return ScoreSummary()
    return score_stage(s)


def score_stage(s: Settings) -> ScoreSummary:
    """Score earlier forecasts against the actuals ingested since; flag a degrading champion."""
    scores = score_forecasts(Storage(s.storage.root), s.data.season_length)
    if scores.empty:
        return ScoreSummary()
    champion = champion_version(s)
    logged = log_scores(s, scores)
    return ScoreSummary(
        scores=scores.astype({"cutoff": str, "scored_at": str}).to_dict("records"),
        degraded=champion is not None and degraded(scores, champion, s.monitor.mase_threshold, s.monitor.patience),
        champion_version=champion,
        logged_to_mlflow=logged,
    )


def transient(task, task_run, state) -> bool:
    """Retry I/O failures (storage, tracking server), not the ones a retry cannot fix."""
    exc = state.result(raise_on_failure=False)
    return not isinstance(exc, (NoChampionError, FileNotFoundError, ValueError, RuntimeError))


@task(
    name="load-and-score",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=[1, 5, 15],
    retry_condition_fn=transient,
)
def load_and_score_task(s: Settings) -> ScoreSummary:
    return load_and_score(s)


@task(
    name="load-champion", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[1, 5, 15], retry_condition_fn=transient
)
def plan_task(s: Settings) -> ForecastPlan:
    return plan_forecast(s)


@task(
    name="forecast-shard",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=[1, 5, 15],
    retry_condition_fn=transient,
)
def forecast_shard_task(shard: tuple[int, int], s: Settings, plan: ForecastPlan) -> tuple[pd.DataFrame, list[str]]:
    return forecast_shard(s, plan, shard)


@task(
    name="write-forecast-partition",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=[1, 5, 15],
    retry_condition_fn=transient,
)
def write_forecasts_task(
    s: Settings, plan: ForecastPlan, parts: list[tuple[pd.DataFrame, list[str]]], flow_run_id: str | None
) -> ForecastResult:
    return write_forecasts(s, plan, parts, flow_run_id)
