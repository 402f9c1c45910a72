"""Isolated outliers of one history: points far from a robust fit of their neighbours.

A data-entry error (one month typed 50x too large, a meter's glitch) would otherwise be learnt by a
statistical model as part of its level or of its seasonal term and come back in every forecast of
that season. The fit is a centred running median over one season (at least ``MIN_WINDOW`` points)
plus the median of the rest at each position of the season; a point is an outlier when it lies
more than ``THRESHOLD`` robust standard deviations (1.4826 x the median absolute deviation) of the
residuals away from that fit. The worst point of each window is replaced first and the rest judged
again (a large outlier also moves its neighbours' running medians). Only points with a whole
window on both sides are judged: at the end of a history a new level and an error cannot be told
apart, so the newest half season is kept as it is. A running median follows any change that lasts
half a window, so a level shift is never flagged.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from lstm_model.windows import PackedSeries

THRESHOLD = 20.0  # robust standard deviations; no development series (any history of 24 points or more) exceeds 15
MIN_POINTS = 24  # a shorter history has too few residuals for their spread: it is left as it is
MIN_WINDOW = 5  # the running median's shortest window (yearly or non-seasonal data)
MIN_SEASONS = 3  # the seasonal term needs this many seasons, else the fit is the running median alone
MAX_PASSES = 10  # each pass replaces the worst point of every window, then judges again


def window(season: int) -> int:
    """The running median's odd window: one season, at least MIN_WINDOW points."""
    w = max(int(season), MIN_WINDOW)
    return w + 1 - w % 2


def robust_residuals(y: np.ndarray, season: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit (N,), residuals in robust standard deviations (N,)) of a history y (N,) without missing
    values, at least one window long. The fit is the running median of each point's neighbours plus
    the seasonal term; a point's residual is the smaller of its distances to that fit and to the
    fit whose median takes the point in (at a level shift the point sides with its own level).
    Only points with a whole window on both sides are judged (the others get residual 0 and fit y);
    residuals are all zero when their spread is zero (a flat or mostly constant history)."""
    n = y.size
    y = y.astype(np.float64)
    w = window(season)
    half = w // 2
    inner = slice(half, n - half)
    around = np.lib.stride_tricks.sliding_window_view(y, w).copy()  # (N - w + 1, w) each point's window
    with_point = np.median(around, axis=1)  # (N - w + 1,)
    around[:, half] = np.nan  # without the point itself, which a median of a trend often equals
    fit = y.copy()
    fit[inner] = np.nanmedian(around, axis=1)  # the running median of the neighbours
    seasonal = np.zeros(n - 2 * half)
    m = int(season)
    if m > 1 and n >= MIN_SEASONS * m:  # the median rest at each position of the season
        rest = np.full((-(-n // m)) * m, np.nan)  # (seasons * m,)
        rest[inner] = (y - fit)[inner]
        seasonal = np.nanmedian(rest.reshape(-1, m), axis=0)[np.arange(half, n - half) % m]
    fit[inner] += seasonal
    r = (y - fit)[inner]  # (N - w + 1,)
    spread = 1.4826 * np.median(np.abs(r - np.median(r))) if r.size else 0.0
    z = np.zeros(n)
    if spread > 1e-9 * max(float(np.abs(y).max()), 1e-300):
        r_with = y[inner] - with_point - seasonal
        z[inner] = np.where(np.abs(r) < np.abs(r_with), r, r_with) / spread
    return fit, z


def clean(y: np.ndarray, season: int, threshold: float = THRESHOLD) -> tuple[np.ndarray, np.ndarray]:
    """(a copy of y (N,) with its isolated outliers replaced by the robust fit, the mask (N,) of the
    replaced points). Missing points (NaN) stay missing; they are judged through the value before
    them. Histories shorter than two windows or MIN_POINTS come back unchanged."""
    y = np.asarray(y, dtype=np.float64)
    finite = np.isfinite(y)
    if y.size < max(2 * window(season), MIN_POINTS) or not finite.any():
        return y.copy(), np.zeros(y.size, dtype=bool)
    last = np.maximum.accumulate(np.where(finite, np.arange(y.size), -1))  # (N,) the last observed point
    filled = y[np.where(last >= 0, last, np.argmax(finite))]  # carried forward, the first one back
    flagged = np.zeros(y.size, dtype=bool)
    half = window(season) // 2
    for _ in range(MAX_PASSES):  # the worst point of each stretch first: its neighbours' fit leaned on it
        fit, z = robust_residuals(filled, season)
        strength = np.where((np.abs(z) > threshold) & finite & ~flagged, np.abs(z), 0.0)  # (N,)
        if not strength.any():
            break
        padded = np.pad(strength, half)
        worst = strength > 0
        worst &= strength >= np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1).max(axis=1)
        filled[worst] = fit[worst]
        flagged |= worst
    out = y.copy()
    out[flagged] = filled[flagged]
    return out, flagged


def clean_parts(values: np.ndarray, offsets: np.ndarray, ends: np.ndarray, season: np.ndarray) -> np.ndarray:
    """A copy of packed ``values`` (N,) in which each series' part before ``ends`` (S,) (positions)
    is cleaned on that part alone (:func:`clean`, season (S,)); the points after it as they are."""
    out = values.astype(np.float64, copy=True)
    for o, e, m in zip(offsets.tolist(), ends.tolist(), season.tolist()):
        out[o : o + e] = clean(values[o : o + e], int(m))[0]
    return out


def without(packed: PackedSeries, ends: np.ndarray, season: np.ndarray, most: int | None) -> PackedSeries:
    """``packed`` with each series' part before ``ends`` (S,) cleaned on itself (season (S,)), when
    it holds at most ``most`` series (None: never; above it no per-series work is done)."""
    if most is None or packed.n_series > most:
        return packed
    return replace(packed, values=clean_parts(packed.values, packed.offsets, ends, season))
