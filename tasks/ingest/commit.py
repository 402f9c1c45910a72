"""Commits to the curated table: appends, MERGEs, the record of ingested files, maintenance.

- One commit per ingested file, against the newest version. A file whose (unique_id, ds) are all
  new is an append of its staged data files as they are (no copy). One that meets existing keys is
  a MERGE pruned to the file's time range and partitions: changed values are updated (or the file
  is rejected, per ``on_overlap``), the other rows inserted.
- Every commit carries the app transaction :data:`WRITER`. delta-rs refuses a commit when another
  commit with the same app id landed after the version it read, so two writers never both decide
  from one snapshot that some keys are new (two blind appends of the same keys would both land);
  the refused one is redone against the newer version, where its append may become a MERGE.
- Each ingested source file is the app transaction ``lstmf.source.<sha256>`` of the commit that
  added its rows: "the same content twice adds nothing" is table state, atomic with the rows, and
  holds for concurrent ingests of one file. The file's name and counts go in the commit's metadata.
- Maintenance: compaction by tiers (``optimize.compact``, one at a time) once small files pile up,
  then ``vacuum`` with the retention setting (which also removes a killed writer's uncommitted
  files), a checkpoint and the expired log entries.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tasks.adapters.curated import GROUP, INTERNAL, KEYS, SOURCE, TABLE, WRITER, Curated, Staged, staged_schema
from tasks.adapters.locks import LockTimeout, hold

COMMIT_ATTEMPTS = 30
LEVELS = (1 << 20, 8 << 20, 64 << 20)  # compaction tiers: the file sizes each one aims at
FANOUT = 8  # files under half a tier's size (above the first) that make it due
VACUUM_EVERY = 32  # versions: a maintenance crossing a multiple of it since the last one vacuums in full
COMPACTION_LOCK = "curated-compaction"


@dataclass
class Outcome:
    status: str  # ingested | unchanged | rejected
    changed: int = 0  # existing values the file changes
    version: int | None = None


class KnownSources:
    """``sha256 in known``: was a file of that content ingested (as of the newest version when
    first asked)? Holds no table, so it travels to other processes as two strings."""

    def __init__(self, cur: Curated) -> None:
        self.uri, self.options = cur.uri, cur.options
        self._exists = cur.exists()
        self._dt: Any = cur.table() if self._exists else None  # in this process: the table ``cur`` holds

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_dt": None}

    def __contains__(self, sha: object) -> bool:
        if not self._exists:
            return False
        if self._dt is None:
            from deltalake import DeltaTable

            self._dt = DeltaTable(self.uri, storage_options=self.options)
        return self._dt.transaction_version(SOURCE + str(sha)) is not None


def commit_file(
    cur: Curated, staged: Staged, sha: str, ranges: pd.DataFrame, on_overlap: str, info: dict[str, Any]
) -> Outcome:
    """Commit one file's staged rows (see the module docstring); the staged files are gone or part of
    the table afterwards."""
    from deltalake import CommitProperties, Transaction
    from deltalake.exceptions import CommitFailedError

    for attempt in range(COMMIT_ATTEMPTS):
        dt = cur.table() or _create(cur, staged)
        if dt.transaction_version(SOURCE + sha) is not None:
            staged.discard()
            return Outcome("unchanged")
        props = CommitProperties(
            custom_metadata={"lstmf.source": json.dumps(info, default=str)},
            app_transactions=[Transaction(WRITER, dt.version() + 1), Transaction(SOURCE + sha, 1)],
        )
        try:
            have = {f.name for f in dt.schema().fields}
            new_cols = [c for c in staged_schema(staged).names if c not in have]
            matched, changed = _compare(dt, staged, ranges)
            if changed and on_overlap == "reject":
                staged.discard()
                return Outcome("rejected", changed)
            if matched == 0 and not new_cols:
                dt.create_write_transaction(
                    staged.add_actions(),
                    mode="append",
                    schema=dt.schema(),
                    partition_by=[GROUP],
                    commit_properties=props,
                )
            else:
                _merge(dt, staged, ranges, on_overlap == "replace", bool(new_cols), props)
                staged.discard()
            return Outcome("ingested", changed, cur.version())  # the newest version, this commit included
        except CommitFailedError:  # another writer committed after the version read: decide again
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


def _create(cur: Curated, staged: Staged) -> Any:
    """The empty table with the first file's columns (a concurrent creator may win: then its table)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    schema = staged_schema(staged).append(pa.field(GROUP, pa.int16()))
    try:
        DeltaTable.create(cur.uri, schema, mode="ignore", partition_by=[GROUP], storage_options=cur.options)
    except DeltaError:  # created by another writer in the meantime
        pass
    return cur.table()


