"""SIGKILL in the middle of an ingest leaves the curated dataset exactly as it was; a re-run
completes it with no duplicate (unique_id, ds)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from tasks.curated import MANIFEST, Curated
from tasks.ingest import ingest_files
from tasks.settings import IngestSettings
from tasks.storage import Storage
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def big_csv(path: Path, n_series: int = 200, n_steps: int = 10_000) -> int:
    ids = np.repeat([f"s{i:04d}" for i in range(n_series)], n_steps)
    ds = np.tile(np.datetime64("1990-01-01") + np.arange(n_steps).astype("timedelta64[D]"), n_series)
    y = np.random.default_rng(0).normal(size=n_series * n_steps).round(4)
    pacsv.write_csv(pa.table({"series_id": ids, "date": ds.astype(str), "value": y}), path)
    return n_series * n_steps


def test_sigkill_mid_ingest_leaves_curated_intact(tmp_path):
    storage = Storage(str(tmp_path / "storage"))
    small = tmp_path / "small.csv"
    small.write_text("series_id,date,value\n" + "".join(f"pre,2020-01-{d:02d},{d}\n" for d in range(1, 29)))
    ingest_files(str(small), storage, IngestSettings())
    before = Curated(storage).read()
    manifest_before = (tmp_path / "storage" / MANIFEST).read_bytes()

    big = tmp_path / "big.csv"
    n = big_csv(big)
    code = ("import sys; from tasks.ingest import ingest_files; from tasks.settings import IngestSettings;"
            "from tasks.storage import Storage;"
            "ingest_files(sys.argv[1], Storage(sys.argv[2]), IngestSettings(block_size_mb=1))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(big), str(tmp_path / "storage")], cwd=ROOT)
    parts = tmp_path / "storage" / "curated" / "parts"
    deadline = time.monotonic() + 120
    while True:  # wait until the new part is being written, then kill
        tmp = [p for p in parts.glob(".tmp-*") if p.stat().st_size > 0]
        if tmp:
            break
        assert proc.poll() is None, "ingest finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    assert (tmp_path / "storage" / MANIFEST).read_bytes() == manifest_before
    after = Curated(storage).read()
    assert after.equals(before)

    summary = ingest_files(str(big), storage, IngestSettings())
    assert summary["files_ingested"] == 1
    final = Curated(storage).read()
    assert len(final) == n + len(before)
    assert not final.duplicated(["unique_id", "ds"]).any()
    assert not list(parts.glob(".tmp-*"))  # the interrupted part was cleaned up
