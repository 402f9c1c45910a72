"""The curated dataset: a Delta Lake table (``deltalake``, delta-rs) of long rows, one per
(unique_id, ds) at every version.

``storage/curated`` holds ``unique_id, ds, y``, the covariates and ``bucket`` (a stable hash of the
series id), partitioned by ``bucket_group`` (32 buckets each): shard ``(k, n)`` of the series reads
only its partitions. DuckDB, polars or Spark read the table as it is. How rows get in (appends,
MERGEs, the ingested-file record, concurrent writers) is :mod:`tasks.ingest.commit`.

An ingest streams a file's rows straight into Parquet data files inside the table, one per bucket
group (:class:`StagingWriter`); no reader sees them until a commit adds them, and those of a killed
writer are removed by ``vacuum`` once older than the retention, never while another writer may
still commit them.
"""

from __future__ import annotations

import posixpath
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.adapters import tables
from tasks.adapters.storage import Storage

TABLE = "curated"
BUCKET = "bucket"  # stable hash bucket of unique_id, stored in the table, never returned to users
GROUP = "bucket_group"  # the partition column: bucket // GROUP_BUCKETS
NBUCKETS = 256
GROUP_BUCKETS = 32  # 8 partitions: few files per small ingest, shards of up to 8 read only theirs
KEYS = ["unique_id", "ds"]
INTERNAL = (BUCKET, GROUP)
WRITER = "lstmf.curated"  # the app transaction every commit of curated rows carries
SOURCE = "lstmf.source."  # + a source file's hash: that file is in the table
LEGACY = "lstmf.legacy-manifest"  # the earlier format was converted


