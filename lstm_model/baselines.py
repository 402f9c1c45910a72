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


def seasonal_naive(packed: PackedSeries, origin: np.ndarray, horizon: int, season: int | np.ndarray) -> np.ndarray:
    """Repeat the last observed season: ŷ_{T+h} = y_{T+h-m·ceil(h/m)}; naive where history < m.
    ``season``: one for all series or (S,) each series' own."""
    m = np.broadcast_to(np.asarray(season, dtype=np.int64), origin.shape)[:, None]  # (S, 1)
    h = np.arange(horizon)[None, :]  # (1, H)
    back = m - (h % m)  # (S, H) steps back from the origin
    pos = origin[:, None] - back  # (S, H)
    pos = np.where(pos >= 0, pos, origin[:, None] - 1)
    return packed.values[packed.offsets[:, None] + pos]  # (S, H)


def drift(packed: PackedSeries, origin: np.ndarray, horizon: int) -> np.ndarray:
    """Random walk with drift: ŷ_{T+h} = y_T + h·(y_T - y_1)/(T - 1)."""
    last = packed.values[packed.offsets + origin - 1]  # (S,)
    first = packed.values[packed.offsets]
    slope = np.where(origin > 1, (last - first) / np.maximum(origin - 1, 1), 0.0)  # (S,)
    return last[:, None] + slope[:, None] * np.arange(1, horizon + 1)[None, :]  # (S, H)


def seasonal_scale(packed: PackedSeries, origin: np.ndarray, season: int | np.ndarray) -> np.ndarray:
    """(S,) in-sample MAE of the seasonal naive forecast over positions < origin (the MASE scale)."""
    return seasonal_scale_at(packed, np.arange(packed.n_series), origin, season)


def seasonal_scale_at(
    packed: PackedSeries, series: np.ndarray, origin: np.ndarray, season: int | np.ndarray
) -> np.ndarray:
    """The MASE scale for M (series, origin) pairs: mean |y_t - y_{t-m}| over t < origin, missing
    points skipped; the naive (lag 1) error for histories shorter than one season + 1. -> (M,)
    ``season``: one for all pairs or (M,) each pair's own."""
    pos = packed.position()
    m = np.broadcast_to(np.asarray(season, dtype=np.int64), series.shape)  # (M,)
    out = np.full(series.shape[0], np.nan)
    for lag in dict.fromkeys(
        [*np.unique(m).tolist(), 1]
    ):  # each distinct season (a few), then lag 1: not a loop over data
        err = np.zeros(packed.values.shape[0])
        ok = pos >= lag
        idx = np.nonzero(ok)[0]
        e = np.abs(packed.values[idx] - packed.values[idx - lag])
        fin = np.isfinite(e)
        err[idx[fin]] = e[fin]
        cnt = np.zeros(packed.values.shape[0])
        cnt[idx[fin]] = 1.0
        start, stop = packed.offsets[series], packed.offsets[series] + origin  # (M,)
        total, n = _slice_sums(err, start, stop), _slice_sums(cnt, start, stop)
        fill = np.isnan(out) & (n > 0) & ((m == lag) | (lag == 1))
        out[fill] = total[fill] / n[fill]
    return out


def _slice_sums(a: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """sum(a[start_i:stop_i]) for every i, each slice summed on its own (no prefix-sum
    differences, so a large series never costs a small one its precision). -> (M,)"""
    if start.size == 0:
        return np.zeros(0)
    padded = np.append(a, 0.0)  # reduceat needs every index < len
    idx = np.empty(2 * start.size, dtype=np.int64)
    idx[0::2], idx[1::2] = start, stop
    sums = np.add.reduceat(padded, idx)[0::2]  # (M,): a[start:stop] where start < stop
    return np.where(stop > start, sums, 0.0)
