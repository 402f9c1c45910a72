"""Ingest flow: CSV files -> the curated Delta table."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_table_artifact

from flows.common import SettingsTaskRunner, settings_from
from flows.render import ingest_table
from tasks.ingest.stage import IngestSummary, commit_task, discover_task, ingest_file_task


@flow(name="ingest", log_prints=True, task_runner=SettingsTaskRunner())
def ingest_flow(
    input: str | None = None, storage: str | None = None, overrides: dict[str, Any] | None = None
) -> IngestSummary:
    """1. discover files  2. stage each file's rows (one task per file)  3. commit each, maintain  4. per-file table."""
    s = settings_from(overrides, **{"ingest.input": input, "storage.root": storage})
    files, known, columns = discover_task(s.ingest.input, s.storage.root)
    results = ingest_file_task.map(
        files, unmapped(s.storage.root), unmapped(s.ingest), unmapped(known), unmapped(columns)
    )
    summary = commit_task(s.storage.root, results.result(), s.ingest)
    create_table_artifact(key="ingest-files", table=ingest_table(summary), description="Files seen by this ingest run")
    log = get_run_logger()
    for f in summary.files:
        if f["status"] == "rejected":
            log.error("rejected %s: %s", f["file"], f["reason"])
    log.info(
        "%d rows accepted, %d rejected; curated: %d rows in %d files, version %s",
        summary.rows_accepted,
        summary.rows_rejected,
        summary.curated_rows,
        summary.curated_parts,
        summary.curated_version,
    )
    return summary
