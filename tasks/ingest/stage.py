"""Ingest stage: CSV files -> the curated Delta table; every rejection quarantined.

Per file (:func:`ingest_file`, one task each): hash, sniff, stream blocks into staged data files of
the table, check the keys. Then (:func:`commit_files`) one commit per accepted file, against the
newest version (:mod:`tasks.ingest.commit`), and the maintenance the table is due. Input files are
only ever read.
"""

from __future__ import annotations

import csv
import hashlib
import posixpath
import zlib
from collections.abc import Callable, Container
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.adapters.curated import KEYS, Curated, Staged, StagingWriter, latest_per_key
from tasks.adapters.settings import IngestSettings
from tasks.adapters.storage import Storage, discover
from tasks.ingest.commit import KnownSources, commit_file, maintain
from tasks.ingest.csv_reader import MAX_BAD_DETAILS, NeedsCareful, can_be_fast, iter_batches
from tasks.ingest.keystream import KeyStream
from tasks.ingest.notes import layout_notes
from tasks.ingest.readahead import ReadAhead
from tasks.ingest.sniff import ColumnMapping, FileRejected
from tasks.ingest.sources import Source, sniffed
from tasks.series.frequency import grid, infer_freqs


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
    sorted_input: bool = True
    gaps: int = 0  # missing steps, all series together
    replaced: int = 0  # already ingested values this file changed
    reason: str = ""


@dataclass(frozen=True)
class IngestSummary:
    """What one ingest did: every file's report, the totals, and the curated table after it."""

    files: list[dict]  # asdict(FileReport) of every file seen, in order: the ingest-files table artifact
    files_ingested: int
    files_rejected: int
    rows_accepted: int  # rows of the ingested files
    rows_rejected: int  # bad rows quarantined, all files together
    curated_rows: int  # the curated table after the ingest
    curated_parts: int  # its data files
    curated_version: int | None  # its newest version (None: no table yet)
    curated_path: str
    maintenance: dict = field(default_factory=dict)  # what :func:`tasks.ingest.commit.maintain` did

    def nothing_curated(self) -> str | None:
        """Why there is nothing to train on after this ingest (None: there is): no curated table,
        and each rejected file with its reason."""
        if self.curated_version is not None:
            return None
        why = [f"{f['file']}: {f['reason']}" for f in self.files if f.get("status") == "rejected"]
        return "nothing was ingested" + (": " + "; ".join(why[:5]) if why else ": no input file found")


@dataclass
class FileResult:
    report: FileReport
    staged: Staged | None = None
    columns: list[str] = field(default_factory=list)
    ranges: pd.DataFrame | None = None  # unique_id, first, last


