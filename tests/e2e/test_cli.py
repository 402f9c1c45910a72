"""The real command line in a subprocess (its own ephemeral Prefect API, sqlite MLflow)."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import ROOT, forecasts_table

pytestmark = pytest.mark.e2e


def cli(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_help_lists_settings_and_env_vars():
    out = cli("train", "--help")
    assert out.returncode == 0, out.stderr
    for text in ("--horizon", "--input-size", "--epochs", "--storage", "LSTMF_TRAINING__EPOCHS"):
        assert text in out.stdout


def test_run_on_a_long_multi_series_csv(tmp_path, long_csv):
    storage = tmp_path / "storage"
    horizon = 6
    out = cli(
        "run",
        "--input",
        str(long_csv),
        "--storage",
        str(storage),
        "--horizon",
        str(horizon),
        "--input-size",
        "12",
        "--epochs",
        "20",
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "registered model version 1" in out.stdout
    fc = forecasts_table(storage)
    assert len(fc) == 20 * horizon
    assert fc.groupby("unique_id").size().eq(horizon).all()
    src = pd.read_csv(long_csv, parse_dates=["timestamp"])
    last = src.groupby("series_id")["timestamp"].max()
    first_fc = fc.groupby("unique_id")["ds"].min()
    assert (first_fc.sort_index().values == (last + pd.DateOffset(months=1)).sort_index().values).all()


def test_bad_option_is_a_clear_error():
    out = cli("train", "--epochs", "zero")
    assert out.returncode == 2 and "invalid int value" in out.stderr


def test_run_on_a_file_it_cannot_read_says_why_and_trains_nothing(tmp_path):
    steps = tmp_path / "steps.csv"
    steps.write_text("t,value\n" + "".join(f"{i},{100 + i % 12}\n" for i in range(1, 61)))
    storage = tmp_path / "storage"
    out = cli("run", "--input", str(steps), "--storage", str(storage), "--horizon", "6", "--no-progress")
    assert out.returncode != 0
    error = next((line for line in out.stderr.splitlines() if line.startswith("lstm-forecast run: error:")), "")
    assert "nothing was ingested" in error and str(steps) in error and "no_time_column" in error, out.stderr[-2000:]
    assert "run ingest first" not in out.stderr
    assert not (storage / "forecasts").exists() and not (storage / "mlflow.db").exists()
