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
import zlib
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from tasks.storage import Storage

PARTS = "curated/parts"
MANIFEST = "curated/_manifest.json"
BUCKET = "bucket"  # stable hash bucket of unique_id, stored in the parts, never returned to users
NBUCKETS = 256
ROW_GROUP_BUCKETS = 16  # buckets spanned by one row group: a part's rows are grouped by bucket range


def bucket_of(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """CRC-32 of each id's UTF-8 bytes mod :data:`NBUCKETS` (stable across processes and machines,
    unlike ``hash()``), computed once per distinct id on the dictionary of the column."""
    arr = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    enc = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr)
    table = np.fromiter((zlib.crc32(v.encode()) % NBUCKETS if v is not None else 0
                         for v in enc.dictionary.to_pylist()), dtype=np.int16, count=len(enc.dictionary))
    idx = enc.indices.fill_null(0).to_numpy(zero_copy_only=False)
    return pa.array(table[idx] if len(table) else np.zeros(len(arr), np.int16), pa.int16())


def shard_range(shard: tuple[int, int]) -> tuple[int, int]:
    """Shard ``(k, n)`` of the data = the buckets ``[lo, hi)``: ``bucket * n // NBUCKETS == k``.
    Contiguous bucket ranges (rather than ``bucket % n``) so that row-group min/max statistics
    can exclude whole row groups."""
    k, n = shard
    if not (1 <= n <= NBUCKETS and 0 <= k < n):
        raise ValueError(f"shard {shard}: need 0 <= k < n <= {NBUCKETS}")
    return -(-k * NBUCKETS // n), -(-(k + 1) * NBUCKETS // n)


class BucketedWriter(pq.ParquetWriter):
    """A ParquetWriter that adds the ``bucket`` column to every table written and groups rows by
    bucket range (stable sort: rows of one series keep their order), one row group per range of
    :data:`ROW_GROUP_BUCKETS` buckets, so that a shard read skips the row groups of other shards."""

    def __init__(self, where: Any, schema: pa.Schema, **kwargs: Any) -> None:
        if BUCKET in schema.names:
            schema = schema.remove(schema.get_field_index(BUCKET))
        super().__init__(where, schema.append(pa.field(BUCKET, pa.int16())), **kwargs)

    def write_table(self, table: pa.Table, row_group_size: int | None = None) -> None:
        if BUCKET in table.column_names:
            table = table.drop_columns([BUCKET])
        b = bucket_of(table["unique_id"])
        order = pc.sort_indices(b)  # stable
        table = table.append_column(BUCKET, b).take(order)
        groups = b.to_numpy().astype(np.int64)[order.to_numpy()] // ROW_GROUP_BUCKETS
        cuts = np.flatnonzero(np.diff(groups)) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(table)]):
            if hi > lo or len(table) == 0:
                super().write_table(table.slice(lo, hi - lo), row_group_size)


def read_part(f: Any, columns: list[str] | None = None, shard: tuple[int, int] | None = None) -> pa.Table:
    """One part file (an open binary file) -> its rows, without the bucket column. With ``shard``,
    only the shard's rows: the bucket-range filter is pushed down to the Parquet scan, which skips
    row groups by their statistics; parts written before the bucket column are filtered after
    reading, with buckets computed on the fly."""
    frag = pads.ParquetFileFormat().make_fragment(f)
    names = [n for n in frag.physical_schema.names if n != BUCKET] if columns is None else list(columns)
    if shard is None:
        return frag.to_table(columns=names)
    lo, hi = shard_range(shard)
    if BUCKET in frag.physical_schema.names:
        return frag.to_table(columns=names, filter=(pc.field(BUCKET) >= lo) & (pc.field(BUCKET) < hi))
    t = frag.to_table(columns=list(dict.fromkeys([*names, "unique_id"])))
    b = bucket_of(t["unique_id"])
    return t.filter(pc.and_(pc.greater_equal(b, lo), pc.less(b, hi))).select(names)


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
        return f, BucketedWriter(f, schema)

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

    def read_table(self, columns: list[str] | None = None, manifest: dict[str, Any] | None = None,
                   shard: tuple[int, int] | None = None) -> pa.Table | None:
        """Every committed part, in commit order, not deduplicated (only shard ``(k, n)``'s series
        when given, see :func:`shard_range`)."""
        manifest = manifest or self.manifest()
        tables = []
        for p in manifest["parts"]:
            with self.storage.fs.open(self.part_path(p["name"]), "rb") as f:
                tables.append(read_part(f, columns, shard))
        if not tables:
            return None
        return pa.concat_tables(tables, promote_options="permissive")

    def read(self, columns: list[str] | None = None, shard: tuple[int, int] | None = None) -> pd.DataFrame:
        """The dataset: one row per (unique_id, ds), the latest part winning, sorted; with
        ``shard=(k, n)`` only the series of shard k of n (the shards partition the series)."""
        t = self.read_table(columns, shard=shard)
        if t is None:
            return pd.DataFrame({"unique_id": pd.Series(dtype=str), "ds": pd.Series(dtype="datetime64[ns]"),
                                 "y": pd.Series(dtype="float64")})
        df = latest_per_key(t).to_pandas()
        df["unique_id"] = df["unique_id"].astype(str)
        return df


def latest_per_key(t: pa.Table) -> pa.Table:
    """Rows sorted by (unique_id, ds), one per key: the last in ``t``'s order (the latest part wins).
    One multi-key sort in Arrow on integer keys (the rank of each id, the timestamp, the position:
    latest first), then a comparison of neighbours."""
    enc = pc.dictionary_encode(t["unique_id"]).combine_chunks()  # (N,) codes into the distinct ids
    rank = np.empty(len(enc.dictionary), dtype=np.int32)
    rank[pc.sort_indices(enc.dictionary).to_numpy()] = np.arange(len(enc.dictionary), dtype=np.int32)
    keys = pa.table({"id": rank[enc.indices.to_numpy(zero_copy_only=False)], "ds": t["ds"],
                     "pos": np.arange(t.num_rows, dtype=np.int64)})  # ids sorted as integers, not strings
    t = t.take(pc.sort_indices(keys, sort_keys=[("id", "ascending"), ("ds", "ascending"), ("pos", "descending")]))
    if t.num_rows < 2:
        return t
    uid, ds = t["unique_id"].combine_chunks(), t["ds"].combine_chunks()
    repeat = pc.and_(pc.equal(uid.slice(1), uid.slice(0, len(uid) - 1)),
                     pc.equal(ds.slice(1), ds.slice(0, len(ds) - 1)))  # (N-1,) row i+1 repeats row i's key
    return t.filter(pa.concat_arrays([pa.array([True]), pc.invert(repeat.fill_null(False))]))


def read_curated(storage_root: str, shard: tuple[int, int] | None = None) -> pd.DataFrame:
    return Curated(Storage(storage_root)).read(shard=shard)
