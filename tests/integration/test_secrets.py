"""Credentials in URIs (a tracking server, a runner address) never show: not in MLflow params, not
in Prefect flow parameters, not in the output, not on a command line."""

from __future__ import annotations

import asyncio
import os

import pytest

from tasks.adapters.secrets import redact, secrets_to_env
from tasks.adapters.settings import load_settings
from tests.conftest import mlflow_client

pytestmark = pytest.mark.usefixtures("prefect_api")
SECRET = "s3cret-Pa55"


def test_redact_masks_userinfo_and_tokens_only():
    assert redact(f"https://bob:{SECRET}@mlflow.example.com/") == "https://bob:***@mlflow.example.com/"
    assert redact(f"tcp://u:{SECRET}@10.0.0.1:8786") == "tcp://u:***@10.0.0.1:8786"
    assert redact(f"https://h/api?token={SECRET}&x=1") == "https://h/api?token=***&x=1"
    for plain in ("sqlite:///tmp/mlflow.db", "http://127.0.0.1:5000", "s3://bucket/key", "storage"):
        assert redact(plain) == plain


def test_secrets_move_to_the_environment_and_the_settings_keep_them(monkeypatch):
    monkeypatch.setenv("LSTMF_TRACKING__TRACKING_URI", "")
    uri = f"https://bob:{SECRET}@mlflow.example.com"
    kept = secrets_to_env({"tracking.tracking_uri": uri, "training.epochs": 3})
    assert kept == {"training.epochs": 3} and os.environ["LSTMF_TRACKING__TRACKING_URI"] == uri
    s = load_settings(kept)
    assert (
        s.tracking.tracking_uri == uri and s.public()["tracking.tracking_uri"] == "https://bob:***@mlflow.example.com"
    )


def test_a_runner_address_with_a_password_never_shows(tmp_path, air_csv, monkeypatch, capsys):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    from flows.cli import main

    monkeypatch.setenv("LSTMF_SCALE__RUNNER_ADDRESS", "")  # restored after the test
    address = f"tcp://user:{SECRET}@127.0.0.1:8786"  # the default runner never dials it
    storage = str(tmp_path / "storage")
    assert main(["ingest", "--input", str(air_csv), "--storage", storage, "--runner-address", address]) == 0
    # train reads the address from the environment ingest moved it to (as a later process would)
    assert main(["train", "--storage", storage, "--epochs", "2", "--comparators", "seasonal_naive,naive"]) == 0
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err

    client = mlflow_client(storage)
    (run,) = client.search_runs([client.get_experiment_by_name("lstm-forecast").experiment_id])
    assert run.data.params["scale.runner_address"] == "tcp://user:***@127.0.0.1:8786"
    assert all(SECRET not in v for v in run.data.params.values())

    async def parameters():
        async with get_client() as c:
            runs = await c.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["ingest", "train"])))
            return [str(r.parameters) for r in runs]

    params = asyncio.run(parameters())
    assert params and all(SECRET not in p for p in params)
