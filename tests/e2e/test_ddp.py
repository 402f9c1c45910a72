"""Data-parallel training with torchrun and gloo on 2 CPU processes, against a single-process run."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.adapters.settings import IngestSettings
from tasks.adapters.storage import Storage
from tasks.ingest.stage import ingest_files
from tests.conftest import mlflow_client
from tests.e2e.test_cli import cli

pytestmark = pytest.mark.e2e


def test_ddp_on_two_processes_registers_one_model_with_the_single_process_loss_curve(tmp_path, long_csv):
    storage = tmp_path / "storage"
    ingest_files(str(long_csv), Storage(str(storage)), IngestSettings())
    common = [
        "--storage",
        str(storage),
        "--horizon",
        "6",
        "--input-size",
        "12",
        "--epochs",
        "4",
        "--batch-size",
        "64",
        "--max-windows-per-epoch",
        "640",
        "--patience",
        "100",
        "--seed",
        "7",
    ]

    ddp = cli("train", "--nproc", "2", *common)
    assert ddp.returncode == 0, ddp.stdout[-3000:] + ddp.stderr[-3000:]
    assert "registered model version 1" in ddp.stdout
    client = mlflow_client(storage)
    versions = client.search_model_versions("name='lstm-forecaster'")
    assert len(versions) == 1  # only rank 0 logged and registered
    ddp_run = client.get_run(versions[0].run_id)
    assert ddp_run.data.metrics["world_size"] == 2

    single = cli("train", *common)
    assert single.returncode == 0, single.stdout[-3000:] + single.stderr[-3000:]
    one_run = client.get_run(client.get_model_version("lstm-forecaster", "2").run_id)
    assert one_run.data.metrics["world_size"] == 1

    def curve(run_id: str, key: str) -> np.ndarray:
        return np.array([m.value for m in sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)])

    # Same seed, same shuffled order, the same 640 windows per epoch in the same 10 global batches of
    # 64: the all-reduced mean of the two ranks' gradients (32 windows each) is the single process's
    # gradient, so the curves differ only by the order of float summation (~1e-6 relative per step).
    for key in ("train_loss", "val_loss"):
        a, b = curve(ddp_run.info.run_id, key), curve(one_run.info.run_id, key)
        assert len(a) == len(b) == 4
        np.testing.assert_allclose(a, b, rtol=1e-4)
    assert curve(ddp_run.info.run_id, "train_loss")[-1] < curve(ddp_run.info.run_id, "train_loss")[0]
