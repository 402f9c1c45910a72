"""Future values of the future-known covariates: a user's file (CSV or Parquet: unique_id, ds,
<columns>) checked and merged into ``storage/future`` (a Delta table, the newest value of each
(unique_id, ds) wins), which every forecast reads, the scheduled ones included.

A row whose timestamp cannot be read or whose values are not finite is kept out, with its line;
the file itself is never modified, and a file that lacks a column is refused whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.adapters import tables
from tasks.adapters.storage import Storage
from tasks.ingest.timestamps import read_timestamps

FUTURE = "future"
KEYS = ("unique_id", "ds")


@dataclass
class FutureSummary:
    """What one future-values file gave."""

    path: str
    rows: int  # rows stored
    series: int
    columns: list[str]
    rejected: dict[str, list[str]] = field(default_factory=dict)  # reason -> "line N: detail" (first few)
    rejected_rows: int = 0
    unknown_series: list[str] = field(default_factory=list)  # ids the model has not seen (stored all the same)


def _read(path: str) -> pd.DataFrame:
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such future-values file")
    if path.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype={"unique_id": str}, keep_default_na=True)


def check_future(
    path: str, columns: list[str], known_ids: list[str] | None = None
) -> tuple[pd.DataFrame, FutureSummary]:
    """The usable rows of a future-values file (unique_id, ds, ``columns``) and what was kept out.
    Line numbers count the header as line 1 (a Parquet file: row numbers from 1)."""
    raw = _read(path)
    missing = [c for c in (*KEYS, *columns) if c not in raw.columns]
    if missing:
        raise ValueError(f"{path}: future values need the columns {missing} (columns: {list(raw.columns)})")
    line = np.arange(raw.shape[0]) + (2 if not path.endswith((".parquet", ".pq")) else 1)
    ds = read_timestamps(raw["ds"])
    rejected: dict[str, list[str]] = {}
    bad = np.zeros(raw.shape[0], dtype=bool)

    def reject(mask: np.ndarray, reason: str, detail) -> None:
        new = mask & ~bad
        rejected.setdefault(reason, []).extend(
            f"line {n}: {detail(i)}" for n, i in zip(line[new][:5], np.flatnonzero(new)[:5])
        )
        bad[:] |= mask

    reject(ds.isna().to_numpy(), "bad_timestamp", lambda i: f"ds {raw['ds'].iloc[i]!r}")
    reject(raw["unique_id"].isna().to_numpy(), "missing_id", lambda i: "no unique_id")
    for c in columns:
        given = raw[c]
        vals = pd.to_numeric(given, errors="coerce").to_numpy(dtype=np.float64)
        reject(~np.isfinite(vals), "non_finite", lambda i, c=c, given=given: f"{c} {given.iloc[i]!r}")
        raw[c] = vals
    rejected = {k: v for k, v in rejected.items() if v}
    good = raw.loc[~bad, ["unique_id", *columns]].assign(ds=ds[~bad].astype("datetime64[ns]"))
    good["unique_id"] = good["unique_id"].astype(str)
    good = good.drop_duplicates(list(KEYS), keep="last")[[*KEYS, *columns]].reset_index(drop=True)
    ids = good["unique_id"].unique().tolist()
    unknown = sorted(set(ids) - set(known_ids)) if known_ids is not None else []
    summary = FutureSummary(path, len(good), len(ids), list(columns), rejected, int(bad.sum()), unknown)
    return good, summary


def store_future(storage: Storage, frame: pd.DataFrame) -> int:
    """Merge ``frame`` into the future table (its rows replace the stored ones with the same keys) in
    one commit; returns the table version."""
    old = tables.read(storage, FUTURE)
    if not old.empty:
        old = old.astype({"unique_id": str})
        key = pd.MultiIndex.from_frame(frame[list(KEYS)])
        old = old[~pd.MultiIndex.from_frame(old[list(KEYS)]).isin(key)]
        frame = pd.concat([old, frame], ignore_index=True)
    return tables.overwrite(storage, FUTURE, frame.sort_values(list(KEYS), ignore_index=True))


def read_future(storage: Storage, columns: list[str]) -> pd.DataFrame | None:
    """The stored future values (unique_id, ds, ``columns``), None when none are stored."""
    frame = tables.read(storage, FUTURE)
    if frame.empty:
        return None
    return frame.astype({"unique_id": str})[[*KEYS, *[c for c in columns if c in frame.columns]]]
