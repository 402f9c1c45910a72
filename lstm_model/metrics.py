"""Forecast accuracy metrics, NaN-aware, per series.

All take ``y`` and ``y_hat`` of shape (S, H) and return (S,): one value per series, averaged
over the horizon, ignoring NaN entries (and, for percentage errors, undefined points).
Aggregate across series with ``np.nanmean``.
"""

from __future__ import annotations

import numpy as np


def mae(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """MAE = mean_t |y_t - ŷ_t|"""
    return _nanmean_or_nan(np.abs(y - y_hat))


def rmse(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """RMSE = sqrt(mean_t (y_t - ŷ_t)²)"""
    return np.sqrt(_nanmean_or_nan((y - y_hat) ** 2))


def mape(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """MAPE = 100 · mean_t |y_t - ŷ_t| / |y_t|, over points with y_t ≠ 0 (NaN if none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.where(y != 0, np.abs(y - y_hat) / np.abs(y), np.nan)
    return 100.0 * _nanmean_or_nan(ape)


def smape(y: np.ndarray, y_hat: np.ndarray) -> np.ndarray:
    """sMAPE = 100 · mean_t 2|y_t - ŷ_t| / (|y_t| + |ŷ_t|), a 0/0 point counts as 0."""
    denom = np.abs(y) + np.abs(y_hat)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denom > 0, 2.0 * np.abs(y - y_hat) / denom, 0.0)
    s = np.where(np.isnan(y) | np.isnan(y_hat), np.nan, s)
    return 100.0 * _nanmean_or_nan(s)


def mase(y: np.ndarray, y_hat: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """MASE = MAE / scale, scale (S,) = in-sample MAE of the seasonal naive forecast
    (mean_t |y_t - y_{t-m}| over each series' history before the forecast origin)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0, mae(y, y_hat) / scale, np.nan)


def all_metrics(y: np.ndarray, y_hat: np.ndarray, scale: np.ndarray) -> dict[str, np.ndarray]:
    """Every metric, per series: {name: (S,)}."""
    return {
        "mae": mae(y, y_hat),
        "rmse": rmse(y, y_hat),
        "mape": mape(y, y_hat),
        "smape": smape(y, y_hat),
        "mase": mase(y, y_hat, scale),
    }


def _nanmean_or_nan(a: np.ndarray) -> np.ndarray:
    n = np.sum(~np.isnan(a), axis=-1)
    total = np.nansum(a, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)
