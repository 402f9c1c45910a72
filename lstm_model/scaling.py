"""Per-series scaling: statistics / scale / inverse as pure functions over packed series.

A packed dataset keeps every series once in one flat array; ``series_of_point`` (N,) maps
each point to its series. Statistics are fitted on a boolean ``fit_mask`` (the training part
only) and travel with the model as two arrays ``loc`` and ``scale`` of shape (S,).

An optional log transform (``log``) is applied before scaling; ``auto`` picks it when every
value of the data is strictly positive (a value that cannot be logged later becomes missing).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRANSFORMS = ("auto", "log", "none")
SCALERS = ("standard", "minmax")


@dataclass(frozen=True)
class ScalerStats:
    """Per-series statistics (S,) plus the transform and scaler names."""

    loc: np.ndarray  # (S,)
    scale: np.ndarray  # (S,)
    transform: str  # "log" | "none"
    scaler: str  # "standard" | "minmax"

    def to_dict(self) -> dict:
        return {
            "loc": self.loc.tolist(),
            "scale": self.scale.tolist(),
            "transform": self.transform,
            "scaler": self.scaler,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ScalerStats":
        return cls(
            np.asarray(d["loc"], dtype=np.float64),
            np.asarray(d["scale"], dtype=np.float64),
            d["transform"],
            d["scaler"],
        )

    def take(self, idx: np.ndarray) -> "ScalerStats":
        """Statistics of a subset of series, in the order of ``idx``."""
        return ScalerStats(self.loc[idx], self.scale[idx], self.transform, self.scaler)


def resolve_transform(transform: str, values: np.ndarray) -> str:
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
    if transform == "auto":
        return "log" if values.size and bool(np.all(values > 0)) else "none"
    if transform == "log" and not bool(np.all(values > 0)):
        raise ValueError("log transform needs strictly positive values")
    return transform


def forward_transform(values: np.ndarray, transform: str) -> np.ndarray:
    return np.log(values) if transform == "log" else values


def inverse_transform(values: np.ndarray, transform: str) -> np.ndarray:
    return np.exp(values) if transform == "log" else values


def fit_stats(
    values: np.ndarray,
    series_of_point: np.ndarray,
    fit_mask: np.ndarray,
    n_series: int,
    transform: str = "auto",
    scaler: str = "standard",
) -> ScalerStats:
    """Fit per-series statistics on the points where ``fit_mask`` is true (no other point is read)."""
    if scaler not in SCALERS:
        raise ValueError(f"scaler must be one of {SCALERS}, got {scaler!r}")
    fit_mask = fit_mask & np.isfinite(values)  # missing points (NaN) never enter the statistics
    fit_values = values[fit_mask]
    sid = series_of_point[fit_mask]
    # the transform is a property of the data (can every value be logged?), not a fitted statistic
    transform = resolve_transform(transform, values[np.isfinite(values)])
    v = forward_transform(fit_values, transform)
    count = np.bincount(sid, minlength=n_series).astype(np.float64)  # (S,)
    if np.any(count == 0):
        raise ValueError("every series needs at least one point in its training part")
    if scaler == "standard":
        loc, scale = _mean_std(v, sid, n_series)
    else:  # minmax to [-1, 1]
        lo = np.full(n_series, np.inf)
        hi = np.full(n_series, -np.inf)
        np.minimum.at(lo, sid, v)
        np.maximum.at(hi, sid, v)
        loc, scale = (hi + lo) / 2.0, (hi - lo) / 2.0
    return ScalerStats(loc, _nonzero(scale), transform, scaler)


def _mean_std(v: np.ndarray, sid: np.ndarray, n_series: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-series mean and standard deviation of ``v`` (M,) grouped by ``sid`` (M,) -> (S,), (S,);
    a series with no point gets mean 0 and deviation 0."""
    count = np.maximum(np.bincount(sid, minlength=n_series), 1).astype(np.float64)  # (S,)
    loc = np.bincount(sid, weights=v, minlength=n_series) / count
    return loc, np.sqrt(np.bincount(sid, weights=(v - loc[sid]) ** 2, minlength=n_series) / count)


def _nonzero(scale: np.ndarray) -> np.ndarray:
    return np.where(scale > 1e-12, scale, 1.0)  # constant series: shift only


def scale(values: np.ndarray, series_of_point: np.ndarray, stats: ScalerStats) -> np.ndarray:
    v = forward_transform(values, stats.transform)
    return (v - stats.loc[series_of_point]) / stats.scale[series_of_point]


def inverse(scaled: np.ndarray, series_idx: np.ndarray, stats: ScalerStats) -> np.ndarray:
    """Inverse of :func:`scale`; ``series_idx`` broadcasts against ``scaled`` (e.g. (S, 1) vs (S, H))."""
    return inverse_transform(scaled * stats.scale[series_idx] + stats.loc[series_idx], stats.transform)


def fit_covariate_stats(
    covariates: np.ndarray, series_of_point: np.ndarray, fit_mask: np.ndarray, n_series: int
) -> ScalerStats:
    """Per-series standard statistics of each covariate column: (N, C) -> loc, scale (S, C).

    Covariates are never log-transformed; a series with no finite value of a column in its
    training part gets loc 0 and scale 1 for that column."""
    cols = []
    for c in range(covariates.shape[1]):  # a few columns, each fitted over all series at once
        ok = fit_mask & np.isfinite(covariates[:, c])
        cols.append(_mean_std(covariates[ok, c], series_of_point[ok], n_series))
    loc = np.stack([m for m, _ in cols], axis=1) if cols else np.zeros((n_series, 0))  # (S, C)
    scl = _nonzero(np.stack([d for _, d in cols], axis=1)) if cols else np.ones((n_series, 0))  # (S, C)
    return ScalerStats(loc, scl, "none", "standard")
