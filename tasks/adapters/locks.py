"""A named lock that works across processes and machines: a lease taken by a commit to the
``storage/locks`` Delta table.

Each take and release is a row appended in a commit carrying the app transaction
``lstmf.lock.<name>``: delta-rs refuses the commit when another one with that app id landed after
the version it read, so of two processes that both saw the lock free, one takes it and the other
reads again and waits. It needs nothing but the storage (local disk or S3 through delta-rs's
conditional put). A holder killed with ``kill -9`` never releases: its lease lapses after ``ttl``.
The rows are the lock's history: who held it, when, and for what.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pandas as pd
import pyarrow as pa

from tasks.adapters import tables
from tasks.adapters.storage import Storage

LOCKS = "locks"
TIDY_EVERY = 64  # lock commits between two compactions of the locks table
# the lock's history needs no time travel: a tidy drops log entries and tombstones older than an hour
RETENTION = {"delta.logRetentionDuration": "interval 1 hours", "delta.deletedFileRetentionDuration": "interval 1 hours"}
SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        ("seq", pa.int64()),
        ("holder", pa.string()),
        ("state", pa.string()),
        ("expires_at", pa.timestamp("us", "UTC")),
        ("at", pa.timestamp("us", "UTC")),
        ("note", pa.string()),
    ]
)


class LockTimeout(TimeoutError):
    pass


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _latest(dt, name: str) -> dict | None:
    rows = dt.to_pandas(filters=[("name", "=", name)])
    if rows.empty:
        return None
    return rows.sort_values("seq", kind="stable").iloc[-1].to_dict()  # commits of one name never interleave


def _append(storage: Storage, dt, row: dict) -> None:
    from deltalake import CommitProperties, Transaction, write_deltalake

    row = {**row, "seq": dt.version() + 1}
    write_deltalake(
        dt,
        pa.Table.from_pylist([row], SCHEMA),
        mode="append",
        commit_properties=CommitProperties(
            app_transactions=[Transaction(f"lstmf.lock.{row['name']}", dt.version() + 1)]
        ),
    )
    if row["seq"] % TIDY_EVERY == 0:
        _tidy(dt)


def _tidy(dt) -> None:
    """One row per commit piles up small files: compact them, checkpoint the log, vacuum. Safe beside
    other lock commits (appends); two at once may store a row twice, which reads the same (by seq)."""
    dt.optimize.compact()
    dt.create_checkpoint()
    dt.vacuum(retention_hours=1, dry_run=False, enforce_retention_duration=False)
    dt.cleanup_metadata()


def _table(storage: Storage):
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    where, opts = tables.uri(storage, LOCKS), tables.options(storage)
    if not tables.exists(storage, LOCKS):
        try:
            DeltaTable.create(where, SCHEMA, mode="ignore", storage_options=opts, configuration=RETENTION)
        except DeltaError:  # created by another process in the meantime
            pass
    return DeltaTable(where, storage_options=opts)


@contextmanager
def hold(
    storage: Storage, name: str, note: str = "", ttl: float = 1800, wait: float = 1800, poll: float = 0.1
) -> Iterator[str]:
    """Hold lock ``name`` for the block (yields the holder id); waits up to ``wait`` seconds for it."""
    from deltalake.exceptions import CommitFailedError

    holder = f"{socket.gethostname()}:{uuid.uuid4().hex[:12]}"
    deadline = time.monotonic() + wait
    while True:
        dt = _table(storage)
        state = _latest(dt, name)
        now = _now()
        if state is None or state["state"] == "released" or pd.Timestamp(state["expires_at"]) < now:
            try:
                _append(
                    storage,
                    dt,
                    {
                        "name": name,
                        "holder": holder,
                        "state": "held",
                        "expires_at": now + timedelta(seconds=ttl),
                        "at": now,
                        "note": note,
                    },
                )
                break
            except CommitFailedError:  # another process took it (or released it) first: look again
                continue
        if time.monotonic() > deadline:
            raise LockTimeout(
                f"lock {name!r} in {storage.uri(LOCKS)} is held by {state['holder']} "
                f"until {state['expires_at']} ({state['note']})"
            )
        time.sleep(poll)
    try:
        yield holder
    finally:
        while True:
            dt = _table(storage)
            state = _latest(dt, name)
            if state is None or state["holder"] != holder or state["state"] != "held":
                break  # the lease lapsed and another holder took it: nothing of ours to release
            try:
                _append(
                    storage,
                    dt,
                    {
                        "name": name,
                        "holder": holder,
                        "state": "released",
                        "expires_at": _now(),
                        "at": _now(),
                        "note": note,
                    },
                )
                break
            except CommitFailedError:
                continue


def history(storage: Storage, name: str) -> pd.DataFrame:
    """Every take and release of lock ``name``, in order."""
    rows = tables.read(storage, LOCKS)
    if rows.empty:
        return rows
    rows = rows[rows["name"] == name].drop_duplicates("seq")  # a row twice after two tidies at once
    return rows.sort_values("seq", kind="stable", ignore_index=True)
