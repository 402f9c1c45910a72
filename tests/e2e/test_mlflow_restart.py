"""A real MLflow server that goes down between training and forecasting, and comes back while the
forecast flow is retrying: the I/O task retries with back-off and the run completes."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from tasks.adapters.servers import start_servers, stop_servers, wait_healthy
from tasks.adapters.settings import load_settings
from tasks.adapters.storage import Storage
from tasks.forecast.stage import load_history
from tasks.ingest.stage import ingest_files
from tasks.train.register import log_and_register
from tasks.train.stage import train_stage
from tests.conftest import forecasts_table
from tests.e2e.test_servers import free_port

pytestmark = pytest.mark.e2e


@pytest.mark.usefixtures("prefect_api")
def test_forecast_retries_while_the_mlflow_server_restarts(tmp_path, air_csv, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.forecast import forecast_flow

    port = free_port()
    s = load_settings(
        {
            "storage.root": str(tmp_path / "storage"),
            "training.epochs": 20,
            "server.mlflow_port": port,
            "training.progress": False,
        }
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the flow's retries, not the client's
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    servers = start_servers(s, tmp_path / "logs", names=("mlflow",))
    try:
        wait_healthy(servers)
        ingest_files(str(air_csv), Storage(s.storage.root), s.ingest)
        reg = log_and_register(s, train_stage(load_history(s), s), b"", None)
        assert reg.promoted
    finally:
        stop_servers(servers)

    restarted: list = []

    def bring_back() -> None:  # the server returns while the first tries fail
        time.sleep(3)
        restarted.extend(start_servers(s, tmp_path / "logs", names=("mlflow",)))

    helper = threading.Thread(target=bring_back)
    helper.start()
    try:
        state = forecast_flow(storage=s.storage.root, return_state=True)
        helper.join()
        assert state.is_completed(), state.message
        fc = forecasts_table(tmp_path / "storage")
        assert len(fc) == 12 and set(fc["model_version"]) == {reg.version}

        async def run_counts() -> dict[str, int]:
            async with get_client() as client:
                runs = await client.read_task_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[state.state_details.flow_run_id]))
                )
                return {r.name.rsplit("-", 1)[0]: r.run_count for r in runs}

        counts = asyncio.run(run_counts())
        # the task that reads the champion failed while the server was down, then succeeded
        assert counts["load-champion"] >= 2, counts
    finally:
        helper.join()
        stop_servers(restarted)
