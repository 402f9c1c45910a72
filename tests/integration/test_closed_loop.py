"""Closed loop under a real Prefect API: forecast, ingest the actuals, forecast again -> scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.adapters import tables
from tasks.adapters.storage import Storage
from tasks.monitor.scores import degraded, score_forecasts
from tests.conftest import forecasts_table, mlflow_client

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_forecasts_are_scored_when_actuals_arrive(tmp_path, air_csv):
    from flows.forecast import forecast_flow
    from flows.ingest import ingest_flow
    from flows.train import train_flow

    lines = air_csv.read_text().splitlines()
    (tmp_path / "hist").mkdir()
    (tmp_path / "hist" / "AirPassengers.csv").write_text("\n".join(lines[:133]) + "\n")  # to 1959-12
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "AirPassengers.csv").write_text("\n".join([lines[0]] + lines[133:]) + "\n")  # 1960
    storage = str(tmp_path / "storage")

    ingest_flow(input=str(tmp_path / "hist"), storage=storage)
    train = train_flow(storage=storage)
    first = forecast_flow(storage=storage)
    assert first.cutoff == "1959-12-01" and first.scores == []

    ingest_flow(input=str(tmp_path / "new"), storage=storage)
    second = forecast_flow(storage=storage)
    assert second.cutoff == "1960-12-01"
    (row,) = [r for r in second.scores if r["cutoff"].startswith("1959-12-01")]
    fc = forecasts_table(tmp_path / "storage", "1959-12-01")
    actual = pd.read_csv(tmp_path / "new" / "AirPassengers.csv")["#Passengers"].to_numpy(float)
    assert row["points"] == 12 and row["model_version"] == train.model_version
    assert row["mae"] == pytest.approx(np.mean(np.abs(actual - fc.sort_values("ds")["y_hat"].to_numpy())))
    from deltalake import DeltaTable

    stored = DeltaTable(str(tmp_path / "storage" / "scores")).to_pandas()
    assert len(stored) == 1 and stored["mase"].iloc[0] == pytest.approx(row["mase"])
    history = mlflow_client(tmp_path / "storage").get_metric_history(train.mlflow_run_id, "realised_mae")
    assert [m.value for m in history] == pytest.approx([row["mae"]])

    # the MASE denominator stored with the forecast is the one computed from the whole history:
    # forecasts written without it (older ones) score the same
    tables.replace_partition(
        Storage(storage), "forecasts", fc.drop(columns="cutoff_date").assign(mase_scale=np.nan), "1959-12-01"
    )
    rescored = score_forecasts(Storage(storage))
    again = rescored[rescored["cutoff"] == pd.Timestamp("1959-12-01")].iloc[0]
    assert again["mase"] == pytest.approx(row["mase"], rel=1e-12) and again["mae"] == pytest.approx(row["mae"])


def test_degradation_needs_consecutive_bad_cutoffs():
    scores = pd.DataFrame(
        {
            "cutoff": pd.date_range("2020-01-01", periods=4, freq="MS"),
            "model_version": ["3"] * 4,
            "mase": [1.5, 0.8, 1.2, 1.3],
        }
    )
    assert not degraded(scores, "3", threshold=1.0, patience=3)
    assert degraded(scores, "3", threshold=1.0, patience=2)
    assert not degraded(scores, "4", threshold=1.0, patience=1)


def test_a_constant_series_has_no_realised_mase_and_raises_no_degradation(tmp_path):
    from tasks.adapters.settings import IngestSettings
    from tasks.ingest.stage import ingest_files

    months = pd.date_range("2020-01-01", periods=30, freq="MS")
    rng = np.random.default_rng(0)
    rows = [("flat", d, 5.0) for d in months] + [("live", d, 100 + rng.normal()) for d in months]
    raw = tmp_path / "raw"
    raw.mkdir()
    pd.DataFrame(rows, columns=["series", "month", "value"]).to_csv(raw / "history.csv", index=False)
    storage = Storage(str(tmp_path / "storage"))
    ingest_files(str(raw), storage, IngestSettings())
    cutoff, ahead = months[-1], pd.date_range(months[-1], periods=4, freq="MS")[1:]
    fc = pd.DataFrame(
        {
            "unique_id": ["flat"] * 3 + ["live"] * 3,
            "ds": list(ahead) * 2,
            "y_hat": 5.0,
            "cutoff": cutoff,
            "model_version": "1",
            "mase_scale": [0.0] * 3 + [2.0] * 3,
        }
    )
    fc.loc[3:, "y_hat"] = 100.0
    tables.replace_partition(storage, "forecasts", fc, str(cutoff.date()))
    actual = [("flat", d, 6.0) for d in ahead] + [("live", d, 101.0) for d in ahead]  # the flat one moved
    pd.DataFrame(actual, columns=["series", "month", "value"]).to_csv(raw / "actuals.csv", index=False)
    ingest_files(str(raw / "actuals.csv"), storage, IngestSettings())

    scores = score_forecasts(storage)
    (row,) = scores.to_dict("records")
    assert row["points"] == 6 and row["mase"] == pytest.approx(0.5)  # the live series alone: |1| / 2
    only_flat = scores.assign(mase=np.nan)  # a dataset of constant series only: NaN, never inf
    assert not degraded(only_flat, "1", threshold=1.0, patience=1)
    fc.loc[3:, "mase_scale"] = 0.0
    tables.replace_partition(storage, "forecasts", fc, str(cutoff.date()))
    (row,) = score_forecasts(storage).to_dict("records")
    assert np.isnan(row["mase"]) and not degraded(score_forecasts(storage), "1", threshold=1.0, patience=1)
