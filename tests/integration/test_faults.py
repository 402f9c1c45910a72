"""Faults of the forecast side: corrupt model artifacts, concurrent runs, a kill mid-write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from tasks.adapters.settings import load_settings
from tasks.adapters.storage import Storage
from tasks.forecast.stage import forecast_stage, load_history
from tasks.ingest.stage import ingest_files
from tasks.train.register import log_and_register
from tasks.train.stage import train_stage
from tests.conftest import ROOT, forecasts_table


@pytest.fixture
def served(tmp_path, air_csv):
    """Storage with AirPassengers ingested and a champion registered."""
    s = load_settings({"storage.root": str(tmp_path / "storage"), "training.epochs": 30})
    ingest_files(str(air_csv), Storage(s.storage.root), s.ingest)
    reg = log_and_register(s, train_stage(load_history(s), s), b"", None)
    assert reg.promoted
    return s


def test_corrupt_model_artifact_is_a_clear_error(served, tmp_path):
    weights = list((tmp_path / "storage" / "mlartifacts").rglob("weights.safetensors"))
    assert weights
    for w in weights:
        w.write_bytes(b"not a safetensors file")
    with pytest.raises(RuntimeError, match=r"model lstm-forecaster v1 is corrupt"):
        forecast_stage(served, load_history(served))
    assert not (tmp_path / "storage" / "forecasts").exists()


def test_concurrent_forecasts_for_one_cutoff_leave_one_complete_partition(served, tmp_path):
    history = load_history(served)
    errors = []

    def run():
        try:
            forecast_stage(served, history, flow_run_id=threading.current_thread().name)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, name=f"run-{i}") for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    from deltalake import DeltaTable

    table = DeltaTable(str(tmp_path / "storage" / "forecasts"))
    assert len(table.file_uris()) == 1 and table.version() == 3  # four commits, each replacing the partition whole
    fc = forecasts_table(tmp_path / "storage", "1960-12-01")
    assert len(fc) == 12 and fc["flow_run_id"].nunique() == 1  # one run's rows, whole


@pytest.mark.e2e
def test_sigkill_during_a_partition_write_keeps_the_previous_one(tmp_path):
    storage = Storage(str(tmp_path / "s"))
    rel = "forecasts/cutoff_date=2020-01-01/forecasts.parquet"
    previous = pd.DataFrame({"unique_id": ["a"] * 3, "y_hat": [1.0, 2.0, 3.0]})
    storage.write_bytes_atomic(rel, previous.to_parquet(index=False))
    code = (
        "import sys, numpy as np, pandas as pd; from tasks.adapters.storage import Storage;"
        "n = 30_000_000; df = pd.DataFrame({'unique_id': np.arange(n).astype(str), 'y_hat': np.ones(n)});"
        "print('ready', flush=True); Storage(sys.argv[1]).write_bytes_atomic(sys.argv[2], df.to_parquet(index=False))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, storage.url, rel], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    folder = Path(storage.root) / "forecasts" / "cutoff_date=2020-01-01"
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".tmp-") for p in folder.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    pd.testing.assert_frame_equal(pd.read_parquet(folder), previous)  # readers skip the hidden leftover


@pytest.mark.usefixtures("prefect_api")
def test_unreachable_tracking_server_is_retried_then_fails_clearly(served, tmp_path, monkeypatch):
    import asyncio
    import socket

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.forecast import forecast_flow

    with socket.socket() as sock:  # a port nothing listens on: the server is down
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    state = forecast_flow(storage=served.storage.root, return_state=True)
    assert state.is_failed()
    with pytest.raises(ConnectionError, match=rf"MLflow at http://127\.0\.0\.1:{port} failed"):
        state.result()
    assert not (tmp_path / "storage" / "forecasts").exists()

    async def run_counts():
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
            )
            return {r.name.rsplit("-", 1)[0]: r.run_count for r in runs}

    counts = asyncio.run(run_counts())
    # the task that reaches the tracking server (it loads the champion for the shards): the first try and
    # three retries with back-off; no shard was forecast and nothing was written
    assert counts["load-champion"] == 4
    assert "forecast-shard" not in counts and "write-forecast-partition" not in counts