def _time(ts: pd.Timestamp) -> pa.Scalar:
    return pa.scalar(pd.Timestamp(ts).as_unit("us"), pa.timestamp("us"))


def _compare(dt: Any, staged: Staged, ranges: pd.DataFrame) -> tuple[int, int]:
    """(keys of the file already in the table, of which with a different value), reading only the
    table's files that the file's partitions and time range can touch."""
    groups = pa.array(list(staged.files), pa.int16())
    first, last = _time(ranges["first"].min()), _time(ranges["last"].max())
    adds = pa.table(dt.get_add_actions(flatten=True))  # the log's file statistics: no data read
    if adds.num_rows:
        ms = pa.scalar(1000, pa.duration("us"))  # statistics are truncated to milliseconds
        reach = pc.and_(
            pc.or_(pc.is_null(adds["max.ds"]), pc.greater_equal(pc.add(adds["max.ds"], ms), first)),
            pc.or_(pc.is_null(adds["min.ds"]), pc.less_equal(adds["min.ds"], last)),
        )
        reach = pc.and_(pc.is_in(adds[f"partition.{GROUP}"], groups), reach)
    if adds.num_rows == 0 or not pc.any(reach).as_py():
        return 0, 0  # no file of the table reaches the file's partitions and time range: all its keys are new
    ids = pa.array(ranges["unique_id"].astype(str).tolist(), pa.string())
    where = (
        pc.field(GROUP).isin(groups)
        & (pc.field("ds") >= first)
        & (pc.field("ds") <= last)
        & pc.field("unique_id").isin(ids)
    )
    dataset = dt.to_pyarrow_dataset()
    values = [n for n in dataset.schema.names if n not in (*KEYS, *INTERNAL)]
    old = dataset.to_table(columns=KEYS + values, filter=where)
    if old.num_rows == 0:
        return 0, 0
    mine = [c for c in values if c in staged_schema(staged).names]
    new = staged.read(KEYS + mine)
    new = new.filter(pc.is_in(new["unique_id"], pc.unique(old["unique_id"])))
    joined = new.join(old.select(KEYS + mine), keys=KEYS, join_type="inner", right_suffix="_old")
    differ = pa.array([False] * joined.num_rows, pa.bool_())
    for c in mine:
        a, b = joined[c], joined[f"{c}_old"]
        same = pc.or_kleene(pc.equal(a, b), pc.and_(pc.is_null(a, nan_is_null=True), pc.is_null(b, nan_is_null=True)))
        differ = pc.or_(differ, pc.invert(same.fill_null(False)))
    return joined.num_rows, int(pc.sum(differ).as_py() or 0)


def _merge(dt: Any, staged: Staged, ranges: pd.DataFrame, replace: bool, new_cols: bool, props: Any) -> None:
    schema = staged_schema(staged).append(pa.field(GROUP, pa.int16()))

    def batches():
        for group, rel in staged.files.items():
            with staged.storage.fs.open(staged.path(rel), "rb") as f:
                for b in pq.ParquetFile(f).iter_batches(batch_size=1 << 20):
                    yield b.append_column(GROUP, pa.array([group] * b.num_rows, pa.int16()))

    lo, hi = (
        pd.Timestamp(ranges[c].agg(f)).as_unit("us").isoformat(sep=" ") for c, f in (("first", "min"), ("last", "max"))
    )
    predicate = (
        f"t.{GROUP} = s.{GROUP} AND t.ds >= '{lo}' AND t.ds <= '{hi}' "  # literal bounds prune files
        "AND t.unique_id = s.unique_id AND t.ds = s.ds"
    )
    values = [c for c in schema.names if c not in (*KEYS, *INTERNAL)]
    m = dt.merge(
        pa.RecordBatchReader.from_batches(schema, batches()),
        predicate,
        source_alias="s",
        target_alias="t",
        merge_schema=new_cols,
        commit_properties=props,
    )
    if replace:  # only the rows whose values change (all matched rows when the file adds columns)
        changed = None if new_cols else " OR ".join(f"t.{c} IS DISTINCT FROM s.{c}" for c in values)
        m = m.when_matched_update_all(predicate=changed)
    m.when_not_matched_insert_all().execute()