def sha256_of(url: str, chunk: int = 1 << 23) -> str:
    h = hashlib.sha256()
    with fsspec.open(url, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def ingest_file(
    url: str, storage_root: str, cfg: IngestSettings, known: Container[str], columns: list[str] | None
) -> FileResult:
    """Parse one file into staged (uncommitted) data files; reject it (quarantined) on any file-level problem."""
    storage = Storage(storage_root)
    hashing = ThreadPoolExecutor(1, thread_name_prefix="ingest-hash")
    digest_f = hashing.submit(sha256_of, url)  # alongside the parse; resolved before any outcome
    hashing.shutdown(wait=False)

    def unchanged() -> bool:
        return digest_f.done() and digest_f.result() in known

    report = FileReport(url, "", "ingested")
    staged: Staged | None = None
    bad: list[dict] = []
    try:
        covs = tuple(c.strip() for c in cfg.covariates.split(",")) if cfg.covariates else None
        mapping = ColumnMapping(cfg.time_col, cfg.value_col, cfg.id_col, covs, cfg.dayfirst)
        source, layout, passed = sniffed(Source.of(url), mapping)  # sales.csv.gz, sales.xlsx: the CSV they hold
        cols = ["y", *layout.covariates]
        if columns is not None and cols != columns and not cfg.allow_schema_change:
            raise FileRejected(
                "schema_mismatch",
                f"value columns {cols} differ from the dataset's {columns} (set allow_schema_change to accept)",
            )
        report.shape = layout.shape
        writer = StagingWriter(storage)
        try:  # clean files take the fast path; the first unclean block sends the file to the careful one
            stream, n_bad, n_missing = _stream_to_part(source, layout, writer, cfg, bad, unchanged, can_be_fast(layout))
        except NeedsCareful:
            writer.staged.discard()
            writer = StagingWriter(storage)
            stream, n_bad, n_missing = _stream_to_part(source, layout, writer, cfg, bad, unchanged, fast=False)
        finally:
            staged = writer.close()
        n_good = stream.rows
        report.rows, report.rows_bad = n_good, n_bad
        if n_good == 0:
            raise FileRejected("no_valid_rows", f"none of the {n_bad} data rows is valid")
        if n_bad - n_missing > cfg.max_bad_fraction * (n_good + n_bad):  # a point known missing is no misreading
            raise FileRejected(
                "too_many_bad_rows",
                f"{n_bad - n_missing} of {n_good + n_bad} rows are bad (limit {cfg.max_bad_fraction:.0%})",
            )
        keys = stream.finish(lambda: staged.batches(KEYS))
        if keys.duplicates and cfg.duplicates == "reject":
            raise FileRejected("duplicate_rows", f"{keys.duplicates} rows repeat a (series, timestamp) pair")
        if keys.duplicates:  # the last row of each key is kept: one row per key in the table
            staged.rewrite(latest_per_key(staged.read()))
        if keys.mixed_frequency:
            _drop_series(staged, keys.mixed_frequency)
            bad += [
                {
                    "line": None,
                    "column": layout.time_col,
                    "code": "mixed_frequency",
                    "series": s,
                    "message": "irregular time steps within the series; its rows were not ingested",
                }
                for s in keys.mixed_frequency
            ]
        report.duplicates, report.sorted_input = keys.duplicates, keys.sorted_input
        report.series = keys.series - len(keys.mixed_frequency)
        report.rows = n_good - keys.mixed_rows
        missing = _missing_steps(staged, list(keys.gaps)) if keys.gaps else pd.DataFrame({"unique_id": []})
        gaps = missing["unique_id"].value_counts()  # on each series' own calendar: weekends are no gap of B data
        report.gaps = int(gaps.sum())
        report.first, report.last = str(keys.ranges["first"].min()), str(keys.ranges["last"].max())
        without = f" ({n_missing} without a value)" if n_missing else ""
        notes = [f"{n_bad} bad rows quarantined{without}"] if n_bad else []
        notes += [f"read sheet {source.sheet_name!r} ({passed})"] if passed else []
        notes += layout_notes(layout)
        notes += [f"{keys.duplicates} duplicate rows (last kept)"] if keys.duplicates else []
        notes += (
            [f"{len(keys.mixed_frequency)} series with mixed frequency quarantined"] if keys.mixed_frequency else []
        )
        if report.gaps and cfg.gaps == "fill":
            report.rows += _fill_gaps(staged, missing)
        how = "filled with NaN rows" if cfg.gaps == "fill" else "left as gaps"
        notes += [f"{report.gaps} missing steps in {len(gaps)} series ({how})"] if report.gaps else []
        notes += ["input was not sorted (sorted)"] if not keys.sorted_input else []
        report.reason = "; ".join(notes)
        report.sha256 = digest = digest_f.result()
        if digest in known:
            raise _Unchanged
        if bad:
            quarantine(storage, url, digest, "bad_rows", report.reason, bad)
        ranges = keys.ranges[~keys.ranges["unique_id"].isin(keys.mixed_frequency)]
        return FileResult(report, staged, cols, ranges)
    except (
        _Unchanged,
        FileRejected,
        pa.ArrowException,
        ValueError,
        UnicodeError,
        pd.errors.ParserError,
        csv.Error,
        EOFError,  # a compressed file cut short
        zlib.error,
        KeyError,  # a column the reader did not find where the sniff saw it
        OSError,
    ) as exc:
        if staged is not None:
            staged.discard()
        try:
            digest = digest_f.result()
        except OSError:  # the file cannot be read at all: no content to name it by
            digest = hashlib.sha256(url.encode()).hexdigest()
        if digest in known:  # known content: nothing else about the file matters
            return FileResult(FileReport(url, digest, "unchanged", reason="same content already ingested"))
        if isinstance(exc, OSError) and not isinstance(exc, FileRejected):
            exc = FileRejected(_os_code(exc), f"cannot read the file: {exc}")
        if not isinstance(exc, FileRejected):
            exc = FileRejected("unreadable", f"cannot read the file as CSV: {exc}")
        report.sha256 = digest
        report.status, report.reason = "rejected", f"{exc.code}: {exc}"
        quarantine(storage, url, digest, exc.code, str(exc), bad)
        return FileResult(report)


def _os_code(exc: OSError) -> str:
    """The reason code of a file that could not be read (vanished, not allowed, I/O error)."""
    if isinstance(exc, FileNotFoundError):
        return "file_missing"
    if isinstance(exc, PermissionError):
        return "permission_denied"
    return "io_error"


class _Unchanged(Exception):
    """The file's content is already ingested (found while parsing): stop."""


def _stream_to_part(
    source: Source,
    layout,
    writer: StagingWriter,
    cfg: IngestSettings,
    bad: list[dict],
    unchanged: Callable[[], bool],
    fast: bool,
) -> tuple[KeyStream, int, int]:
    """Stream the file's good rows into ``writer``; returns the key checks, the bad-row count and how
    many of those rows only lack their value.

    Parsing (main thread) overlaps with writing and checking the previous block (one worker
    thread, blocks in file order); at most one block waits, so memory is bounded by the block size.
    Stops (raises :class:`_Unchanged`) as soon as ``unchanged()`` says the content is known."""
    keys = KeyStream(bucket_rows=cfg.block_size_mb << 16)
    n_bad = n_missing = 0

    def sink(good: pa.Table) -> None:
        writer.write_table(good)
        keys.add(good["unique_id"], good["ds"])

    block = cfg.block_size_mb << 20
    with (
        source.open() as raw,
        ThreadPoolExecutor(1, thread_name_prefix="ingest-sink") as pool,
    ):
        f = ReadAhead(raw, 4 * block)
        batches = iter_batches(f, layout, block, fast=fast)
        pending: Future | None = None
        try:
            for good, details, nb, nm in batches:
                f.taken(block)
                if pending is not None:
                    pending.result()
                if unchanged():
                    raise _Unchanged
                pending = pool.submit(sink, good)
                bad += details[: max(0, MAX_BAD_DETAILS - len(bad))]
                n_bad, n_missing = n_bad + nb, n_missing + nm
            if pending is not None:
                pending.result()
        finally:
            f.taken(None)  # never leave the reader's background read waiting
            batches.close()
    return keys, n_bad, n_missing


def commit_files(cur: Curated, results: list[FileResult], cfg: IngestSettings) -> list[FileReport]:
    """Commit each accepted file in order, one commit each against the newest version (history
    rewrites checked or merged, the same content twice added once)."""
    for r in results:
        if r.staged is None:
            continue
        rep = r.report
        info = {"file": rep.file, "sha256": rep.sha256, "rows": rep.rows, "ingested_at": _now()}
        out = commit_file(cur, r.staged, rep.sha256, r.ranges, cfg.on_overlap, info)
        if out.status == "unchanged":
            rep.status, rep.reason = "unchanged", "same content already ingested (by another file or run)"
        elif out.status == "rejected":
            rep.status, rep.reason = "rejected", f"rewrites_history: changes {out.changed} already ingested values"
            quarantine(cur.storage, rep.file, rep.sha256, "rewrites_history", rep.reason, [])
        elif out.changed:
            rep.replaced = out.changed
            rep.reason = "; ".join(filter(None, [rep.reason, f"replaced {out.changed} already ingested values"]))
    return [r.report for r in results]


def ingest_files(input_path: str, storage: Storage, cfg: IngestSettings) -> IngestSummary:
    """Ingest every CSV under ``input_path`` (sequentially); one bad file never stops the others."""
    cur = Curated(storage)
    known, columns = KnownSources(cur), cur.value_columns()
    results = [ingest_file(u, storage.url, cfg, known, columns) for u in discover(input_path)]
    return commit_and_maintain(cur, results, cfg)


def commit_and_maintain(cur: Curated, results: list[FileResult], cfg: IngestSettings) -> IngestSummary:
    """The files' commits, then the due maintenance: the ingest's summary."""
    reports = commit_files(cur, results, cfg)
    return summarize(cur, reports, maintain(cur, cfg.vacuum_retention_hours, cfg.compact_min_files))


def summarize(cur: Curated, reports: list[FileReport], maintenance: dict | None = None) -> IngestSummary:
    storage = cur.storage
    dt = cur.table()
    rows, files = cur.size(dt)
    return IngestSummary(
        files=[asdict(r) for r in reports],
        files_ingested=sum(r.status == "ingested" for r in reports),
        files_rejected=sum(r.status == "rejected" for r in reports),
        rows_accepted=sum(r.rows for r in reports if r.status == "ingested"),
        rows_rejected=sum(r.rows_bad for r in reports),
        curated_rows=rows,
        curated_parts=files,
        curated_version=None if dt is None else dt.version(),
        curated_path=storage.uri("curated"),
        maintenance=maintenance or {},
    )


def quarantine(storage: Storage, url: str, digest: str, code: str, message: str, rows: list[dict]) -> None:
    """One JSON record per rejected file or row batch: file, code, message, and each row's line,
    column, code, message and raw text. Series ids stay data: they never form a path."""
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in posixpath.basename(url))[:80]
    record = {"file": url, "sha256": digest, "code": code, "message": message, "rows": rows, "at": _now()}
    storage.write_json(f"quarantine/{digest[:16]}-{stem}.json", record)