def bucket_of(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """CRC-32 of each id's UTF-8 bytes mod :data:`NBUCKETS` (stable across processes and machines,
    unlike ``hash()``), computed once per distinct id on the dictionary of the column."""
    arr = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    enc = arr if pa.types.is_dictionary(arr.type) else pc.dictionary_encode(arr)
    table = np.fromiter(
        (zlib.crc32(v.encode()) % NBUCKETS if v is not None else 0 for v in enc.dictionary.to_pylist()),
        dtype=np.int16,
        count=len(enc.dictionary),
    )
    idx = enc.indices.fill_null(0).to_numpy(zero_copy_only=False)
    return pa.array(table[idx] if len(table) else np.zeros(len(arr), np.int16), pa.int16())


def shard_range(shard: tuple[int, int]) -> tuple[int, int]:
    """Shard ``(k, n)`` of the data = the buckets ``[lo, hi)``: ``bucket * n // NBUCKETS == k``.
    Contiguous bucket ranges (rather than ``bucket % n``), so that a shard reads few partitions."""
    k, n = shard
    if not (1 <= n <= NBUCKETS and 0 <= k < n):
        raise ValueError(f"shard {shard}: need 0 <= k < n <= {NBUCKETS}")
    return -(-k * NBUCKETS // n), -(-(k + 1) * NBUCKETS // n)


def _as_stored(table: pa.Table) -> pa.Table:
    """Rows as the table stores them: microsecond timestamps (Delta's precision; finer ones fail
    loudly rather than collide), the bucket column last."""
    table = table.drop_columns([c for c in INTERNAL if c in table.column_names])
    i = table.column_names.index("ds")
    table = table.set_column(i, "ds", pc.cast(table["ds"], pa.timestamp("us")))
    return table.append_column(BUCKET, bucket_of(table["unique_id"]))


@dataclass
class Staged:
    """A file's rows written as data files of the table (one per bucket group), not committed."""

    storage: Storage
    files: dict[int, str] = field(default_factory=dict)  # bucket group -> path relative to the table

    def path(self, rel: str) -> str:
        return self.storage.path(posixpath.join(TABLE, rel))

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The staged rows, a group and a row group at a time (every row of a series in one group)."""
        for rel in self.files.values():
            with self.storage.fs.open(self.path(rel), "rb") as f:
                yield from pq.ParquetFile(f).iter_batches(batch_size=1 << 20, columns=columns)

    def read(self, columns: list[str] | None = None) -> pa.Table:
        tables_ = []
        for rel in self.files.values():
            with self.storage.fs.open(self.path(rel), "rb") as f:
                tables_.append(pq.read_table(f, columns=columns))
        return pa.concat_tables(tables_)

    def rewrite(self, table: pa.Table) -> None:
        """Replace the staged rows by ``table`` (rows dropped, gaps filled, duplicates resolved)."""
        old = list(self.files.values())
        with StagingWriter(self.storage) as w:
            w.write_table(table)
        self.discard(old)
        self.files = w.staged.files

    def discard(self, rels: list[str] | None = None) -> None:
        for rel in self.files.values() if rels is None else rels:
            if self.storage.fs.exists(self.path(rel)):
                self.storage.fs.rm(self.path(rel))

    def add_actions(self) -> list[Any]:
        """One Delta ``add`` per staged file, with the statistics of every column (row count, nulls,
        min and max) that let readers and MERGEs skip it, taken from the Parquet footer (no data
        read). A column without them would make delta-rs's pyarrow dataset skip the file under any
        filter on that column."""
        import json

        from deltalake.transaction import AddAction

        actions = []
        for group, rel in self.files.items():
            info = self.storage.fs.info(self.path(rel))
            with self.storage.fs.open(self.path(rel), "rb") as f:
                meta = pq.ParquetFile(f).metadata
            actions.append(
                AddAction(
                    rel,
                    int(info["size"]),
                    {GROUP: str(group)},
                    int(pd.Timestamp.now("UTC").value // 10**6),
                    True,
                    json.dumps(_file_stats(meta)),
                )
            )
        return actions


def _file_stats(meta: pq.FileMetaData) -> dict[str, Any]:
    """Delta file statistics from a Parquet footer: the row groups' min, max and null counts merged."""
    names = meta.schema.to_arrow_schema().names
    stats: dict[str, Any] = {"numRecords": meta.num_rows, "minValues": {}, "maxValues": {}, "nullCount": {}}
    for j, name in enumerate(names):
        nulls, lo, hi = 0, None, None
        for i in range(meta.num_row_groups):
            st = meta.row_group(i).column(j).statistics
            nulls += st.null_count
            if st.has_min_max:
                a, z = (st.min_raw, st.max_raw) if name == "ds" else (st.min, st.max)  # ds: int64 microseconds
                lo, hi = (a, z) if lo is None else (min(lo, a), max(hi, z))
        stats["nullCount"][name] = nulls
        if lo is not None:
            if name == "ds":
                lo, hi = _stat_time(lo), _stat_time(hi)
            stats["minValues"][name], stats["maxValues"][name] = lo, hi
    return stats


def _stat_time(us: int) -> str:
    """A Delta statistics timestamp: milliseconds, truncated (readers widen the max by 1 ms)."""
    return pd.Timestamp(us // 1000 * 1000, unit="us").strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


class StagingWriter:
    """Writes rows into one new Parquet data file per bucket group under ``curated/bucket_group=G/``
    (rows keep their order within a group); :attr:`staged` lists them once closed."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.staged = Staged(storage)
        self._writers: dict[int, tuple[Any, pq.ParquetWriter]] = {}

    def write_table(self, table: pa.Table) -> None:
        table = _as_stored(table)
        groups = pc.divide(table[BUCKET], pa.scalar(GROUP_BUCKETS, pa.int16())).to_numpy()
        order = np.argsort(groups, kind="stable")
        cuts = np.flatnonzero(np.diff(groups[order])) + 1
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(order)]):
            if hi > lo:
                self._writer(int(groups[order[lo]]), table.schema).write_table(table.take(order[lo:hi]))

    def _writer(self, group: int, schema: pa.Schema) -> pq.ParquetWriter:
        if group not in self._writers:
            rel = f"{GROUP}={group}/part-{uuid.uuid4()}-c000.zstd.parquet"
            self.storage.fs.makedirs(posixpath.dirname(self.staged.path(rel)), exist_ok=True)
            f = self.storage.fs.open(self.staged.path(rel), "wb")
            self._writers[group] = (f, pq.ParquetWriter(f, schema, compression="zstd"))
            self.staged.files[group] = rel
        return self._writers[group][1]

    def close(self) -> Staged:
        for f, w in self._writers.values():
            w.close()
            f.close()
        self._writers.clear()
        return self.staged

    def __enter__(self) -> StagingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Curated:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.uri = tables.uri(storage, TABLE)
        self.options = tables.options(storage)
        self._latest: Any = None  # the newest version, brought up to date by each table() call

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_latest": None}

    def exists(self) -> bool:
        convert_legacy(self)
        return self.storage.exists(f"{TABLE}/_delta_log")

    def table(self, version: int | str | None = None) -> Any:
        """The table (at ``version``: a number or an ISO timestamp) or None when there is none. The
        newest version is one object per instance, updated in place by each call."""
        from deltalake import DeltaTable

        if version is None and self._latest is not None:
            self._latest.update_incremental()  # the commits since: cheaper than a new snapshot of a long log
            return self._latest
        if not self.exists():
            return None
        dt = DeltaTable(self.uri, storage_options=self.options)
        if version is not None:
            dt.load_as_version(int(version) if str(version).isdigit() else pd.Timestamp(version).to_pydatetime())
        else:
            self._latest = dt
        return dt

    def version(self) -> int | None:
        dt = self.table()
        return None if dt is None else dt.version()

    def value_columns(self) -> list[str] | None:
        dt = self.table()
        if dt is None:
            return None
        return [f.name for f in dt.schema().fields if f.name not in (*KEYS, *INTERNAL)]

    def size(self, dt: Any = None) -> tuple[int, int]:
        """(rows, data files) of the current version, from the log (no data read)."""
        dt = dt if dt is not None else self.table()
        if dt is None:
            return 0, 0
        adds = pa.table(dt.get_add_actions(flatten=True))
        return int(pc.sum(adds["num_records"]).as_py() or 0), adds.num_rows

    def read_table(
        self,
        columns: list[str] | None = None,
        shard: tuple[int, int] | None = None,
        version: int | str | None = None,
        where: pc.Expression | None = None,
    ) -> pa.Table | None:
        """The rows (only shard ``(k, n)``'s series when given: its partitions, then its buckets),
        unsorted, without the internal columns; None when there is no table."""
        dt = self.table(version)
        if dt is None:
            return None
        dataset = dt.to_pyarrow_dataset()
        names = [n for n in dataset.schema.names if n not in INTERNAL] if columns is None else list(columns)
        filters = [where] if where is not None else []
        if shard is not None:
            lo, hi = shard_range(shard)
            groups = pa.array(range(lo // GROUP_BUCKETS, (hi - 1) // GROUP_BUCKETS + 1), pa.int16())
            filters += [pc.field(GROUP).isin(groups), pc.field(BUCKET) >= lo, pc.field(BUCKET) < hi]
        flt = None
        for f in filters:
            flt = f if flt is None else flt & f
        return dataset.to_table(columns=names, filter=flt)

    def read(
        self, columns: list[str] | None = None, shard: tuple[int, int] | None = None, version: int | str | None = None
    ) -> pd.DataFrame:
        """The dataset sorted by (unique_id, ds); with ``shard=(k, n)`` only the series of shard k of n
        (the shards partition the series); ``version`` reads an earlier one (time travel)."""
        t = self.read_table(columns, shard=shard, version=version)
        if t is None:
            return pd.DataFrame(
                {
                    "unique_id": pd.Series(dtype=str),
                    "ds": pd.Series(dtype="datetime64[ns]"),
                    "y": pd.Series(dtype="float64"),
                }
            )
        df = sort_rows(t).to_pandas()
        df["unique_id"] = df["unique_id"].astype(str)
        if "ds" in df:
            df["ds"] = df["ds"].astype("datetime64[ns]")
        return df


def _id_ranks(ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """(N,) the rank of each row's id among the distinct ids: sorting integers, not strings."""
    enc = pc.dictionary_encode(ids).combine_chunks() if isinstance(ids, pa.ChunkedArray) else pc.dictionary_encode(ids)
    rank = np.empty(len(enc.dictionary), dtype=np.int32)
    rank[pc.sort_indices(enc.dictionary).to_numpy()] = np.arange(len(enc.dictionary), dtype=np.int32)
    return rank[enc.indices.to_numpy(zero_copy_only=False)]


def sort_rows(t: pa.Table) -> pa.Table:
    """Rows sorted by (unique_id, ds) in one Arrow sort."""
    keys = pa.table({"id": _id_ranks(t["unique_id"]), "ds": t["ds"]})
    return t.take(pc.sort_indices(keys, sort_keys=[("id", "ascending"), ("ds", "ascending")]))


def latest_per_key(t: pa.Table) -> pa.Table:
    """Rows sorted by (unique_id, ds), one per key: the last in ``t``'s order (a file's duplicates)."""
    keys = pa.table({"id": _id_ranks(t["unique_id"]), "ds": t["ds"], "pos": np.arange(t.num_rows, dtype=np.int64)})
    t = t.take(pc.sort_indices(keys, sort_keys=[("id", "ascending"), ("ds", "ascending"), ("pos", "descending")]))
    if t.num_rows < 2:
        return t
    uid, ds = t["unique_id"].combine_chunks(), t["ds"].combine_chunks()
    repeat = pc.and_(
        pc.equal(uid.slice(1), uid.slice(0, len(uid) - 1)), pc.equal(ds.slice(1), ds.slice(0, len(ds) - 1))
    )  # (N-1,) row i+1 repeats row i's key
    return t.filter(pa.concat_arrays([pa.array([True]), pc.invert(repeat.fill_null(False))]))


def read_curated(
    storage_root: str, shard: tuple[int, int] | None = None, version: int | str | None = None
) -> pd.DataFrame:
    return Curated(Storage(storage_root)).read(shard=shard, version=version)


def staged_schema(staged: Staged) -> pa.Schema:
    rel = next(iter(staged.files.values()))
    with staged.storage.fs.open(staged.path(rel), "rb") as f:
        return pq.read_schema(f)


def convert_legacy(cur: Curated) -> None:
    """A curated dataset of the earlier format (Parquet parts listed by ``curated/_manifest.json``) ->
    the Delta table, in place: the latest row per key and every listed source file's hash, in one
    commit; the old files then move under ``curated/_legacy/`` (never read again, never vacuumed)."""
    storage = cur.storage
    manifest_rel = f"{TABLE}/_manifest.json"
    if not storage.exists(manifest_rel):
        return
    from deltalake import CommitProperties, DeltaTable, Transaction

    manifest = storage.read_json(manifest_rel)
    done = (
        storage.exists(f"{TABLE}/_delta_log")
        and DeltaTable(cur.uri, storage_options=cur.options).transaction_version(LEGACY) is not None
    )
    if manifest.get("parts") and not done:
        parts = []
        for p in manifest["parts"]:
            with storage.fs.open(storage.path(f"{TABLE}/parts/{p['name']}"), "rb") as f:
                t = pq.read_table(f)
            parts.append(t.drop_columns([c for c in INTERNAL if c in t.column_names]))
        with StagingWriter(storage) as w:
            w.write_table(latest_per_key(pa.concat_tables(parts, promote_options="permissive")))
        schema = staged_schema(w.staged).append(pa.field(GROUP, pa.int16()))
        txns = [Transaction(WRITER, 1), Transaction(LEGACY, 1)] + [
            Transaction(SOURCE + sha, 1) for sha in manifest.get("files", {})
        ]
        dt = DeltaTable.create(cur.uri, schema, mode="ignore", partition_by=[GROUP], storage_options=cur.options)
        dt.create_write_transaction(
            w.staged.add_actions(),
            mode="append",
            schema=dt.schema(),
            partition_by=[GROUP],
            commit_properties=CommitProperties(app_transactions=txns),
        )
    for name in ("parts", "_manifest.json"):
        if storage.exists(f"{TABLE}/{name}"):
            storage.fs.makedirs(storage.path(f"{TABLE}/_legacy"), exist_ok=True)
            storage.fs.mv(storage.path(f"{TABLE}/{name}"), storage.path(f"{TABLE}/_legacy/{name}"), recursive=True)
