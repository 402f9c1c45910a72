"""Static covariates: one value per series (store type, region, size), numeric or categorical.

A user's file (CSV or Parquet: unique_id, <columns>) is checked and merged into ``storage/static``
(a Delta table, the newest row of each series wins), which training and every forecast read: a
new series of a known type is forecast with what its type taught the network (cold start).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
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


def check_static(path: str) -> tuple[pd.DataFrame, StaticSummary]:
    """The rows of a static file (unique_id and every other column, as given), the last row of an id
    repeated; rows without an id are kept out with their line."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such static-covariates file")
    parquet = path.endswith((".parquet", ".pq"))
    raw = pd.read_parquet(path) if parquet else pd.read_csv(path, dtype={"unique_id": str})
    if "unique_id" not in raw.columns or raw.shape[1] < 2:
        raise ValueError(f"{path}: static covariates need a unique_id column and at least one other")
    line = np.arange(raw.shape[0]) + (1 if parquet else 2)
    no_id = raw["unique_id"].isna().to_numpy()
    rejected = {"missing_id": [f"line {n}: no unique_id" for n in line[no_id][:5]]} if no_id.any() else {}
    good = raw[~no_id].astype({"unique_id": str}).drop_duplicates("unique_id", keep="last").reset_index(drop=True)
    return good, StaticSummary(path, len(good), [c for c in good.columns if c != "unique_id"], rejected)


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