def _drop_series(staged: Staged, series: list[str]) -> None:
    t = staged.read()
    staged.rewrite(t.filter(pc.invert(pc.is_in(t["unique_id"], pa.array(series, pa.string())))))


def _missing_steps(staged: Staged, series: list[str]) -> pd.DataFrame:
    """unique_id, ds of every step missing from ``series`` on each one's own calendar (its
    inferred frequency: a Mon-Fri series misses no weekend, a month-end series misses month ends)."""
    t = staged.read(KEYS)
    gappy = t.filter(pc.is_in(t["unique_id"], pa.array(series, pa.string()))).to_pandas()
    gappy = gappy.drop_duplicates().sort_values(["unique_id", "ds"], ignore_index=True)
    lengths = gappy.groupby("unique_id", sort=False).size()
    ds = gappy["ds"].to_numpy(dtype="datetime64[ns]")
    freqs = infer_freqs(ds, lengths.to_numpy())
    missing, start = [], 0
    for uid, n, freq in zip(lengths.index, lengths.to_numpy(), freqs):  # only the series with gaps
        stamps = pd.DatetimeIndex(ds[start : start + n])
        start += n
        steps = grid(stamps, freq)
        if steps is not None:
            missing.append(pd.DataFrame({"unique_id": uid, "ds": steps.difference(stamps).astype("datetime64[ns]")}))
    return pd.concat(missing, ignore_index=True) if missing else pd.DataFrame({"unique_id": [], "ds": []})


