"""Ingest flow: CSV files -> curated Parquet."""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from flows.common import settings_from
from tasks.ingest import ingest_task


@flow(name="ingest", log_prints=True)
def ingest_flow(input: str | None = None, storage: str | None = None, overrides: dict[str, Any] | None = None) -> dict:
    """1. resolve settings  2. ingest every file (bad ones quarantined)  3. publish a per-file table."""
    s = settings_from(overrides, **{"ingest.input": input, "storage.root": storage})
    summary = ingest_task(s.ingest.input, s.storage.root, s.ingest)
    create_table_artifact(key="ingest-files", table=summary["files"], description="Files seen by this ingest run")
    log = get_run_logger()
    for f in summary["files"]:
        if f["status"] == "rejected":
            log.error("rejected %s: %s", f["file"], f["reason"])
    log.info("%d rows accepted, %d rejected; curated: %d rows, %d series",
             summary["rows_accepted"], summary["rows_rejected"], summary["curated_rows"], summary["curated_series"])
    return summary
