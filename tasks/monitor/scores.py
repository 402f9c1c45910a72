"""Closed loop: score earlier forecasts once their actuals have been ingested.

``storage/scores`` (a Delta table) keeps one row per (cutoff, model_version): how many forecast
points have actuals so far, MAE and MASE (scaled by each series' in-sample seasonal naive error
before the cutoff). Rows are replaced as more actuals arrive; the file is rewritten atomically.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lstm_model.baselines import seasonal_scale_at
from tasks.adapters import tables
from tasks.adapters.curated import Curated, read_curated, sort_rows
from tasks.adapters.storage import Storage
from tasks.series.frequency import seasons
from tasks.series.prepare import prepare

SCORES = "scores"  # the Delta table of realised accuracy, replaced whole (one commit) at each scoring
FORECASTS = "forecasts"  # the Delta table of forecasts, partitioned by cutoff date
KEY = ["cutoff", "model_version"]


FORECAST_COLUMNS = ["unique_id", "ds", "y_hat", "cutoff", "model_version", "mase_scale"]


def read_forecasts(storage: Storage) -> pd.DataFrame:
    """Every stored forecast: unique_id, ds, y_hat, cutoff, model_version and mase_scale (the
    series' in-sample seasonal naive MAE up to the cutoff, written with the forecast; missing on
    rows written before forecasts carried it: ``_legacy``)."""
    frame = tables.read(storage, FORECASTS, FORECAST_COLUMNS)
    if frame.empty:
        return frame
    if "mase_scale" not in frame:
        frame["mase_scale"] = np.nan
    frame["_legacy"] = frame["mase_scale"].isna()
    frame["unique_id"] = frame["unique_id"].astype(str)
    frame["ds"] = frame["ds"].astype("datetime64[ns]")
    frame["cutoff"] = frame["cutoff"].astype("datetime64[ns]")
    return frame


def read_actuals(storage: Storage, since: pd.Timestamp) -> pd.DataFrame:
    """unique_id, ds, y of the curated rows at or after ``since``: the time filter is pushed down to
    the table's files, so a scoring run reads only the recent ones."""
    t = Curated(storage).read_table(
        columns=["unique_id", "ds", "y"], where=pc.field("ds") >= pa.scalar(since.as_unit("us"), pa.timestamp("us"))
    )
    if t is None:
        return pd.DataFrame(columns=["unique_id", "ds", "y"])
    df = sort_rows(t).to_pandas()
    df["unique_id"] = df["unique_id"].astype(str)
    df["ds"] = df["ds"].astype("datetime64[ns]")
    return df


def score_forecasts(storage: Storage, season: int | None = None) -> pd.DataFrame:
    """Score every stored forecast against the actuals ingested since; returns (and stores) the
    table of scores, one row per (cutoff, model_version) with at least one actual."""
    fc = read_forecasts(storage)
    old = tables.read(storage, SCORES)
    old = None if old.empty else old.astype({"cutoff": "datetime64[ns]", "scored_at": "datetime64[ns]"})
    if fc.empty:
        return old if old is not None else pd.DataFrame()
    joined = fc.merge(read_actuals(storage, pd.Timestamp(fc["ds"].min())), on=["unique_id", "ds"], how="inner")
    joined = joined[np.isfinite(joined["y"].to_numpy(dtype=float))]
    if joined.empty:
        return old if old is not None else pd.DataFrame()
    if joined["_legacy"].any():  # forecasts stored without their scale: computed from the whole history
        legacy = joined[joined["_legacy"]].drop(columns="mase_scale", errors="ignore")
        legacy = legacy.merge(_mase_scales(read_curated(storage.url), legacy, season), on=["unique_id", "cutoff"])
        joined = pd.concat([joined[~joined["_legacy"]], legacy], ignore_index=True)
    joined["abs_err"] = (joined["y"] - joined["y_hat"]).abs()
    # a constant history has no seasonal naive error: its MASE is undefined (NaN, as in the
    # backtest), never inf, and leaves the mean over the other series
    joined["scaled_err"] = joined["abs_err"] / joined["mase_scale"].where(joined["mase_scale"] > 0)
    new = joined.groupby(KEY, as_index=False).agg(
        points=("abs_err", "size"),
        series=("unique_id", "nunique"),
        mae=("abs_err", "mean"),
        mase=("scaled_err", "mean"),
    )
    new["scored_at"] = pd.Timestamp(datetime.now(timezone.utc)).tz_localize(None)
    table = new if old is None else pd.concat([old, new]).drop_duplicates(KEY, keep="last")
    table = table.sort_values(KEY).reset_index(drop=True)
    tables.overwrite(storage, SCORES, table)
    return table


def _mase_scales(history: pd.DataFrame, joined: pd.DataFrame, season: int | None) -> pd.DataFrame:
    """unique_id, cutoff, mase_scale: the seasonal naive MAE of each series up to each cutoff,
    from the whole history (for forecasts stored without their scale)."""
    prep = prepare(history)
    m = seasons(prep.freqs, season)  # (S,)
    points = pd.DataFrame(
        {
            "unique_id": np.repeat(prep.ids, prep.packed.lengths),
            "cutoff": prep.ds,
            "series": prep.packed.series_of_point(),
            "origin": prep.packed.position() + 1,
        }
    )
    pairs = joined[["unique_id", "cutoff"]].drop_duplicates().merge(points, on=["unique_id", "cutoff"])
    pairs["mase_scale"] = seasonal_scale_at(
        prep.packed, pairs["series"].to_numpy(), pairs["origin"].to_numpy(), m[pairs["series"].to_numpy()]
    )
    return pairs[["unique_id", "cutoff", "mase_scale"]]


def degraded(scores: pd.DataFrame, version: str, threshold: float, patience: int) -> bool:
    """True when ``version``'s realised MASE exceeded ``threshold`` on its last ``patience`` cutoffs."""
    if scores.empty:
        return False
    mine = scores[scores["model_version"] == version].sort_values("cutoff")
    return len(mine) >= patience and bool((mine["mase"].tail(patience) > threshold).all())