def _fill_gaps(staged: Staged, add: pd.DataFrame) -> int:
    """Add a NaN row for every missing step in ``add`` (unique_id, ds). Returns the rows added."""
    t = staged.read()
    t = t.drop_columns([c for c in ("bucket",) if c in t.column_names])
    add = add.copy()
    for col in t.schema.names[2:]:
        add[col] = np.nan
    staged.rewrite(pa.concat_tables([t, pa.Table.from_pandas(add, schema=t.schema, preserve_index=False)]))
    return len(add)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@task(name="ingest-file", cache_policy=NO_CACHE)
def ingest_file_task(
    url: str, storage_root: str, cfg: IngestSettings, known: Container[str], columns: list[str] | None
) -> FileResult:
    return ingest_file(url, storage_root, cfg, known, columns)


@task(name="commit-curated", cache_policy=NO_CACHE)
def commit_task(storage_root: str, results: list[FileResult], cfg: IngestSettings) -> IngestSummary:
    return commit_and_maintain(Curated(Storage(storage_root)), results, cfg)


@task(name="discover-files", cache_policy=NO_CACHE)
def discover_task(input_path: str, storage_root: str) -> tuple[list[str], KnownSources, list[str] | None]:
    """The files to ingest, plus what the dataset already holds (its ingested files, its columns)."""
    cur = Curated(Storage(storage_root))
    return discover(input_path), KnownSources(cur), cur.value_columns()
