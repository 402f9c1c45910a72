"""The curated dataset: immutable Parquet parts listed by a manifest, which is the commit point.

``curated/parts/*.parquet`` hold long rows (unique_id, ds, y[, covariates]); ``curated/_manifest.json``
lists the committed parts in order, the ingested source files by content hash and the column
schema. A part is written under a hidden temporary name, renamed, and only then listed by an
atomically replaced manifest: a crash at any moment leaves the previous dataset readable and
unchanged, and anything not listed is removed by the next ingest. Readers see one row per
(unique_id, ds): for a key present in several parts, the latest part wins.
"""
from __future__ import annotations

import posixpath
import uuid
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.storage import Storage

PARTS = "curated/parts"
MANIFEST = "curated/_manifest.json"


def empty_manifest() -> dict[str, Any]:
    return {"format": 1, "columns": None, "files": {}, "parts": [], "seq": 0}


class Curated:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def manifest(self) -> dict[str, Any]:
        return self.storage.read_json(MANIFEST, default=None) or empty_manifest()

    def part_path(self, name: str) -> str:
        return self.storage.path(posixpath.join(PARTS, name))

    def new_tmp_part(self) -> str:
        self.storage.fs.makedirs(self.storage.path(PARTS), exist_ok=True)
        return self.part_path(f".tmp-{uuid.uuid4().hex}.parquet")

    def writer(self, path: str, schema: pa.Schema) -> tuple[Any, pq.ParquetWriter]:
        f = self.storage.fs.open(path, "wb")
        return f, pq.ParquetWriter(f, schema)

    def clean_orphans(self, manifest: dict[str, Any] | None = None) -> list[str]:
        """Delete part files no manifest lists (left by an interrupted ingest)."""
        manifest = manifest or self.manifest()
        listed = {p["name"] for p in manifest["parts"]}
        folder = self.storage.path(PARTS)
        if not self.storage.fs.exists(folder):
            return []
        removed = []
        for path in self.storage.fs.ls(folder, detail=False):
            if posixpath.basename(path) not in listed:
                self.storage.fs.rm(path)
                removed.append(path)
        return removed

    def commit(self, manifest: dict[str, Any], new_parts: list[tuple[str, dict[str, Any]]]) -> None:
        """Rename each (tmp path, entry) part to its final name, then publish the manifest."""
        for tmp, entry in new_parts:
            self.storage.fs.mv(tmp, self.part_path(entry["name"]))
            manifest["parts"].append(entry)
        self.storage.write_json(MANIFEST, manifest)

    def read_table(self, columns: list[str] | None = None, manifest: dict[str, Any] | None = None) -> pa.Table | None:
        """Every committed part, in commit order, not deduplicated."""
        manifest = manifest or self.manifest()
        tables = []
        for p in manifest["parts"]:
            with self.storage.fs.open(self.part_path(p["name"]), "rb") as f:
                tables.append(pq.read_table(f, columns=columns))
        if not tables:
            return None
        return pa.concat_tables(tables, promote_options="permissive")

    def read(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The dataset: one row per (unique_id, ds), the latest part winning, sorted."""
        t = self.read_table(columns)
        if t is None:
            return pd.DataFrame({"unique_id": pd.Series(dtype=str), "ds": pd.Series(dtype="datetime64[ns]"),
                                 "y": pd.Series(dtype="float64")})
        df = t.to_pandas()
        df = df.drop_duplicates(["unique_id", "ds"], keep="last")
        df = df.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        df["unique_id"] = df["unique_id"].astype(str)
        return df


def read_curated(storage_root: str) -> pd.DataFrame:
    return Curated(Storage(storage_root)).read()
