"""Curated long frame <-> packed numpy series; frequency, season length and future dates."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstm_model.windows import PackedSeries, offsets_of

SEASONS = {"MS": 12, "ME": 12, "M": 12, "QS": 4, "QE": 4, "Q": 4, "W": 52, "D": 7, "B": 5, "h": 24, "H": 24,
           "30min": 48, "min": 60, "YS": 1, "YE": 1, "Y": 1}


@dataclass
class Prepared:
    packed: PackedSeries
    ids: list[str]  # (S,)
    ds: np.ndarray  # (N,) datetime64[ns], aligned with packed.values
    freq: str | None

    @property
    def last_ds(self) -> np.ndarray:
        """(S,) last timestamp of each series."""
        return self.ds[self.packed.offsets + self.packed.lengths - 1]


def prepare(df: pd.DataFrame, covariates: list[str] | None = None) -> Prepared:
    """A long frame (unique_id, ds, y[, covariates]), any order -> packed series sorted by
    (unique_id, ds), with the ``covariates`` columns (in that order) as (N, C) features."""
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
    return Prepared(packed, [str(i) for i in uniques], ds, infer_freq(ds, packed))


def _is_sorted(codes: np.ndarray, ds: np.ndarray) -> bool:
    """True when rows are ordered by (code, ds): one vectorised pass, no sort."""
    dc, dt = np.diff(codes), np.diff(ds.view(np.int64))
    return bool(np.all((dc > 0) | ((dc == 0) & (dt >= 0))))


def infer_freq(ds: np.ndarray, packed: PackedSeries) -> str | None:
    """The frequency of the longest series (pandas alias, e.g. 'MS'), None when irregular."""
    s = int(np.argmax(packed.lengths))
    return infer_series_freq(pd.DatetimeIndex(ds[packed.offsets[s] : packed.offsets[s] + packed.lengths[s]]))


def infer_series_freq(stamps: pd.DatetimeIndex) -> str | None:
    """A pandas alias for sorted timestamps: ``pd.infer_freq`` when the steps are exact, else the
    modal step read on the calendar, tolerant of a few gaps: business days ('B') when the data skip
    weekends (trading holidays missing), month, quarter or year starts and ends, or a fixed step."""
    if len(stamps) < 3:
        return None
    try:
        exact = pd.infer_freq(stamps)
    except (TypeError, ValueError):
        exact = None
    if exact:
        return str(getattr(exact, "freqstr", exact))
    steps = np.diff(stamps.as_unit("ns").asi8)
    days = steps / 86_400e9  # (N-1,)
    for lo, hi, start, end in ((28, 31, "MS", "ME"), (89, 92, "QS", "QE"), (365, 366, "YS", "YE")):
        if np.mean((days >= lo) & (days <= hi)) >= 0.5:  # calendar steps, a few gaps allowed
            if (stamps.is_month_start & (stamps == stamps.normalize())).mean() > 0.9:
                return start
            if stamps.is_month_end.mean() > 0.9:
                return end
            return None
    modal = int(pd.Series(steps).mode().iloc[0])
    if modal <= 0 or np.mean(steps == modal) < 0.5:  # no step dominates: irregular
        return None
    if modal == 86_400 * 10**9 and not (stamps.day_of_week >= 5).any():
        return "B"  # daily steps that skip every weekend: business days (trading holidays missing)
    return pd.tseries.frequencies.to_offset(pd.Timedelta(modal)).freqstr


def season_length(freq: str | None, override: int | None = None) -> int:
    if override:
        return override
    if not freq:
        return 1
    base = freq.split("-")[0].lstrip("0123456789") or freq
    return SEASONS.get(freq, SEASONS.get(base, 1))


def future_dates(last: np.ndarray, freq: str | None, horizon: int) -> np.ndarray:
    """(S,) last timestamps -> (S, H) next timestamps at ``freq``."""
    if not freq:
        raise ValueError("cannot forecast dates: the series frequency could not be inferred")
    offset = pd.tseries.frequencies.to_offset(freq)
    steps = [pd.DatetimeIndex(last) + k * offset for k in range(1, horizon + 1)]  # H date offsets, vectorised over S
    return np.stack([s.to_numpy(dtype="datetime64[ns]") for s in steps], axis=1)


def fingerprint(df: pd.DataFrame) -> str:
    """A content hash of the training data (unique_id, ds, y)."""
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(df[["unique_id", "ds", "y"]], index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def to_frame(ids: list[str], dates: np.ndarray, values: np.ndarray, col: str = "y_hat") -> pd.DataFrame:
    """(S,) ids, (S, H) dates and values -> long frame unique_id, ds, <col>."""
    H = values.shape[1]
    return pd.DataFrame({
        "unique_id": np.repeat(np.asarray(ids, dtype=object), H),
        "ds": dates.reshape(-1),
        col: values.reshape(-1),
    })


def covariate_columns(df: pd.DataFrame, setting: str | None) -> list[str]:
    """The covariates a model reads: none (None or ''), every non-key column ('all'), or the
    comma-separated names given."""
    if not setting:
        return []
    if setting.strip().lower() == "all":
        return [c for c in df.columns if c not in ("unique_id", "ds", "y")]
    return [c.strip() for c in setting.split(",") if c.strip()]
