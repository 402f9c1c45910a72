"""Static covariates: one value per series (store type, region, size), numeric or categorical.

A user's file (CSV, a workbook or Parquet: unique_id, <columns>; checked by
``tasks.ingest.sidefile.check_static``) is merged into ``storage/static``
(a Delta table, the newest row of each series wins), which training and every forecast read: a
new series of a known type is forecast with what its type taught the network (cold start).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from tasks.adapters import tables
from tasks.adapters.storage import Storage

STATIC = "static"


@dataclass
class StaticSummary:
    path: str
    series: int
    columns: list[str]
    rejected: dict[str, list[str]] = field(default_factory=dict)  # reason -> "line N: detail" (first few)


def store_static(storage: Storage, frame: pd.DataFrame) -> int:
    """Merge ``frame`` into the static table (its series replace the stored rows; columns it lacks
    stay empty for them) in one commit; returns the table version."""
    old = tables.read(storage, STATIC)
    if not old.empty:
        old = old.astype({"unique_id": str})
        frame = pd.concat([old[~old["unique_id"].isin(frame["unique_id"])], frame], ignore_index=True)
    text = [c for c in frame.columns if c != "unique_id" and not pd.api.types.is_numeric_dtype(frame[c])]
    frame = frame.astype(dict.fromkeys(text, "string"))  # categories as text, missing ones null
    return tables.overwrite(storage, STATIC, frame.sort_values("unique_id", ignore_index=True))


def read_static(storage: Storage, columns: list[str] | None = None) -> pd.DataFrame:
    """The stored static values (unique_id, ``columns``, None: every stored column); a clear error
    when a column is not stored."""
    frame = tables.read(storage, STATIC)
    if frame.empty and columns is None:
        raise ValueError("no static covariates are stored: give them with --static-input")
    columns = [c for c in frame.columns if c != "unique_id"] if columns is None else columns
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = [c for c in frame.columns if c != "unique_id"]
        raise ValueError(
            f"static covariates {missing} are not stored (stored: {have or 'none'}): give them with --static-input"
        )
    return frame.astype({"unique_id": str})[["unique_id", *columns]]
