"""Future values of the future-known covariates: a user's file (CSV, a workbook or Parquet:
unique_id, ds, <columns>) checked and merged into ``storage/future`` (a Delta table, the newest value of each
(unique_id, ds) wins), which every forecast reads, the scheduled ones included.

A row whose timestamp cannot be read, or whose value is missing, not a number or not finite, is
kept out with its line and the ingest's reason code; the file itself is never modified, and a file
that lacks a column is refused whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tasks.adapters import tables
from tasks.adapters.storage import Storage
from tasks.ingest.sidefile import numbers, read_side_file
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


def check_future(
    path: str, columns: list[str], known_ids: list[str] | None = None
) -> tuple[pd.DataFrame, FutureSummary]:
    """The usable rows of a future-values file (unique_id, ds, ``columns``; CSV, a workbook or
    Parquet, read as the ingest reads its inputs) and what was kept out, by the ingest's reason
    codes. Line numbers count the header as line 1 (a Parquet file: row numbers from 1)."""
    side = read_side_file(path, [*KEYS, *columns], "future-values")
    raw, line = side.frame, side.lines
    missing = [c for c in (*KEYS, *columns) if c not in raw.columns]
    if missing:
        raise ValueError(f"{path}: future values need the columns {missing} (columns: {list(raw.columns)})")
    ds = read_timestamps(raw["ds"])
    rejected: dict[str, list[str]] = {}
    bad = np.zeros(raw.shape[0], dtype=bool)

    def reject(mask: np.ndarray, reason: str, detail) -> None:
        new = mask & ~bad
        rejected.setdefault(reason, []).extend(
            f"line {n}: {detail(i)}" for n, i in zip(line[new][:5], np.flatnonzero(new)[:5])
        )
        bad[:] |= mask

    ids = raw["unique_id"].astype("string").str.strip().replace("", pd.NA)
    reject(ds.isna().to_numpy(), "bad_timestamp", lambda i: f"ds {raw['ds'].iloc[i]!r}")
    reject(ids.isna().to_numpy(), "missing_id", lambda i: "no unique_id")
    values = {}
    for c in columns:
        values[c], codes = numbers(raw[c], side.decimal_comma)
        for reason in ("missing_value", "non_finite", "bad_value"):
            reject(codes == reason, reason, lambda i, c=c: f"{c} {raw[c].iloc[i]!r}")
    rejected = {k: v for k, v in rejected.items() if v}
    good = pd.DataFrame(
        {"unique_id": ids[~bad].astype(str).to_numpy(), "ds": ds[~bad].astype("datetime64[ns]").to_numpy()}
    )
    for c in columns:
        good[c] = values[c][~bad]
    good = good.drop_duplicates(list(KEYS), keep="last").reset_index(drop=True)
    seen = good["unique_id"].unique().tolist()
    unknown = sorted(set(seen) - set(known_ids)) if known_ids is not None else []
    summary = FutureSummary(path, len(good), len(seen), list(columns), rejected, int(bad.sum()), unknown)
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
