"""SIGKILL in the middle of an ingest, a compaction or a forecast write leaves every table as it was
(or as the finished commit left it, never in between); a re-run completes with no duplicate
(unique_id, ds), and a killed writer's files are vacuumed once older than the retention."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from tasks.adapters import tables
from tasks.adapters.curated import Curated
from tasks.adapters.settings import IngestSettings
from tasks.adapters.storage import Storage
from tasks.ingest.commit import maintain
from tasks.ingest.stage import ingest_files
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def big_csv(path: Path, n_series: int = 200, n_steps: int = 10_000, start: str = "1990-01-01") -> int:
    ids = np.repeat([f"s{i:04d}" for i in range(n_series)], n_steps)
    ds = np.tile(np.datetime64(start) + np.arange(n_steps).astype("timedelta64[D]"), n_series)
    y = np.random.default_rng(0).normal(size=n_series * n_steps).round(4)
    pacsv.write_csv(pa.table({"series_id": ids, "date": ds.astype(str), "value": y}), path)
    return n_series * n_steps


def data_files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*.parquet") if "_delta_log" not in p.parts}


def kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` holds (it must still be running then)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "the process finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def python(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT)


def test_sigkill_mid_ingest_leaves_curated_intact(tmp_path):
    storage = Storage(str(tmp_path / "storage"))
    table = tmp_path / "storage" / "curated"
    small = tmp_path / "small.csv"
    small.write_text("series_id,date,value\n" + "".join(f"pre,2020-01-{d:02d},{d}\n" for d in range(1, 29)))
    ingest_files(str(small), storage, IngestSettings())
    before = Curated(storage).read()
    log_before, files_before = sorted((table / "_delta_log").iterdir()), data_files(table)

    big = tmp_path / "big.csv"
    n = big_csv(big)
    proc = python(
        "import sys; from tasks.ingest.stage import ingest_files; from tasks.adapters.settings import IngestSettings;"
        "from tasks.adapters.storage import Storage;"
        "ingest_files(sys.argv[1], Storage(sys.argv[2]), IngestSettings(block_size_mb=1))",
        str(big),
        str(tmp_path / "storage"),
    )
    kill_when(proc, lambda: any(p.stat().st_size > 0 for p in data_files(table) - files_before))

    assert sorted((table / "_delta_log").iterdir()) == log_before  # nothing committed
    assert Curated(storage).read().equals(before)
    orphans = data_files(table) - files_before
    assert orphans  # the killed writer's staged files: in the folder, in no version

    summary = ingest_files(str(big), storage, IngestSettings())
    assert summary.files_ingested == 1
    final = Curated(storage).read()
    assert len(final) == n + len(before)
    assert not final.duplicated(["unique_id", "ds"]).any()

    cur = Curated(storage)
    assert maintain(cur, retention_hours=24, min_files=2, force=True)["vacuumed"] == 0  # too young to go
    assert orphans <= data_files(table)
    old = time.time() - 2 * 86_400
    for p in orphans:
        os.utime(p, (old, old))
    maintain(cur, retention_hours=24, min_files=2, force=True)
    assert not orphans & data_files(table)  # vacuumed once older than the retention
    pd.testing.assert_frame_equal(Curated(storage).read(), final)


def test_sigkill_mid_compaction_leaves_curated_readable_and_whole(tmp_path):
    storage = Storage(str(tmp_path / "storage"))
    table = tmp_path / "storage" / "curated"
    for i in range(6):  # six files, six commits: small files in every partition
        big_csv(tmp_path / f"f{i}.csv", n_series=200, n_steps=2_000, start=f"{1900 + 10 * i}-01-01")
    ingest_files(str(tmp_path / "f*.csv"), storage, IngestSettings(compact_min_files=100))
    before = Curated(storage).read()
    files_before = data_files(table)
    proc = python(
        "import sys; from tasks.adapters.curated import Curated; from tasks.ingest.commit import maintain;"
        "from tasks.adapters.storage import Storage;"
        "maintain(Curated(Storage(sys.argv[1])), 1, 2, force=True, lease_s=3)",
        str(tmp_path / "storage"),
    )
    kill_when(proc, lambda: bool(data_files(table) - files_before))
    pd.testing.assert_frame_equal(Curated(storage).read(), before)  # before or after the commit: the same rows
    # the killed compaction's lease still holds the next one off, then lapses
    assert maintain(Curated(storage), 1, 2, force=True)["skipped"] == "another compaction"
    time.sleep(3)
    assert maintain(Curated(storage), 1, 2, force=True)["compacted"]
    pd.testing.assert_frame_equal(Curated(storage).read(), before)


def test_sigkill_mid_forecast_write_keeps_the_previous_partition(tmp_path):
    storage = Storage(str(tmp_path / "storage"))
    rows = 2_000_000
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i}" for i in range(rows // 10)], 10),
            "ds": pd.Timestamp("2021-01-01"),
            "y_hat": np.zeros(rows),
        }
    )
    tables.replace_partition(storage, "forecasts", frame.iloc[:100], "2021-01-01")
    before = tables.read(storage, "forecasts")
    folder = tmp_path / "storage" / "forecasts"
    files_before = data_files(folder)
    frame.to_parquet(tmp_path / "next.parquet")
    proc = python(
        "import sys, pandas as pd; from tasks.adapters import tables; from tasks.adapters.storage import Storage;"
        "tables.replace_partition(Storage(sys.argv[1]), 'forecasts', pd.read_parquet(sys.argv[2]),"
        "'2021-01-01')",
        str(tmp_path / "storage"),
        str(tmp_path / "next.parquet"),
    )
    kill_when(proc, lambda: bool(data_files(folder) - files_before))
    after = tables.read(storage, "forecasts")
    assert len(after) in (100, rows)  # the old partition or the new one, whole
    if len(after) == 100:
        pd.testing.assert_frame_equal(after, before)
    tables.replace_partition(storage, "forecasts", frame, "2021-01-01")
    assert len(tables.read(storage, "forecasts")) == rows
