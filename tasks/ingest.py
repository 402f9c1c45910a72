"""Ingest stage: CSV files -> curated Parquet (unique_id, ds, y) + manifest + quarantine."""
from __future__ import annotations

import hashlib
import posixpath
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.csv_reader import FileRejected, parse_csv
from tasks.settings import IngestSettings
from tasks.storage import CURATED, MANIFEST, Storage, discover, read_source


@dataclass
class FileReport:
    file: str
    sha256: str
    status: str  # ingested | unchanged | rejected
    shape: str = ""
    rows: int = 0
    rows_bad: int = 0
    duplicates: int = 0
    series: int = 0
    first: str = ""
    last: str = ""
    reason: str = ""


def ingest_files(input_path: str, storage: Storage, cfg: IngestSettings) -> dict:
    """Ingest every CSV under ``input_path``; one unreadable file never stops the others."""
    manifest: dict = storage.read_json(MANIFEST, default={})
    curated = storage.read_parquet(CURATED)
    reports: list[FileReport] = []
    frames: list[pd.DataFrame] = []
    for url in discover(input_path):
        payload = read_source(url)
        digest = hashlib.sha256(payload).hexdigest()
        if digest in manifest:
            reports.append(FileReport(url, digest, "unchanged", reason="same content already ingested"))
            continue
        report = FileReport(url, digest, "ingested")
        try:
            parsed = parse_csv(payload, url, cfg.time_col, cfg.value_col, cfg.id_col)
            n_all = len(parsed.frame) + len(parsed.bad_rows)
            if parsed.bad_rows and len(parsed.bad_rows) > cfg.max_bad_fraction * n_all:
                raise FileRejected(
                    "too_many_bad_rows",
                    f"{len(parsed.bad_rows)} of {n_all} rows are bad (limit {cfg.max_bad_fraction:.0%})",
                )
        except (FileRejected, ValueError) as exc:
            code = getattr(exc, "code", "unreadable")
            report.status, report.reason = "rejected", f"{code}: {exc}"
            _quarantine(storage, url, digest, code, str(exc), [])
            reports.append(report)
            continue
        f = parsed.frame
        report.shape, report.rows, report.rows_bad = parsed.shape, len(f), len(parsed.bad_rows)
        report.duplicates, report.series = parsed.duplicates, f["unique_id"].nunique()
        if len(f):
            report.first, report.last = str(f["ds"].min()), str(f["ds"].max())
        if parsed.bad_rows:
            _quarantine(storage, url, digest, "bad_rows", f"{len(parsed.bad_rows)} rows quarantined", parsed.bad_rows)
            report.reason = f"{len(parsed.bad_rows)} bad rows quarantined"
        frames.append(f)
        manifest[digest] = {"file": url, "rows": len(f), "ingested_at": _now()}
        reports.append(report)
    if frames:
        merged = pd.concat(([curated] if curated is not None else []) + frames, ignore_index=True)
        merged = merged.drop_duplicates(["unique_id", "ds"], keep="last")
        merged = merged.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        storage.write_parquet(CURATED, merged)  # curated first: a crash before the manifest re-ingests idempotently
        storage.write_json(MANIFEST, manifest)
        curated = merged
    total = curated if curated is not None else pd.DataFrame(columns=["unique_id", "ds", "y"])
    return {
        "files": [asdict(r) for r in reports],
        "files_ingested": sum(r.status == "ingested" for r in reports),
        "files_rejected": sum(r.status == "rejected" for r in reports),
        "rows_accepted": sum(r.rows for r in reports),
        "rows_rejected": sum(r.rows_bad for r in reports),
        "curated_rows": len(total),
        "curated_series": int(total["unique_id"].nunique()),
        "curated_path": storage.uri(CURATED),
    }


def _quarantine(storage: Storage, url: str, digest: str, code: str, message: str, rows: list[dict]) -> None:
    stem = posixpath.basename(url)
    record = {"file": url, "sha256": digest, "code": code, "message": message, "rows": rows, "at": _now()}
    storage.write_json(f"quarantine/{digest[:16]}-{_safe(stem)}.json", record)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@task(name="ingest-files", cache_policy=NO_CACHE)
def ingest_task(input_path: str, storage_root: str, cfg: IngestSettings) -> dict:
    return ingest_files(input_path, Storage(storage_root), cfg)
