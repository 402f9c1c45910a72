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
    *,
    nonnegative: bool,
) -> tuple[dict[int, np.ndarray], dict[str, list[float]]]:
    """Conformal half-widths (MASE-scaled, per step) of the LSTM: calibrated on every validation
    point at every horizon step, their coverage measured the same way on the test part (into
    ``agg``), interval columns added to ``frame`` (the LSTM's test forecasts ``y_hat`` (M, H) and
    their MASE scales ``scale`` (M,), in the frame's row order); returns the widths calibrated on
    validation (level -> (H,)) and on both parts (the bundle's). Levels: :data:`LEVELS` and those of
    ``quantiles``, whose test coverage (the share of actuals at or below each quantile) goes into
    ``agg`` as ``quantile_coverage_q<NN>``. ``nonnegative``: the forecasts and bounds of a series
    never below zero before the origin are floored at zero, as served."""
    levels = backtest.levels_for(quantiles)
    cal_r, cal_ok, _ = _scaled_residuals(lstm, packed, val0, test0, H, L, season, nonnegative=nonnegative)
    q_val = backtest.conformal_quantiles(cal_r, cal_ok, levels)
    scale = scale[:, None]  # (M, 1)
    for level, q in q_val.items():
        frame[f"lstm_lo_{level}"] = (y_hat - q * scale).reshape(-1)
        frame[f"lstm_hi_{level}"] = (y_hat + q * scale).reshape(-1)
    sample = _sample_series(packed.n_series, int((packed.lengths - test0).max()) + H - 1)
    test_r, test_ok, low = _scaled_residuals(lstm, packed, test0, packed.lengths, H, L, season, sample, nonnegative)
    agg["coverage_points"] = float(test_ok.sum())
    for level, q in q_val.items():  # in residual units the interval is [-q, q], its floor at ``low``
        half = np.broadcast_to(q[None, :], test_r.shape)  # (M, H)
        agg[f"coverage_{level}"] = backtest.coverage(np.where(test_ok, test_r, np.nan), np.maximum(-half, low), half)
    for qu in quantiles:  # the q quantile is y_hat - q_level below the median, y_hat + q_level above
        level = backtest.quantile_level(qu)
        bound = np.zeros(H) if level == 0 else q_val[level] * (1.0 if qu > 0.5 else -1.0)  # (H,) residual units
        below = test_ok & (test_r <= np.maximum(bound[None, :], low))  # (M, H)
        agg[f"quantile_coverage_{backtest.quantile_name(qu)}"] = float(below.sum() / max(test_ok.sum(), 1))
    q_all = backtest.conformal_quantiles(np.concatenate([cal_r, test_r]), np.concatenate([cal_ok, test_ok]), levels)
    return q_val, {str(k): [float(x) for x in v] for k, v in q_all.items()}


def coverage_of(
    y: np.ndarray, point: np.ndarray, bands: dict[str, np.ndarray], quantiles: tuple[float, ...], name: str
) -> dict[str, float]:
    """``{name}_coverage_<level>`` (the share of actuals y (M, H) inside each interval of ``bands``,
    band -> (M, H)), ``{name}_quantile_coverage_q<NN>`` (the share at or below each quantile; the
    median is ``point``, the served median) and ``{name}_coverage_points``, over the observed actuals."""
    ok = np.isfinite(y)
    n = int(ok.sum())
    out = {f"{name}_coverage_points": float(n)}
    for level in sorted({int(k.split("_")[1]) for k in bands}):
        out[f"{name}_coverage_{level}"] = backtest.coverage(y, bands[f"lo_{level}"], bands[f"hi_{level}"])
    for q in quantiles:
        band = backtest.quantile_band(q)
        value = bands[band] if band else point
        out[f"{name}_quantile_coverage_{backtest.quantile_name(q)}"] = (
            float((ok & (y <= value)).sum() / n) if n else float("nan")
        )
    return out


MAX_COVERAGE_PAIRS = 1 << 18  # the coverage of very many series is measured on a sample of them


def _sample_series(n_series: int, per_series: int) -> np.ndarray:
    """All series, or a fixed random sample of them when all would exceed MAX_COVERAGE_PAIRS pairs."""
    return fixed_sample(n_series, max(1, MAX_COVERAGE_PAIRS // max(per_series, 1)))


def fixed_sample(n: int, keep: int) -> np.ndarray:
    """All of range(n), or the same random ``keep`` of them on every call, in order."""
    if n <= keep:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, keep, replace=False))


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
    nonnegative: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MASE-scaled residuals (M, H) of the forecasts of every point of [start, stop) at every
    horizon step (see ``_target_pairs``), the mask (M, H) of those whose actual and inputs are all
    observed, and (M, H) the residual of a bound at zero where the forecast is floored
    (``nonnegative``: the forecast -y_hat / scale, else -inf): a floored bound b is max(b, that)."""
    ids = np.arange(packed.n_series) if series_ids is None else series_ids
    series, origin, ok = _target_pairs(start, stop, H, L, ids)
    if not series.size:
        return np.zeros((0, H)), np.zeros((0, H), bool), np.zeros((0, H))
    pos = np.minimum(origin[:, None] + np.arange(H)[None, :], packed.lengths[series, None] - 1)  # (M, H)
    y = np.where(ok, packed.values[packed.offsets[series, None] + pos], np.nan)  # (M, H)
    scale = baselines.seasonal_scale_at(packed, series, origin, per_series(season, packed.n_series)[series])[:, None]
    floor = backtest.never_negative(packed, series, origin) & nonnegative  # (M,)
    y_hat = backtest.floor_at_zero(lstm(series, origin), floor)  # (M, H)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (y - y_hat) / scale  # NaN where the actual or an input point is missing
        low = np.where(floor[:, None], -y_hat / scale, -np.inf)
    return r, ok & np.isfinite(r), low
