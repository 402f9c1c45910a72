"""Delta Lake tables under the storage root, through ``deltalake`` (delta-rs).

The scores are a Delta table replaced whole at each scoring; the forecasts one partitioned by cutoff date: a run replaces its cutoff's partition
in one commit (``overwrite`` with a predicate), so readers see the previous partition or the new
one, never a mix or a partial file, and DuckDB, polars or Spark read the table as it is. Older
storages (plain Parquet partitions) are converted in place at the first write or read.

On S3, delta-rs's own object store commits; it takes the endpoint and credentials from the same
environment as the rest (``AWS_ENDPOINT_URL``, the botocore variables), and the commit uses S3's
conditional put, so two writers never overwrite each other's log entry.
"""

from __future__ import annotations

import os
import time

import pandas as pd
import pyarrow as pa

from tasks.adapters.storage import Storage

PARTITION = "cutoff_date"
COMMIT_ATTEMPTS = 20  # optimistic concurrency: a commit that lost the race is retried


def uri(storage: Storage, name: str) -> str:
    return str(storage.local_root() / name) if storage.is_local else storage.fs.unstrip_protocol(storage.path(name))


def options(storage: Storage) -> dict[str, str] | None:
    """delta-rs storage options: None locally; on S3, the environment's endpoint and a safe commit."""
    if storage.is_local:
        return None
    opts = {"conditional_put": "etag"}
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        opts["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            opts["AWS_ALLOW_HTTP"] = "true"
    return opts


def exists(storage: Storage, name: str) -> bool:
    # through fsspec, not DeltaTable.is_deltatable: that call holds the GIL during its requests,
    # which stalls every other thread of the process (a served flow's, an in-process S3 server's)
    _convert_legacy(storage, name)
    return storage.exists(f"{name}/_delta_log")


def replace_partition(storage: Storage, name: str, frame: pd.DataFrame, value: str) -> int:
    """Write ``frame`` as the partition ``PARTITION = value`` of table ``name`` in one commit
    (creating the table the first time); returns the new table version."""
    from deltalake import DeltaTable, write_deltalake
    from deltalake.exceptions import CommitFailedError, DeltaError

    data = pa.Table.from_pandas(frame.assign(**{PARTITION: value}), preserve_index=False)
    where, opts = uri(storage, name), options(storage)
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            if exists(storage, name):
                write_deltalake(
                    where,
                    data,
                    mode="overwrite",
                    partition_by=[PARTITION],
                    storage_options=opts,
                    predicate=f"{PARTITION} = '{value}'",
                    schema_mode="merge",
                )  # new columns join
            else:
                write_deltalake(
                    where, data, mode="error", partition_by=[PARTITION], storage_options=opts
                )  # create only
            return DeltaTable(where, storage_options=opts).version()
        except (CommitFailedError, DeltaError) as exc:
            # another writer committed first (the same cutoff, or the table's creation): the
            # replacement is redone on the newer version, so the last run's rows win, whole
            lost_race = isinstance(exc, CommitFailedError) or "exists" in str(exc).lower()
            if attempt == COMMIT_ATTEMPTS - 1 or not lost_race:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def read(storage: Storage, name: str, columns: list[str] | None = None, partition: str | None = None) -> pd.DataFrame:
    """The table's current rows (the columns it has among ``columns``; one partition when given);
    an empty frame when there is no table."""
    from deltalake import DeltaTable

    if not exists(storage, name):
        return pd.DataFrame()
    table = DeltaTable(uri(storage, name), storage_options=options(storage))
    have = [f.name for f in table.schema().fields]
    cols = [c for c in columns if c in have] if columns else None
    filters = [(PARTITION, "=", partition)] if partition else None
    return table.to_pandas(columns=cols, filters=filters)


def overwrite(storage: Storage, name: str, frame: pd.DataFrame) -> int:
    """Replace the whole of table ``name`` by ``frame`` in one commit; returns the new version."""
    from deltalake import DeltaTable, write_deltalake
    from deltalake.exceptions import CommitFailedError

    data = pa.Table.from_pandas(frame, preserve_index=False)
    where, opts = uri(storage, name), options(storage)
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            write_deltalake(where, data, mode="overwrite", schema_mode="overwrite", storage_options=opts)
            return DeltaTable(where, storage_options=opts).version()
        except CommitFailedError:  # another writer committed first: the whole table is written again
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _convert_legacy(storage: Storage, name: str) -> None:
    """Plain Parquet written before the table existed (one file per cutoff partition, or one file
    for the whole table) -> a Delta table, in place. delta-rs names its own files part-*."""
    if not storage.exists(name) or storage.exists(f"{name}/_delta_log"):
        return
    from deltalake import Field, Schema, convert_to_deltalake

    if storage.glob(f"{name}/{PARTITION}=*/{name}.parquet"):
        convert_to_deltalake(
            uri(storage, name),
            partition_by=Schema([Field(PARTITION, "string")]),
            partition_strategy="hive",
            storage_options=options(storage),
        )
    elif storage.exists(f"{name}/{name}.parquet"):
        convert_to_deltalake(uri(storage, name), storage_options=options(storage))
