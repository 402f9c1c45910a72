"""Shared fixtures: quiet, offline-friendly environment; synthetic data; small real settings."""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.adapters.settings import quiet_environment

ROOT = Path(__file__).resolve().parent.parent
AIR = ROOT / "data" / "AirPassengers.csv"

quiet_environment()
for _k, _v in {
    # the comparators of multi-series tests: AutoARIMA's fits would dominate the suite's time; it is
    # tested on its own (tests/unit/test_served_model.py) and by the tests that name every comparator
    "LSTMF_DATA__COMPARATORS": "auto_ets,auto_theta,seasonal_naive,naive",
}.items():
    os.environ.setdefault(_k, _v)
os.environ.pop("MLFLOW_TRACKING_URI", None)


def pytest_collection_modifyitems(config, items):
    import torch

    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs CUDA")
        for item in items:
            if "cuda" in item.keywords:
                item.add_marker(skip)


def make_long_csv(path: Path, n_series: int = 20, seed: int = 0) -> pd.DataFrame:
    """Monthly series of different lengths (60..100 points): trend + season + noise, long format."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        n = int(rng.integers(60, 101))
        t = np.arange(n)
        y = 50 + 10 * i + 0.3 * t + 8 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n)
        ds = pd.date_range("2010-01-01", periods=n, freq="MS") + pd.DateOffset(months=int(rng.integers(0, 12)))
        frames.append(pd.DataFrame({"series_id": f"s{i:02d}", "timestamp": ds.strftime("%Y-%m-%d"), "value": y}))
    df = pd.concat(frames, ignore_index=True)
    df.to_csv(path, index=False)
    return df


@pytest.fixture
def long_csv(tmp_path: Path) -> Path:
    path = tmp_path / "raw" / "many.csv"
    path.parent.mkdir()
    make_long_csv(path)
    return path


@pytest.fixture
def air_csv(tmp_path: Path) -> Path:
    path = tmp_path / "raw" / "AirPassengers.csv"
    path.parent.mkdir(exist_ok=True)
    shutil.copy(AIR, path)
    return path


@pytest.fixture(scope="session")
def prefect_api():
    """A real (ephemeral) Prefect API for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def forecasts_table(storage: Path | str, cutoff: str | None = None) -> pd.DataFrame:
    """The current rows of a local storage's forecasts Delta table (one cutoff_date when given),
    read by deltalake itself, as another engine would."""
    from deltalake import DeltaTable

    table = DeltaTable(str(Path(storage) / "forecasts"))
    return table.to_pandas(filters=[("cutoff_date", "=", cutoff)] if cutoff else None)


def mlflow_client(storage: Path | str):
    """A client of a local storage's MLflow database, for tracking *and* the registry: a bare
    ``MlflowClient(uri)`` takes the registry URI that any earlier in-process registration set."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{storage}/mlflow.db"
    return MlflowClient(uri, uri)


def net_config(**kw):
    """A network configuration with the settings' defaults, ``kw`` changed (input_size, horizon required)."""
    from dataclasses import replace

    from tasks.adapters.settings import Settings
    from tasks.train.configs import network_config

    return replace(network_config(Settings(), kw.pop("input_size"), kw.pop("horizon")), **kw)


def train_config(**kw):
    """A training-loop configuration with the settings' defaults, ``kw`` changed."""
    from dataclasses import replace

    from tasks.adapters.settings import Settings
    from tasks.train.configs import train_config as from_settings

    return replace(from_settings(Settings()), **kw)


@dataclass
class ParsedFile:
    """A whole (small) file parsed in memory: good rows sorted, duplicates resolved (keep last)."""

    frame: pd.DataFrame  # unique_id, ds, y[, covariates]
    shape: str
    bad_rows: list[dict] = field(default_factory=list)
    duplicates: int = 0


def parse_csv(
    payload: bytes,
    name: str,
    time_col: str | None = None,
    value_col: str | None = None,
    id_col: str | None = None,
    dayfirst: bool = False,
) -> ParsedFile:
    """Parse an in-memory file (the streaming path, collected)."""
    import pyarrow as pa

    from tasks.ingest.csv_reader import iter_batches
    from tasks.ingest.sniff import HEAD_BYTES, ColumnMapping, sniff

    layout = sniff(payload[:HEAD_BYTES], name, ColumnMapping(time_col, value_col, id_col, dayfirst=dayfirst))
    tables, bad = [], []
    for good, details, *_ in iter_batches(io.BytesIO(payload), layout):
        tables.append(good)
        bad += details
    df = pa.concat_tables(tables).to_pandas() if tables else pd.DataFrame(columns=["unique_id", "ds", "y"])
    n = len(df)
    df = df.drop_duplicates(["unique_id", "ds"], keep="last").sort_values(["unique_id", "ds"], kind="stable")
    return ParsedFile(df.reset_index(drop=True), layout.shape, bad, duplicates=n - len(df))
