"""Per-series scaling: statistics / scale / inverse as pure functions over packed series.

A packed dataset keeps every series once in one flat array; ``series_of_point`` (N,) maps
each point to its series. Statistics are fitted on a boolean ``fit_mask`` (the training part
only) and travel with the model as two arrays ``loc`` and ``scale`` of shape (S,).

An optional log transform is applied before scaling, decided per series on the fitted points:
``auto`` logs a series when every one of its fitted values is strictly positive, so a series with
a zero or a negative simply gets no log and the others keep it; ``log`` logs every series (and
refuses a non-positive fitted value); ``none`` logs none. A later value that cannot be logged
(a zero in a logged series) becomes missing, never -inf.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from lstm_model import seasonal as seasonal_indices

TRANSFORMS = ("auto", "log", "none")
SCALERS = ("standard", "minmax")


@dataclass(frozen=True)
class ScalerStats:
    """Per-series statistics (S,) plus the transform setting and scaler name."""

    loc: np.ndarray  # (S,) or (S, C) for covariates
    scale: np.ndarray  # (S,) or (S, C)
    transform: str  # the setting that decided ``log``: "auto" | "log" | "none" (new series follow it)
    scaler: str  # "standard" | "minmax"
    log: np.ndarray | None = None  # (S,) bool: the series is scaled on its logs (None: no series is)
    season: np.ndarray | None = None  # (S,) season lengths whose seasonal indices are removed (None: none)
    seasonal: np.ndarray | None = None  # (S, max season) the indices, scaled units: estimated, never stored

    def __post_init__(self) -> None:
        if self.log is None:
            object.__setattr__(self, "log", np.zeros(self.loc.shape[0], dtype=bool))

    def to_dict(self) -> dict:
        return {
            "loc": self.loc.tolist(),
            "scale": self.scale.tolist(),
            "transform": self.transform,
            "scaler": self.scaler,
            "log": self.log.tolist(),
            **({"season": self.season.tolist()} if self.season is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> ScalerStats:
        loc = np.asarray(d["loc"], dtype=np.float64)
        log = d.get("log")
        return cls(
            loc,
            np.asarray(d["scale"], dtype=np.float64),
            d["transform"],
            d["scaler"],
            np.asarray(log, dtype=bool) if log is not None else np.full(loc.shape[0], d["transform"] == "log"),
            np.asarray(d["season"], dtype=np.int64) if d.get("season") is not None else None,
        )

    def take(self, idx: np.ndarray) -> ScalerStats:
        """Statistics of a subset of series, in the order of ``idx``."""
        return ScalerStats(
            self.loc[idx],
            self.scale[idx],
            self.transform,
            self.scaler,
            self.log[idx],
            None if self.season is None else self.season[idx],
            None if self.seasonal is None else self.seasonal[idx],
        )

    def component(self, series: np.ndarray, position: np.ndarray) -> np.ndarray | float:
        """The seasonal index (scaled units) at ``position`` of each ``series`` (broadcast together);
        0 when the series are not deseasonalised."""
        if self.season is None:
            return 0.0
        if self.seasonal is None:
            raise ValueError("the seasonal indices are not estimated: call with_seasonal on the history first")
        return self.seasonal[series, position % np.maximum(self.season[series], 1)]  # zeros past a season


def resolve_log(transform: str, values: np.ndarray, sid: np.ndarray, n_series: int) -> np.ndarray:
    """(S,) which series are logged, from their fitted ``values`` (M,) grouped by ``sid`` (M,)."""
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
    not_positive = np.bincount(sid, weights=(values <= 0).astype(np.float64), minlength=n_series) > 0  # (S,)
    if transform == "log" and not_positive.any():
        raise ValueError(
            "log transform needs strictly positive values "
            f"({int(not_positive.sum())} series have a zero or a negative); use transform auto"
        )
    if transform == "none":
        return np.zeros(n_series, dtype=bool)
    return ~not_positive


def forward_transform(values: np.ndarray, log: np.ndarray | bool) -> np.ndarray:
    """Log where ``log`` (broadcast against ``values``); a value that cannot be logged becomes NaN."""
    log = np.broadcast_to(log, values.shape)
    if not log.any():
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        logged = np.log(np.where(values > 0, values, np.nan))
    return np.where(log, logged, values)


MAX_LOG = 700.0  # exp(709) is the largest finite float64: a forecast never overflows to inf


def inverse_transform(values: np.ndarray, log: np.ndarray | bool) -> np.ndarray:
    log = np.broadcast_to(log, values.shape)
    if not log.any():
        return values
    return np.where(log, np.exp(np.minimum(values, MAX_LOG)), values)


def fit_stats(
    values: np.ndarray,
    series_of_point: np.ndarray,
    fit_mask: np.ndarray,
    n_series: int,
    transform: str = "auto",
    scaler: str = "standard",
    season: np.ndarray | None = None,
) -> ScalerStats:
    """Fit per-series statistics on the points where ``fit_mask`` is true (no other point is read);
    with ``season`` (S,), also each series' seasonal indices (:func:`with_seasonal`). A series with
    no such observed point (its training part all missing) has no training window: it gets the
    identity (location 0, scale 1, no log, no season), so the others are still fitted."""
    if scaler not in SCALERS:
        raise ValueError(f"scaler must be one of {SCALERS}, got {scaler!r}")
    fit_mask = fit_mask & np.isfinite(values)  # missing points (NaN) never enter the statistics
    fit_values = values[fit_mask]
    sid = series_of_point[fit_mask]
    count = np.bincount(sid, minlength=n_series).astype(np.float64)  # (S,)
    log = resolve_log(transform, fit_values, sid, n_series) & (count > 0)  # (S,) decided on the fitted part only
    v = forward_transform(fit_values, log[sid])
    if scaler == "standard":
        loc, scale = _mean_std(v, sid, n_series)
        scale = np.where(count > 0, scale, 1.0)  # no point: the identity
    else:  # minmax to [-1, 1]
        lo = np.full(n_series, np.inf)
        hi = np.full(n_series, -np.inf)
        np.minimum.at(lo, sid, v)
        np.maximum.at(hi, sid, v)
        lo, hi = np.where(count > 0, lo, -1.0), np.where(count > 0, hi, 1.0)  # no point: the identity
        loc, scale = (hi + lo) / 2.0, (hi - lo) / 2.0
    stats = ScalerStats(loc, _nonzero(scale), transform, scaler, log)
    return stats if season is None else with_seasonal(stats, values, series_of_point, fit_mask, season)


def with_seasonal(
    stats: ScalerStats, values: np.ndarray, series_of_point: np.ndarray, mask: np.ndarray, season: np.ndarray
) -> ScalerStats:
    """``stats`` with each series' seasonal indices for ``season`` (S,) estimated on its scaled
    ``mask`` points (N,) (positions from each series' first point of ``values``); the network reads
    the scaled series minus its indices, the forecasts get them back."""
    plain = replace(stats, season=None, seasonal=None)
    v = np.where(mask, scale(values, series_of_point, plain), np.nan)  # (N,)
    season = np.asarray(season, dtype=np.int64)
    return replace(stats, season=season, seasonal=seasonal_indices.indices(v, series_of_point, season))


def _mean_std(v: np.ndarray, sid: np.ndarray, n_series: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-series mean and standard deviation of ``v`` (M,) grouped by ``sid`` (M,) -> (S,), (S,);
    a series with no point gets mean 0 and deviation 0."""
    count = np.maximum(np.bincount(sid, minlength=n_series), 1).astype(np.float64)  # (S,)
    loc = np.bincount(sid, weights=v, minlength=n_series) / count
    return loc, np.sqrt(np.bincount(sid, weights=(v - loc[sid]) ** 2, minlength=n_series) / count)


def shared_columns(n_covariates: int, n_future: int, cardinalities: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """(pooled, codes) of :func:`fit_covariate_stats` for a network's covariates: the static and
    future-known ones (the last) pooled over all series, the categorical static ones as codes."""
    first = n_covariates - n_future - len(cardinalities)
    return n_future + len(cardinalities), tuple(first + k for k, c in enumerate(cardinalities) if c)


def _nonzero(scale: np.ndarray) -> np.ndarray:
    return np.where(scale > 1e-12, scale, 1.0)  # constant series: shift only


def scale(values: np.ndarray, series_of_point: np.ndarray, stats: ScalerStats) -> np.ndarray:
    log = stats.log[series_of_point]
    v = forward_transform(values, log if values.ndim == 1 else log[:, None])
    return (v - stats.loc[series_of_point]) / stats.scale[series_of_point]


def inverse(scaled: np.ndarray, series_idx: np.ndarray, stats: ScalerStats) -> np.ndarray:
    """Inverse of :func:`scale`; ``series_idx`` broadcasts against ``scaled`` (e.g. (S, 1) vs (S, H))."""
    return inverse_transform(scaled * stats.scale[series_idx] + stats.loc[series_idx], stats.log[series_idx])


def fit_covariate_stats(
    covariates: np.ndarray,
    series_of_point: np.ndarray,
    fit_mask: np.ndarray,
    n_series: int,
    pooled: int = 0,
    codes: tuple[int, ...] = (),
) -> ScalerStats:
    """Per-series standard statistics of each covariate column: (N, C) -> loc, scale (S, C); the
    last ``pooled`` columns (the future-known ones: a promotion or a holiday means the same for
    every series, a new series included) get one mean and deviation over all series.

    Covariates are never log-transformed; a series with no finite value of a column in its
    training part gets loc 0 and scale 1 for that column, and so do the ``codes`` columns (the
    codes of a categorical, which an embedding reads as they are)."""
    cols = []
    C = covariates.shape[1]
    for c in range(C):  # a few columns, each fitted over all series at once
        ok = fit_mask & np.isfinite(covariates[:, c])
        if c in codes:
            cols.append((np.zeros(n_series), np.ones(n_series)))
        elif c >= C - pooled:
            loc, sd = _mean_std(covariates[ok, c], np.zeros(int(ok.sum()), np.int64), 1)
            cols.append((np.repeat(loc, n_series), np.repeat(sd, n_series)))
        else:
            cols.append(_mean_std(covariates[ok, c], series_of_point[ok], n_series))
    loc = np.stack([m for m, _ in cols], axis=1) if cols else np.zeros((n_series, 0))  # (S, C)
    scl = _nonzero(np.stack([d for _, d in cols], axis=1)) if cols else np.ones((n_series, 0))  # (S, C)
    return ScalerStats(loc, scl, "none", "standard")
