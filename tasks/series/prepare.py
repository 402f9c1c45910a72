"""Curated long frame <-> packed numpy series, with each series' frequency."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lstm_model.windows import PackedSeries, offsets_of
from tasks.series.frequency import calendar_step, grid, infer_freqs, month_numbers, stepped_over


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
    values, ds = take(df["y"].to_numpy(dtype=np.float64)), take(ds)
    freqs = np.full(len(uniques), freq, dtype=object) if freq else infer_freqs(ds, lengths)
    gappy = stepped_over(ds, lengths, freqs)
    if gappy.any():  # a month with no row is a missing point, not one step less: the season stays in place
        ds, values, covs, lengths = _on_calendar(ds, values, covs, lengths, freqs, gappy)
    packed = PackedSeries(values, offsets_of(lengths), lengths, covs)
    return Prepared(packed, [str(i) for i in uniques], ds, freqs)


def _on_calendar(
    ds: np.ndarray,
    values: np.ndarray,
    covs: np.ndarray | None,
    lengths: np.ndarray,
    freqs: np.ndarray,
    gappy: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """The ``gappy`` series laid on every step of their calendar, NaN (target and covariates) at
    the steps they skip, as ``gaps=fill`` stores them. ds, values (N,), covs (N, C) -> (N', ...).
    Vectorised: each row's step number on its series' calendar; a loop only for a series with a
    row off its calendar (a stray timestamp, kept in place)."""
    S, starts = lengths.shape[0], offsets_of(lengths)
    sid = np.repeat(np.arange(S), lengths)  # (N,)
    t = ds.astype("datetime64[ns]").view(np.int64)  # (N,)
    month = month_numbers(ds)  # (N,)
    step_of = {f: calendar_step(f) for f in dict.fromkeys(freqs[gappy].tolist())}  # one per distinct frequency
    steps = np.array([step_of[f] if g else (0, 0) for f, g in zip(freqs.tolist(), gappy.tolist())])  # (S, 2)
    by_month = steps[:, 0] > 0  # (S,)
    offset = np.where(by_month[sid], month - month[starts][sid], t - t[starts][sid])  # (N,) since the first
    size = np.where(by_month, steps[:, 0], steps[:, 1])[sid]  # (N,) 0 outside the gappy series
    rank = np.where(size > 0, offset // np.maximum(size, 1), 0)  # (N,)
    stray = np.zeros(S, dtype=bool)
    np.logical_or.at(stray, sid, (size > 0) & (offset % np.maximum(size, 1) != 0))
    new_lengths = lengths.copy()
    laid = gappy & ~stray
    new_lengths[laid] = rank[starts[laid] + lengths[laid] - 1] + 1
    full = {i: _calendar_of(ds[starts[i] : starts[i] + lengths[i]], freqs[i]) for i in np.flatnonzero(stray)}
    new_lengths[list(full)] = [len(v) for v in full.values()]
    new_starts = offsets_of(new_lengths)
    own = np.arange(t.shape[0]) - starts[sid]  # (N,) each row's rank in its series
    pos = new_starts[sid] + np.where(laid[sid], rank, own)  # (N,) each row's place
    for i, stamps in full.items():
        rows = slice(starts[i], starts[i] + lengths[i])
        pos[rows] = new_starts[i] + np.searchsorted(stamps, ds[rows])
    new_sid = np.repeat(np.arange(S), new_lengths)  # (N',)
    j = np.arange(new_sid.shape[0]) - new_starts[new_sid]  # (N',) step number
    first_t, first_m, k = (
        t[starts][new_sid],
        month[starts][new_sid],
        np.where(by_month, steps[:, 0], steps[:, 1])[new_sid],
    )
    ends = np.array([bool(f) and f.split("-")[0].endswith("E") for f in freqs.tolist()])[new_sid]  # ME, QE, YE
    months = (first_m + j * k).astype("datetime64[M]")
    stamp_m = np.where(ends, (months + 1).astype("datetime64[D]") - 1, months.astype("datetime64[D]")).astype(
        "datetime64[ns]"
    )
    new_ds = np.where(by_month[new_sid], stamp_m.view(np.int64), first_t + j * k).view("datetime64[ns]")
    new_ds[pos] = ds  # every observed row as it was (and the series not laid anew)
    for i, stamps in full.items():
        new_ds[new_starts[i] : new_starts[i] + new_lengths[i]] = stamps
    new_values = np.full(new_ds.shape[0], np.nan)
    new_values[pos] = values
    new_covs = None
    if covs is not None:
        new_covs = np.full((new_ds.shape[0], covs.shape[1]), np.nan)
        new_covs[pos] = covs
    return new_ds, new_values, new_covs, new_lengths


def _calendar_of(stamps: np.ndarray, freq: str) -> np.ndarray:
    """A series' timestamps with every step of its calendar between its first and last added."""
    index = pd.DatetimeIndex(stamps)
    return grid(index, freq).union(index).to_numpy(dtype="datetime64[ns]")


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