def maintain(
    cur: Curated, retention_hours: int, min_files: int, force: bool = False, lease_s: float = 3600
) -> dict[str, Any]:
    """Compact by tiers (:data:`LEVELS`), then vacuum what no version younger than the retention
    needs (in full, unlisted files too, every :data:`VACUUM_EVERY` versions or when ``force``d);
    checkpoint the log and drop its expired entries.

    A tier compacts once a partition holds enough files under half its size (``min_files`` for the
    first tier, :data:`FANOUT` above; ``force`` runs the first tier and the vacuum anyway) into
    files of up to that size: a compaction rewrites at most one tier's size per partition, so its
    cost stays flat as the table grows, and each row is rewritten once per tier. One compaction at a
    time (the lease lock :data:`COMPACTION_LOCK`; a busy one is left to the next run): delta-rs lets
    two compactions that read one version both land, each re-adding the rows of the files both
    removed. A compaction that meets a concurrent commit is also left to the next run."""
    from deltalake.exceptions import CommitFailedError

    dt = cur.table()
    if dt is None:
        return {"compacted": False}
    out: dict[str, Any] = {"compacted": False, "files": len(dt.file_uris())}
    if not (force or _due(dt, min_files)):
        return out
    try:
        with hold(cur.storage, COMPACTION_LOCK, note="curated compaction", ttl=lease_s, wait=0):
            removed = added = 0
            for level, size in enumerate(LEVELS):
                dt = cur.table()  # under the lock: what an earlier tier or compaction left
                if not ((force and level == 0) or _due(dt, min_files, level)):
                    continue
                try:
                    metrics = dt.optimize.compact(target_size=size)
                except CommitFailedError:
                    out["skipped"] = "a concurrent commit"
                    break
                removed += metrics.get("numFilesRemoved", 0)
                added += metrics.get("numFilesAdded", 0)
            if not (removed or force):
                return out
            out.update(compacted=bool(removed), files_removed=removed, files_added=added)
            dt = cur.table()
            # the files replaced before the retention, as the log lists them; every VACUUM_EVERY versions
            # (from the last maintenance's checkpoint) a full vacuum, which lists every file, for the
            # staged files of writers killed before their commit
            full = force or dt.version() // VACUUM_EVERY != _checkpointed(cur) // VACUUM_EVERY
            out["vacuumed"] = len(
                dt.vacuum(retention_hours=retention_hours, dry_run=False, full=full, enforce_retention_duration=False)
            )
            dt.create_checkpoint()
            dt.cleanup_metadata()
            out["version"] = dt.version()
    except LockTimeout:
        out["skipped"] = "another compaction"
    return out


def _checkpointed(cur: Curated) -> int:
    """The version of the table's last checkpoint (the last maintenance's), -1 when none."""
    rel = f"{TABLE}/_delta_log/_last_checkpoint"
    return int(cur.storage.read_json(rel)["version"]) if cur.storage.exists(rel) else -1


def _due(dt: Any, min_files: int, level: int | None = None) -> bool:
    """Whether some partition holds enough files under half of tier ``level``'s size (any tier)."""
    adds = pa.table(dt.get_add_actions(flatten=True))
    for lv in range(len(LEVELS)) if level is None else [level]:
        small = adds.filter(pc.less(adds["size_bytes"], LEVELS[lv] // 2))
        per_partition = small.group_by(f"partition.{GROUP}").aggregate([("path", "count")])
        if per_partition.num_rows and pc.max(per_partition["path_count"]).as_py() >= (min_files if lv == 0 else FANOUT):
            return True
    return False
