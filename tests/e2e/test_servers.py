"""``lstm-forecast ui`` starts real Prefect and MLflow servers on loopback; the pipeline runs
against them; flow runs and the registered model are visible through both APIs; Ctrl-C stops both."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT, forecasts_table

pytestmark = pytest.mark.e2e
ARTIFACTS = ROOT / "tests" / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, body: dict | None = None, tries: int = 6) -> object:
    """GET (or POST ``body``) as JSON. A busy server answers 429/503 (Prefect's sqlite under load):
    retried with back-off, as Prefect's own client does."""
    req = urllib.request.Request(
        url, data=json.dumps(body).encode() if body is not None else None, headers={"content-type": "application/json"}
    )
    for attempt in range(tries):
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            if exc.code not in (429, 503) or attempt == tries - 1:
                raise
            time.sleep(2**attempt)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def serve_and_trigger_forecast(pp: int, storage, env: dict, tmp_path) -> str:
    """``lstm-forecast serve`` registers the deployments; trigger the forecast one through the API
    and wait for the run to complete. Returns the flow run id."""
    api = f"http://127.0.0.1:{pp}/api"
    log = open(tmp_path / "serve.log", "w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", "serve", "--storage", str(storage)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            deps = {d["name"]: d for d in get(f"{api}/deployments/filter", {})}
            if "forecast-scheduled" in deps:
                break
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "deployments were not registered"
            time.sleep(1)
        dep = deps["forecast-scheduled"]
        assert dep["schedules"][0]["schedule"]["cron"] == "0 6 * * *"
        assert {"ingest-scheduled", "train-scheduled"} <= set(deps)
        run = get(f"{api}/deployments/{dep['id']}/create_flow_run", {})
        deadline = time.monotonic() + 240
        while True:
            state = get(f"{api}/flow_runs/{run['id']}")["state_type"]
            if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                break
            assert time.monotonic() < deadline, f"flow run still {state}"
            time.sleep(1)
        assert state == "COMPLETED", (tmp_path / "serve.log").read_text()[-3000:]
        return run["id"]
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(serve.pid, signal.SIGKILL)
            serve.wait()


def browse(pp: int, mp: int, tmp_path) -> None:
    """Both UIs in headless Chromium: screenshots under tests/artifacts/, names in the rendered DOM."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pages = {
        "prefect-flow-runs": (f"http://127.0.0.1:{pp}/runs", "forecast"),
        "mlflow-registered-model": (f"http://127.0.0.1:{mp}/#/models/lstm-forecaster", "lstm-forecaster"),
    }
    for name, (url, expected) in pages.items():
        flags = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / ('chrome-' + name)}",
            "--window-size=1400,900",
            "--virtual-time-budget=20000",
        ]
        dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
        shot = subprocess.run(
            [*flags, f"--screenshot={ARTIFACTS / (name + '.png')}", url], capture_output=True, text=True, timeout=120
        )
        assert (ARTIFACTS / (name + ".png")).stat().st_size > 10_000, shot.stderr[-2000:]
        assert expected in dom, f"{expected!r} not in the rendered {name} page"


def test_ui_servers_and_pipeline_against_them(tmp_path, air_csv):
    pp, mp = free_port(), free_port()
    storage = tmp_path / "storage"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
    env.pop("PREFECT_API_URL", None)
    ui = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flows.cli",
            "ui",
            "--storage",
            str(storage),
            "--prefect-port",
            str(pp),
            "--mlflow-port",
            str(mp),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
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

        run_env = {
            **env,
            "PREFECT_API_URL": f"http://127.0.0.1:{pp}/api",
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mp}",
        }
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "flows.cli",
                "run",
                "--input",
                str(air_csv),
                "--storage",
                str(storage),
                "--epochs",
                "300",
            ],
            cwd=ROOT,
            env=run_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]

        runs = get(f"http://127.0.0.1:{pp}/api/flow_runs/filter", {})
        by_flow = {}
        for r in runs:
            flow = get(f"http://127.0.0.1:{pp}/api/flows/{r['flow_id']}")
            by_flow[flow["name"]] = r["state_type"]
        assert by_flow == {
            "pipeline": "COMPLETED",
            "ingest": "COMPLETED",
            "train": "COMPLETED",
            "forecast": "COMPLETED",
        }
        alias = get(f"http://127.0.0.1:{mp}/api/2.0/mlflow/registered-models/alias?name=lstm-forecaster&alias=champion")
        assert alias["model_version"]["version"] == "1"

        fc = forecasts_table(storage)
        assert set(fc["mlflow_run_id"]) == {alias["model_version"]["run_id"]}

        served_run = serve_and_trigger_forecast(pp, storage, run_env, tmp_path)
        fc = forecasts_table(storage)
        assert set(fc["flow_run_id"]) == {served_run}  # the partition was rewritten by the scheduled run
        assert set(fc["model_version"]) == {alias["model_version"]["version"]}
        assert {"cutoff", "model_name", "mlflow_run_id", "created_at", "y_hat_lo_80"} <= set(fc.columns)

        browse(pp, mp, tmp_path)
    finally:
        ui.send_signal(signal.SIGINT)
        try:
            ui.wait(timeout=90)
        except subprocess.TimeoutExpired:
            ui.kill()
            raise
    assert ui.returncode == 0
    assert not port_open(pp) and not port_open(mp)
