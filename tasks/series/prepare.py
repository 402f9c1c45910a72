"""Curated long frame <-> packed numpy series, with each series' frequency."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstm_model.windows import PackedSeries, offsets_of
from tasks.series.frequency import infer_freqs


@dataclass
class Prepared:
    packed: PackedSeries
    ids: list[str]  # (S,)
    ds: np.ndarray  # (N,) datetime64[ns], aligned with packed.values
    freqs: np.ndarray  # (S,) each series' frequency alias (object; None when irregular)

    @property
    def freq(self) -> str | None:
        """The most common frequency (for messages; every computation uses ``freqs``)."""
        known = [f for f in self.freqs.tolist() if f is not None]
        return max(set(known), key=known.count) if known else None

    @property
    def last_ds(self) -> np.ndarray:
        """(S,) last timestamp of each series."""
        return self.ds[self.packed.offsets + self.packed.lengths - 1]


def prepare(df: pd.DataFrame, covariates: list[str] | None = None, freq: str | None = None) -> Prepared:
    """A long frame (unique_id, ds, y[, covariates]), any order -> packed series sorted by
    (unique_id, ds), with the ``covariates`` columns (in that order) as (N, C) features and each
    series' frequency (inferred from its own timestamps, or ``freq`` for all)."""
    if df.empty:
        raise ValueError("no data: the curated dataset is empty (run ingest first)")
    missing = [c for c in covariates or [] if c not in df.columns]
    if missing:
        raise ValueError(f"covariate columns {missing} are not in the data (columns: {list(df.columns)})")
    codes, uniques = pd.factorize(df["unique_id"].astype(str), sort=True)  # (N,) rank of each row's id
    ds = df["ds"].to_numpy(dtype="datetime64[ns]")
    order = None if _is_sorted(codes, ds) else np.lexsort((ds, codes))  # stable; skipped when sorted already
    take = (lambda a: a) if order is None else (lambda a: a[order])
    lengths = np.bincount(codes, minlength=len(uniques)).astype(np.int64)  # (S,)
    covs = take(df[list(covariates)].to_numpy(dtype=np.float64)) if covariates else None  # (N, C)
    packed = PackedSeries(take(df["y"].to_numpy(dtype=np.float64)), offsets_of(lengths), lengths, covs)
    ds = take(ds)
    freqs = np.full(len(uniques), freq, dtype=object) if freq else infer_freqs(ds, lengths)
    return Prepared(packed, [str(i) for i in uniques], ds, freqs)


def _is_sorted(codes: np.ndarray, ds: np.ndarray) -> bool:
    """True when rows are ordered by (code, ds): one vectorised pass, no sort."""
    dc, dt = np.diff(codes), np.diff(ds.view(np.int64))
    return bool(np.all((dc > 0) | ((dc == 0) & (dt >= 0))))


def fingerprint(df: pd.DataFrame) -> str:
    """A content hash of the training data (unique_id, ds, y)."""
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(df[["unique_id", "ds", "y"]], index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def to_frame(ids: list[str], dates: np.ndarray, values: np.ndarray, col: str = "y_hat") -> pd.DataFrame:
    """(S,) ids, (S, H) dates and values -> long frame unique_id, ds, <col>."""
    H = values.shape[1]
    return pd.DataFrame(
        {
            "unique_id": np.repeat(np.asarray(ids, dtype=object), H),
            "ds": dates.reshape(-1),
            col: values.reshape(-1),
        }
    )


def covariate_columns(df: pd.DataFrame, setting: str | None) -> list[str]:
    """The covariates a model reads: none (None or ''), every non-key column ('all'), or the
    comma-separated names given."""
    if not setting:
        return []
    if setting.strip().lower() == "all":
        return [c for c in df.columns if c not in ("unique_id", "ds", "y")]
    return [c.strip() for c in setting.split(",") if c.strip()]
