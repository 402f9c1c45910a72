"""The per-series scalers of :mod:`lstm_model.scaling` behind scikit-learn's transformer API.

``SeriesScaler`` fits one set of statistics per series of a long frame (``unique_id``, ``y``) and
scales or restores the value column of any frame of those series; it has ``fit``, ``transform``,
``fit_transform``, ``inverse_transform``, ``get_params`` / ``set_params`` and works inside a
``sklearn.pipeline.Pipeline``. The statistics are the model bundle's (:class:`ScalerStats`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from lstm_model import scaling


class SeriesScaler(TransformerMixin, BaseEstimator):
    """scaler: standard (mean 0, deviation 1) or minmax (to [-1, 1]), per series; log_transform: auto
    (log every series whose fitted values are all positive), log or none."""

    def __init__(
        self, scaler: str = "standard", log_transform: str = "none", series_col: str = "unique_id", value_col: str = "y"
    ) -> None:
        self.scaler = scaler
        self.log_transform = log_transform
        self.series_col = series_col
        self.value_col = value_col

    def fit(self, X: pd.DataFrame, y: object = None) -> SeriesScaler:
        ids, codes = np.unique(X[self.series_col].astype(str).to_numpy(), return_inverse=True)
        values = X[self.value_col].to_numpy(dtype=np.float64)
        self.stats_ = scaling.fit_stats(
            values, codes, np.ones(values.shape[0], bool), ids.size, self.log_transform, self.scaler
        )
        self.series_ = ids  # (S,) sorted series ids, the order of ``stats_``
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        out[self.value_col] = scaling.scale(X[self.value_col].to_numpy(dtype=np.float64), self._codes(X), self.stats_)
        return out

    def inverse_transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        out[self.value_col] = scaling.inverse(X[self.value_col].to_numpy(dtype=np.float64), self._codes(X), self.stats_)
        return out

    def _codes(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "stats_")
        ids = X[self.series_col].astype(str).to_numpy()
        codes = np.searchsorted(self.series_, ids)  # (n,)
        known = (codes < self.series_.size) & (self.series_[np.minimum(codes, self.series_.size - 1)] == ids)
        if not known.all():
            raise ValueError(f"series not seen by fit: {sorted(set(ids[~known]))[:5]}")
        return codes
