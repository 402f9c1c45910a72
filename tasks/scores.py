"""Closed loop: score earlier forecasts once their actuals have been ingested.

``storage/scores/scores.parquet`` keeps one row per (cutoff, model_version): how many forecast
points have actuals so far, MAE and MASE (scaled by each series' in-sample seasonal naive error
before the cutoff). Rows are replaced as more actuals arrive; the file is rewritten atomically.
"""
from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from lstm_model.baselines import seasonal_scale_at
from tasks.prepare import prepare, season_length
from tasks.storage import Storage

SCORES = "scores/scores.parquet"
KEY = ["cutoff", "model_version"]


def read_forecasts(storage: Storage) -> pd.DataFrame:
    files = storage.glob("forecasts/cutoff_date=*/forecasts.parquet")
    frames = []
    for path in files:
        with storage.fs.open(path, "rb") as f:
            frames.append(pd.read_parquet(f, columns=["unique_id", "ds", "y_hat", "cutoff", "model_version"]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def score_forecasts(storage: Storage, history: pd.DataFrame, season: int | None = None) -> pd.DataFrame:
    """Score every stored forecast against the actuals in ``history``; returns (and stores) the
    table of scores, one row per (cutoff, model_version) with at least one actual."""
    fc = read_forecasts(storage)
    old = storage.read_parquet(SCORES)
    if fc.empty:
        return old if old is not None else pd.DataFrame()
    joined = fc.merge(history[["unique_id", "ds", "y"]], on=["unique_id", "ds"], how="inner")
    joined = joined[np.isfinite(joined["y"].to_numpy(dtype=float))]
    if joined.empty:
        return old if old is not None else pd.DataFrame()
    prep = prepare(history)
    m = season_length(prep.freq, season)
    # MASE scale of each (series, cutoff): history strictly up to and including the cutoff
    points = pd.DataFrame({"unique_id": np.repeat(prep.ids, prep.packed.lengths), "cutoff": prep.ds,
                           "series": prep.packed.series_of_point(), "origin": prep.packed.position() + 1})
    pairs = joined[["unique_id", "cutoff"]].drop_duplicates().merge(points, on=["unique_id", "cutoff"])
    pairs["scale"] = seasonal_scale_at(prep.packed, pairs["series"].to_numpy(), pairs["origin"].to_numpy(), m)
    joined = joined.merge(pairs, on=["unique_id", "cutoff"])
    joined["abs_err"] = (joined["y"] - joined["y_hat"]).abs()
    joined["scaled_err"] = joined["abs_err"] / joined["scale"]
    new = joined.groupby(KEY, as_index=False).agg(points=("abs_err", "size"), series=("unique_id", "nunique"),
                                                  mae=("abs_err", "mean"), mase=("scaled_err", "mean"))
    new["scored_at"] = pd.Timestamp(datetime.now(timezone.utc)).tz_localize(None)
    table = new if old is None else pd.concat([old, new]).drop_duplicates(KEY, keep="last")
    table = table.sort_values(KEY).reset_index(drop=True)
    storage.write_parquet(SCORES, table)
    return table


def degraded(scores: pd.DataFrame, version: str, threshold: float, patience: int) -> bool:
    """True when ``version``'s realised MASE exceeded ``threshold`` on its last ``patience`` cutoffs."""
    if scores.empty:
        return False
    mine = scores[scores["model_version"] == version].sort_values("cutoff")
    return len(mine) >= patience and bool((mine["mase"].tail(patience) > threshold).all())
