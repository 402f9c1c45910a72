"""Baseline forecasts and the MASE scale, vectorised over packed series.

``origin`` (S,) is, per series, the position of the first forecast step (everything before it
is history). Forecasts have shape (S, H).
"""
from __future__ import annotations

import numpy as np

from lstm_model.windows import PackedSeries


def naive(packed: PackedSeries, origin: np.ndarray, horizon: int) -> np.ndarray:
    """Repeat the last observed value: ŷ_{T+h} = y_T."""
    last = packed.values[packed.offsets + origin - 1]  # (S,)
    return np.repeat(last[:, None], horizon, axis=1)  # (S, H)


def seasonal_naive(packed: PackedSeries, origin: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Repeat the last observed season: ŷ_{T+h} = y_{T+h-m·ceil(h/m)}; naive where history < m."""
    h = np.arange(horizon)  # (H,)
    back = season - (h % season)  # (H,) steps back from the origin
    pos = origin[:, None] - back[None, :]  # (S, H)
    pos = np.where(pos >= 0, pos, origin[:, None] - 1)
    return packed.values[packed.offsets[:, None] + pos]  # (S, H)


def seasonal_scale(packed: PackedSeries, origin: np.ndarray, season: int) -> np.ndarray:
    """(S,) in-sample MAE of the seasonal naive forecast over positions < origin (the MASE scale).
    Falls back to the naive (lag 1) error for series shorter than one season + 1."""
    sid = packed.series_of_point()
    pos = packed.position()
    out = np.full(packed.n_series, np.nan)
    for lag in (season, 1):  # fixed two lags, not a loop over data
        ok = (pos >= lag) & (pos < origin[sid])
        idx = np.nonzero(ok)[0]
        err = np.abs(packed.values[idx] - packed.values[idx - lag])
        idx, err = idx[np.isfinite(err)], err[np.isfinite(err)]  # pairs touching a missing point
        n = np.bincount(sid[idx], minlength=packed.n_series)
        s = np.bincount(sid[idx], weights=err, minlength=packed.n_series)
        with np.errstate(divide="ignore", invalid="ignore"):
            fill = np.isnan(out) & (n > 0)
            out[fill] = (s / n)[fill]
    return out
