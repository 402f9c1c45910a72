"""Rolling-origin backtest and conformal intervals, batched over (series, origin) pairs.

A forecaster is any ``predict(series (M,), origin (M,)) -> (M, H)``: the LSTM bundle or a
baseline. Origins are positions inside each series: the forecast covers [origin, origin + H).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lstm_model.windows import PackedSeries

Predict = Callable[[np.ndarray, np.ndarray], np.ndarray]


def cutoffs(lengths: np.ndarray, horizon: int, n_windows: int, step: int) -> np.ndarray:
    """(W, S) origins of the last ``n_windows`` forecast windows, ``step`` apart, the last one
    ending at each series' end."""
    back = (n_windows - 1 - np.arange(n_windows)) * step  # (W,)
    return lengths[None, :] - horizon - back[:, None]  # (W, S)


def pairs(origins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W, S) origins -> flat (series (W*S,), origin (W*S,)), cutoff-major."""
    W, S = origins.shape
    return np.tile(np.arange(S), W), origins.reshape(-1)


def actuals(packed: PackedSeries, series: np.ndarray, origin: np.ndarray, horizon: int) -> np.ndarray:
    idx = packed.offsets[series, None] + origin[:, None] + np.arange(horizon)[None, :]  # (M, H)
    return packed.values[idx]


def never_negative(packed: PackedSeries, series: np.ndarray, end: np.ndarray) -> np.ndarray:
    """(M,) whether series ``series`` (M,) has observed values before position ``end`` (M,) and
    none of them is negative: a forecast of such a series is floored at zero (:func:`floor_at_zero`)."""
    v = packed.values
    neg = np.concatenate([[0], np.cumsum(v < 0)])  # (N + 1,) negatives before each point (NaN: not negative)
    seen = np.concatenate([[0], np.cumsum(np.isfinite(v))])  # (N + 1,) observed points before each point
    start, stop = packed.offsets[series], packed.offsets[series] + np.clip(end, 0, packed.lengths[series])
    return (neg[stop] == neg[start]) & (seen[stop] > seen[start])


def floor_at_zero(y_hat: np.ndarray, never_neg: np.ndarray) -> np.ndarray:
    """Forecasts (M, H) with negative values raised to zero on the rows ``never_neg`` (M,): an amount
    never seen below zero (sales, counts, energy) is not forecast below it; NaN stays NaN."""
    return np.where(never_neg[:, None] & (y_hat < 0), 0.0, y_hat)


LEVELS = (80, 95)  # the interval levels (%) every forecast carries


def quantile_level(q: float) -> int:
    """The central interval (%) that ``q`` bounds: q and 1 - q bound the |200 q - 100| % interval
    (0 for the median). Quantiles are multiples of 0.005, so levels are whole percents."""
    return int(round(abs(200.0 * q - 100.0)))


def levels_for(quantiles: tuple[float, ...] = ()) -> tuple[int, ...]:
    """The interval levels a model calibrates: :data:`LEVELS` and those its quantiles need."""
    return tuple(sorted(set(LEVELS) | {quantile_level(q) for q in quantiles} - {0}))


def quantile_band(q: float) -> str:
    """The band whose values are the ``q`` quantile: ``lo_<level>`` below the median, ``hi_<level>``
    above, ``""`` for the median (the point forecast)."""
    level = quantile_level(q)
    return "" if level == 0 else f"{'lo' if q < 0.5 else 'hi'}_{level}"


def quantile_name(q: float) -> str:
    """The column of the ``q`` quantile: q10 for 0.1, q2.5 for 0.025."""
    return f"q{100.0 * q:g}"


def bands_of(levels: tuple[int, ...]) -> tuple[str, ...]:
    """The interval bands of these levels: lo_80, hi_80, lo_95, hi_95, ..."""
    return tuple(f"{side}_{lv}" for lv in levels for side in ("lo", "hi"))


def forecast_columns(meta: dict) -> list[str]:
    """The columns of a model's forecasts: the point, every interval band, every quantile, lineage
    (``meta``: a bundle's metadata; one written before quantiles has the default levels)."""
    bands = [f"y_hat_{band}" for band in bands_of(tuple(meta.get("levels", LEVELS)))]
    quantiles = [f"y_hat_{quantile_name(q)}" for q in meta.get("quantiles", [])]
    return ["unique_id", "ds", "y_hat", *bands, *quantiles, "mase_scale", "cutoff", "model"]


def conformal_quantiles(residuals: np.ndarray, valid: np.ndarray, levels: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Split-conformal half-widths per horizon step from scaled residuals, pooled over the steps.

    residuals, valid: (M, H) -> {level: (H,)}. Each step's absolute residuals are divided by that
    step's mean absolute residual s_h, the normalised scores of all steps form one pool of n, and
    the half-width of step h is s_h times the ceil((n+1)·level/100)-th smallest score (the largest
    when n is too small for that level). Pooling gives H times more scores than a per-step
    quantile, so a short calibration part (12 points per step) no longer pins the 80 % width to
    its second-largest residual; s_h keeps the widths growing with the step. Non-finite residuals
    are left out; a step without valid residuals gets NaN; one whose residuals are all zero, 0."""
    valid = valid & np.isfinite(residuals)
    r = np.where(valid, np.abs(residuals), np.nan)  # (M, H)
    n_h = valid.sum(axis=0)  # (H,)
    s = np.nansum(r, axis=0) / np.maximum(n_h, 1)  # (H,) mean absolute residual per step
    z = np.sort(np.divide(r, s, out=np.zeros_like(r), where=s > 0)[valid])  # (n,) pooled scores
    n = z.size
    out = {}
    for level in levels:
        q = z[min(int(np.ceil((n + 1) * level / 100.0)), n) - 1] if n else np.nan
        out[level] = np.where(n_h > 0, q * s, np.nan)
    return out


MIN_SHIFT_POINTS = 500  # validation points a model must serve before its bands are shifted
MEDIAN = "median"  # the shift of a model's median (its q50), which otherwise is the point forecast


def band_shifts(
    y: np.ndarray,
    bands: dict[str, np.ndarray],
    which: np.ndarray,
    scale: np.ndarray,
    min_points: int | None = None,
    point: np.ndarray | None = None,
) -> dict[str, dict[str, float]]:
    """Split-conformal shifts of the served bands, per serving model, from validation pairs.

    y (M, H) actuals, bands: band -> (M, H) each pair's served bands (lo_<level>, hi_<level>),
    which (M,) the model serving each pair, scale (M,) its MASE scale. A band that is the q quantile
    (q = (1 -+ level / 100) / 2 for lo / hi) moves by the q-quantile of (y - band) / scale over the
    pairs the model serves, so that a share q of those actuals falls at or below it. A model with
    fewer than ``min_points`` observed points gets no shift: on a few points the shift is noise
    (the development sets' pooled q90 coverage fell from 89 % to 77 % when each was shifted on its
    own 8-48 validation points). With the ``point`` forecasts (M, H) the median is shifted too
    (:data:`MEDIAN`, the 0.5-quantile of (y - point) / scale): a model whose point forecasts sit
    above most actuals (the mean of skewed errors) serves a median below them."""
    least = MIN_SHIFT_POINTS if min_points is None else min_points
    targets = dict(bands) | ({MEDIAN: point} if point is not None else {})
    out: dict[str, dict[str, float]] = {}
    for name in sorted(set(which.tolist()) - {""}):
        rows = which == name
        shift = {}
        for key, band in targets.items():
            side, _, level = key.partition("_")
            q = 0.5 if key == MEDIAN else (1.0 + (-1 if side == "lo" else 1) * int(level) / 100.0) / 2.0
            with np.errstate(divide="ignore", invalid="ignore"):
                e = ((y[rows] - band[rows]) / scale[rows, None]).reshape(-1)  # MASE-scaled
            e = e[np.isfinite(e)]
            if e.size < least:
                break
            shift[key] = float(np.quantile(e, q))
        else:
            if shift:
                out[name] = shift
    return out


def shift_bands(
    point: np.ndarray,
    bands: dict[str, np.ndarray],
    which: np.ndarray,
    shifts: dict[str, dict[str, float]],
    scale: np.ndarray,
) -> dict[str, np.ndarray]:
    """The bands (band -> (S, H)) of the rows served by each model of ``shifts`` (which (S,))
    moved by its shifts times the row's MASE scale (S,); then ordered, every lower band at or below
    the ``point`` (S, H) and the lower bands of narrower levels, every upper one likewise above."""
    out = {k: v.copy() for k, v in bands.items()}
    for name, shift in shifts.items():
        rows = which == name
        for key, d in shift.items():
            if key in out:
                out[key][rows] += d * scale[rows, None]
    lo = hi = point
    for level in sorted({int(k.split("_")[1]) for k in out}):  # wider with every level
        out[f"lo_{level}"] = lo = np.minimum(out[f"lo_{level}"], lo)
        out[f"hi_{level}"] = hi = np.maximum(out[f"hi_{level}"], hi)
    return out


def median_of(
    point: np.ndarray,
    bands: dict[str, np.ndarray],
    which: np.ndarray,
    shifts: dict[str, dict[str, float]],
    scale: np.ndarray,
) -> np.ndarray:
    """The served median (S, H): the ``point`` forecast (S, H), on the rows of each model with a
    :data:`MEDIAN` shift moved by it times the row's MASE scale (S,), kept inside the narrowest
    interval of ``bands`` (shifted and ordered already) so that the quantiles stay ordered."""
    med = point.copy()
    for name, shift in shifts.items():
        if MEDIAN in shift:
            rows = which == name
            med[rows] += shift[MEDIAN] * scale[rows, None]
    levels = sorted({int(k.split("_")[1]) for k in bands})
    if levels:  # fmax / fmin: a missing band bounds nothing
        med = np.fmin(np.fmax(med, bands[f"lo_{levels[0]}"]), bands[f"hi_{levels[0]}"])
    return np.where(np.isfinite(point), med, np.nan)


def coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    ok = np.isfinite(y)
    return float(np.mean((y[ok] >= lo[ok]) & (y[ok] <= hi[ok]))) if ok.any() else float("nan")
