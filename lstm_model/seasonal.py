"""Seasonal indices of packed series: the classical decomposition, as the Theta method deseasonalises.

A series whose autocorrelation at its season lag ``m`` is significant (90 %, Bartlett's bound: the
seasonality test of the M3/M4 Theta benchmarks) gets ``m`` additive indices: the weighted mean, at
each position of the season, of the series minus its centred moving average over one season (2 x m
when ``m`` is even), centred to sum to zero. The weights halve every ``HALF_LIFE`` seasons back from
the series' latest estimable point, so a seasonal pattern that drifts is followed as Holt-Winters'
smoothed indices follow it (measured on the development sets: AirPassengers' LSTM MASE 0.41 / 0.37
on two seeds against 0.50 / 0.49 with every season weighing the same). On logged values they are multiplicative. A series with
fewer than ``MIN_SEASONS`` seasons of observed points, a constant one, one with no significant
autocorrelation, or with a position of its season never observed gets zeros (nothing removed).
The values are the scaled ones (standard deviations of the training part), each detrended point
winsorised at :func:`clip_at`: a value typed 50x too large shifts its position's index by a few
hundredths of that, not by all of it, where its series' scaling (fitted on a part with its outliers
replaced) holds it at hundreds of standard deviations. Positions count from each series' first
point; missing points (NaN) are left out of every sum.
"""

from __future__ import annotations

import numpy as np

MIN_SEASONS = 3  # seasons of observed history needed to estimate the indices and to test them
Z_90 = 1.645  # one-sided 90 %, as the Theta benchmark's test
HALF_LIFE = 2.0  # seasons: a season's weight in the indices halves with every two seasons of age
CLIP = 2.0  # a detrended point counts at most CLIP x sqrt(m) (at least MIN_CLIP) standard deviations
MIN_CLIP = 8.0  # ... of the series: a season whose one peak is the whole pattern reaches sqrt(m - 1); no
# development series (any history of 3 seasons and 24 points or more) exceeds 5.9


def positions(series_of_point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N,) index of each point inside its series and (N,) its series' length, for points grouped
    contiguously by series (a packed dataset)."""
    N = series_of_point.shape[0]
    new = np.ones(N, dtype=bool)
    new[1:] = series_of_point[1:] != series_of_point[:-1]
    starts = np.flatnonzero(new)  # (S',) first point of each run
    run = np.cumsum(new) - 1  # (N,) which run each point is in
    lengths = np.diff(np.append(starts, N))  # (S',)
    return np.arange(N) - starts[run], lengths[run]


def indices(values: np.ndarray, series_of_point: np.ndarray, season: np.ndarray) -> np.ndarray:
    """values (N,) packed (NaN = missing or left out), series_of_point (N,), season (S,) ->
    (S, max season) additive indices: row s, column k applies to the points of series s at
    positions k, k + m, ...; zeros past m and for series found not seasonal."""
    S = season.shape[0]
    out = np.zeros((S, max(int(season.max(initial=1)), 1)))
    pos, length = positions(series_of_point)
    for m in np.unique(season[season >= 2]).tolist():
        v = np.where(season[series_of_point] == m, values, np.nan)  # (N,) only the series of this season
        idx, ok = _indices_of_season(v, series_of_point, pos, length, int(m), S)
        out[ok, :m] = idx[ok]
    return out


def _indices_of_season(
    v: np.ndarray, sid: np.ndarray, pos: np.ndarray, length: np.ndarray, m: int, S: int
) -> tuple[np.ndarray, np.ndarray]:
    """(S, m) indices and (S,) which series are seasonal, for the series whose points are finite in ``v``."""
    seasonal = _significant(v, sid, pos, m, S)  # (S,)
    ok = np.isfinite(v)
    filled = np.where(ok, v, 0.0)
    csum = np.concatenate([[0.0], np.cumsum(filled)])  # (N + 1,)
    ccnt = np.concatenate([[0], np.cumsum(ok)])
    half = m // 2
    inner = np.flatnonzero(ok & (pos >= half) & (pos < length - half))  # a whole season around the point
    lo, hi = inner - half, inner + half + 1  # [lo, hi): m points (m + 1 when m is even) centred on the point
    total = csum[hi] - csum[lo]
    if m % 2 == 0:  # the 2 x m average: the two end points weigh one half
        total -= 0.5 * (filled[lo] + filled[hi - 1])
    full = ccnt[hi] - ccnt[lo] == hi - lo  # no missing point in the window
    inner, detrended = inner[full], v[inner[full]] - total[full] / m  # (K,)
    detrended = np.clip(detrended, -clip_at(m), clip_at(m))  # an outlier moves its index by little
    key = sid[inner] * m + pos[inner] % m
    last = np.full(S, -1, dtype=np.int64)
    np.maximum.at(last, sid[inner], pos[inner])  # (S,) each series' latest detrended point
    weight = 0.5 ** ((last[sid[inner]] - pos[inner]) / (m * HALF_LIFE))  # (K,) recent seasons weigh more
    sums = np.bincount(key, weights=detrended * weight, minlength=S * m).reshape(S, m)
    counts = np.bincount(key, minlength=S * m).reshape(S, m)
    weights = np.bincount(key, weights=weight, minlength=S * m).reshape(S, m)
    idx = sums / np.where(weights > 0, weights, 1.0)
    idx -= idx.mean(axis=1, keepdims=True)
    return idx, seasonal & (counts > 0).all(axis=1)


def clip_at(m: int) -> float:
    """The largest detrended value (in the series' standard deviations) an index takes in at season m."""
    return max(CLIP * float(np.sqrt(m)), MIN_CLIP)


def _significant(v: np.ndarray, sid: np.ndarray, pos: np.ndarray, m: int, S: int) -> np.ndarray:
    """(S,) the autocorrelation at lag m exceeds Z_90 x sqrt((1 + 2 sum_{k<m} r_k^2) / n)."""
    ok = np.isfinite(v)
    n = np.bincount(sid, weights=ok.astype(np.float64), minlength=S)  # (S,) observed points
    mean = np.bincount(sid, weights=np.where(ok, v, 0.0), minlength=S) / np.maximum(n, 1)
    d = np.clip(np.where(ok, v - mean[sid], 0.0), -clip_at(m), clip_at(m))  # (N,) deviations, 0 where missing
    denom = np.bincount(sid, weights=d * d, minlength=S)  # (S,)
    r = np.zeros((m, S))  # r[k - 1]: autocorrelation at lag k
    for k in range(1, m + 1):  # m passes over the points
        same = pos[k:] >= k  # point i and i - k belong to the same series
        r[k - 1] = np.bincount(sid[k:], weights=np.where(same, d[k:] * d[:-k], 0.0), minlength=S)
    r /= np.where(denom > 0, denom, 1.0)
    bound = Z_90 * np.sqrt((1.0 + 2.0 * np.sum(r[: m - 1] ** 2, axis=0)) / np.maximum(n, 1))
    return (n >= MIN_SEASONS * m) & (denom > 0) & (np.abs(r[m - 1]) > bound)
