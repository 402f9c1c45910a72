"""``lstm-forecast ui`` starts real Prefect and MLflow servers on loopback; the pipeline runs
against them; flow runs and the registered model are visible through both APIs; Ctrl-C stops both."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, body: dict | None = None) -> object:
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_ui_servers_and_pipeline_against_them(tmp_path, air_csv):
    pp, mp = free_port(), free_port()
    storage = tmp_path / "storage"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    env.pop("PREFECT_API_URL", None)
    ui = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "ui", "--storage", str(storage), "--prefect-port", str(pp),
         "--mlflow-port", str(mp)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not (port_open(pp) and port_open(mp)):
            assert ui.poll() is None, ui.stdout.read()
            assert time.monotonic() < deadline, "servers did not start"
            time.sleep(1)
        while True:
            try:
                if get(f"http://127.0.0.1:{pp}/api/health") is True:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline
            time.sleep(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{mp}/health", timeout=10) as r:
            assert r.status == 200

        run_env = {**env, "PREFECT_API_URL": f"http://127.0.0.1:{pp}/api",
                   "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mp}"}
        out = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--input", str(air_csv), "--storage",
                              str(storage), "--epochs", "300"], cwd=ROOT, env=run_env, capture_output=True,
                             text=True, timeout=600)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

        runs = get(f"http://127.0.0.1:{pp}/api/flow_runs/filter", {})
        by_flow = {}
        for r in runs:
            flow = get(f"http://127.0.0.1:{pp}/api/flows/{r['flow_id']}")
            by_flow[flow["name"]] = r["state_type"]
        assert by_flow == {"pipeline": "COMPLETED", "ingest": "COMPLETED", "train": "COMPLETED",
                           "forecast": "COMPLETED"}
        alias = get(f"http://127.0.0.1:{mp}/api/2.0/mlflow/registered-models/alias"
                    f"?name=lstm-forecaster&alias=champion")
        assert alias["model_version"]["version"] == "1"
        import pandas as pd

        fc = pd.read_parquet(storage / "forecasts")
        assert set(fc["mlflow_run_id"]) == {alias["model_version"]["run_id"]}
    finally:
        ui.send_signal(signal.SIGINT)
        try:
            ui.wait(timeout=90)
        except subprocess.TimeoutExpired:
            ui.kill()
            raise
    assert ui.returncode == 0
    assert not port_open(pp) and not port_open(mp)
