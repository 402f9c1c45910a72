"""Conformal intervals of the LSTM: scaled residuals of every point of a part at every horizon
step, the half-widths calibrated on the validation part and their coverage on the test part."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from lstm_model import backtest, baselines
from lstm_model.windows import PackedSeries

Predict = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (series (M,), origin (M,)) -> (M, H)


def per_series(season: int | np.ndarray, n_series: int) -> np.ndarray:
    """(S,) season lengths from one for all or one per series."""
    return np.broadcast_to(np.asarray(season, dtype=np.int64), (n_series,))


def conformal(
    lstm: Predict,
    L: int,
    packed: PackedSeries,
    val0: np.ndarray,
    test0: np.ndarray,
    H: int,
    season: np.ndarray,
    y_hat: np.ndarray,
    scale: np.ndarray,
    frame: pd.DataFrame,
    agg: dict[str, float],
    quantiles: tuple[float, ...] = (),
) -> dict[str, list[float]]:
    """Conformal half-widths (MASE-scaled, per step) of the LSTM: calibrated on every validation
    point at every horizon step, their coverage measured the same way on the test part (into
    ``agg``), interval columns added to ``frame`` (the LSTM's test forecasts ``y_hat`` (M, H) and
    their MASE scales ``scale`` (M,), in the frame's row order); returns the widths calibrated on both parts.
    Levels: :data:`LEVELS` and those of ``quantiles``, whose test coverage (the share of actuals at
    or below each quantile) goes into ``agg`` as ``quantile_coverage_q<NN>``."""
    levels = backtest.levels_for(quantiles)
    cal_r, cal_ok = _scaled_residuals(lstm, packed, val0, test0, H, L, season)
    q_val = backtest.conformal_quantiles(cal_r, cal_ok, levels)
    scale = scale[:, None]  # (M, 1)
    for level, q in q_val.items():
        frame[f"lstm_lo_{level}"] = (y_hat - q * scale).reshape(-1)
        frame[f"lstm_hi_{level}"] = (y_hat + q * scale).reshape(-1)
    sample = _sample_series(packed.n_series, int((packed.lengths - test0).max()) + H - 1)
    test_r, test_ok = _scaled_residuals(lstm, packed, test0, packed.lengths, H, L, season, sample)
    agg["coverage_points"] = float(test_ok.sum())
    for level, q in q_val.items():  # in residual units the interval is [-q, q]
        half = np.broadcast_to(q[None, :], test_r.shape)  # (M, H)
        agg[f"coverage_{level}"] = backtest.coverage(np.where(test_ok, test_r, np.nan), -half, half)
    for qu in quantiles:  # the q quantile is y_hat - q_level below the median, y_hat + q_level above
        level = backtest.quantile_level(qu)
        bound = np.zeros(H) if level == 0 else q_val[level] * (1.0 if qu > 0.5 else -1.0)  # (H,) residual units
        below = test_ok & (test_r <= bound[None, :])  # (M, H)
        agg[f"quantile_coverage_{backtest.quantile_name(qu)}"] = float(below.sum() / max(test_ok.sum(), 1))
    q_all = backtest.conformal_quantiles(np.concatenate([cal_r, test_r]), np.concatenate([cal_ok, test_ok]), levels)
    return {str(k): [float(x) for x in v] for k, v in q_all.items()}


MAX_COVERAGE_PAIRS = 1 << 18  # the coverage of very many series is measured on a sample of them


def _sample_series(n_series: int, per_series: int) -> np.ndarray:
    """All series, or a fixed random sample of them when all would exceed MAX_COVERAGE_PAIRS pairs."""
    keep = max(1, MAX_COVERAGE_PAIRS // max(per_series, 1))
    if n_series <= keep:
        return np.arange(n_series)
    return np.sort(np.random.default_rng(0).choice(n_series, keep, replace=False))


def _target_pairs(
    start: np.ndarray, stop: np.ndarray, H: int, L: int, series_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(series (M,), origin (M,), ok (M, H)) with origin in [start - H + 1, stop - 1] (and >= L):
    for each horizon step, every point of [start, stop) of each series is a target once; ok masks
    targets outside that part. start, stop: (S,) positions."""
    start, stop = start[series_ids], stop[series_ids]
    span = np.arange(-H + 1, max(int((stop - start).max(initial=0)), 0))  # (J,)
    origin = start[None, :] + span[:, None]  # (J, S')
    series = np.broadcast_to(series_ids, origin.shape)
    keep = (origin >= L) & (origin <= stop[None, :] - 1)
    series, origin = series[keep], origin[keep]
    j = np.broadcast_to(np.arange(len(series_ids)), keep.shape)[keep]  # index into start/stop
    pos = origin[:, None] + np.arange(H)[None, :]  # (M, H) target positions
    ok = (pos >= start[j, None]) & (pos < stop[j, None])
    return series.astype(np.int64), origin.astype(np.int64), ok


def _scaled_residuals(
    lstm: Predict,
    packed: PackedSeries,
    start: np.ndarray,
    stop: np.ndarray,
    H: int,
    L: int,
    season: np.ndarray,
    series_ids: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """MASE-scaled residuals (M, H) of the forecasts of every point of [start, stop) at every
    horizon step (see ``_target_pairs``), and the mask (M, H) of those whose actual and inputs
    are all observed."""
    ids = np.arange(packed.n_series) if series_ids is None else series_ids
    series, origin, ok = _target_pairs(start, stop, H, L, ids)
    if not series.size:
        return np.zeros((0, H)), np.zeros((0, H), bool)
    pos = np.minimum(origin[:, None] + np.arange(H)[None, :], packed.lengths[series, None] - 1)  # (M, H)
    y = np.where(ok, packed.values[packed.offsets[series, None] + pos], np.nan)  # (M, H)
    scale = baselines.seasonal_scale_at(packed, series, origin, per_series(season, packed.n_series)[series])[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (y - lstm(series, origin)) / scale  # NaN where the actual or an input point is missing
    return r, ok & np.isfinite(r)
