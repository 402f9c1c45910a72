"""Ordinary real data never breaks a run: the flows a user runs, on data a champion never saw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import forecasts_table

pytestmark = pytest.mark.usefixtures("prefect_api")
FAST = {"training.epochs": 15, "model.hidden_size": 16, "data.comparators": "auto_ets,seasonal_naive,naive"}


def _forecasts(storage: str, cutoff: str) -> pd.DataFrame:
    return forecasts_table(storage, cutoff)


def test_a_logged_champion_meets_zeros_negatives_and_new_series(tmp_path, air_csv):
    from flows.forecast import forecast_flow
    from flows.ingest import ingest_flow
    from flows.train import train_flow

    storage = str(tmp_path / "storage")
    ingest_flow(input=str(air_csv), storage=storage)
    first = train_flow(storage=storage, overrides=FAST)
    assert first.promoted
    # new series the champion never saw: one with a zero, one with negatives
    air = pd.read_csv(air_csv)["#Passengers"].to_numpy(float)
    months = pd.date_range("1949-01-01", periods=144, freq="MS").strftime("%Y-%m")
    zero, neg = air.copy(), air - 200
    zero[100] = 0.0
    raw = tmp_path / "new"
    raw.mkdir()
    pd.DataFrame(
        {"series": ["zero"] * 144 + ["neg"] * 144, "month": list(months) * 2, "value": np.r_[zero, neg]}
    ).to_csv(raw / "more.csv", index=False)
    ingest_flow(input=str(raw), storage=storage)
    out = forecast_flow(storage=storage)
    fc = _forecasts(storage, "1960-12-01")
    assert out.skipped_series == [] and set(fc["unique_id"]) == {"AirPassengers", "zero", "neg"}
    assert np.isfinite(fc.select_dtypes("number").to_numpy()).all()
    # a series the champion took logs of gets a zero as its newest point
    (tmp_path / "next").mkdir()
    (tmp_path / "next" / "AirPassengers.csv").write_text("Month,#Passengers\n1961-01,0\n")
    ingest_flow(input=str(tmp_path / "next"), storage=storage)
    forecast_flow(storage=storage)
    fc = _forecasts(storage, "1961-01-01")
    assert len(fc) == 3 * 12 and np.isfinite(fc.select_dtypes("number").to_numpy()).all()
    # the next training gates against the champion on the new data and decides
    second = train_flow(storage=storage, overrides=FAST)
    assert second.model_version == "2" and second.champion_version in ("1", "2")
    assert "champion" in second.gate


def _ingest_months(tmp_path, values: dict[str, np.ndarray]) -> str:
    """One long CSV of monthly series from 2020-01, each as long as its values, ingested; the storage."""
    from flows.ingest import ingest_flow

    raw = tmp_path / "raw"
    raw.mkdir()
    pd.concat(
        pd.DataFrame(
            {"id": k, "date": pd.date_range("2020-01-01", periods=v.size, freq="MS").strftime("%Y-%m-%d"), "value": v}
        )
        for k, v in values.items()
    ).to_csv(raw / "months.csv", index=False)
    storage = str(tmp_path / "storage")
    ingest_flow(input=str(raw), storage=storage)
    return storage


def test_series_too_short_for_any_window_are_still_forecast(tmp_path):
    from flows.forecast import forecast_flow
    from flows.train import train_flow

    storage = _ingest_months(tmp_path, {"a": np.arange(8.0) + 10, "b": np.arange(8.0) * 2 + 30})
    train = train_flow(storage=storage, horizon=6, overrides=FAST)
    assert train.epochs == 0 and "lstm" not in train.series_per_model  # no window: comparators serve
    out = forecast_flow(storage=storage)
    fc = _forecasts(storage, "2020-08-01")
    assert out.skipped_series == [] and len(fc) == 12 and np.isfinite(fc["y_hat"]).all()
    assert fc.groupby("unique_id")["ds"].min().tolist() == [pd.Timestamp("2020-09-01")] * 2


def test_series_no_longer_than_the_horizon_are_forecast_without_a_backtest(tmp_path):
    from flows.forecast import forecast_flow
    from flows.train import train_flow

    storage = _ingest_months(tmp_path, {"a": np.arange(12.0) + 10, "b": 30.0 + np.arange(5)})
    train = train_flow(storage=storage, horizon=12, overrides=FAST)
    assert train.epochs == 0 and train.champion_version == "1"  # nothing to backtest, still a usable version
    assert "no test point" in train.gate
    out = forecast_flow(storage=storage)
    assert out.skipped_series == []
    fc = forecasts_table(storage)
    assert sorted(fc.groupby("unique_id").size().items()) == [("a", 12), ("b", 12)]
    assert np.isfinite(fc["y_hat"]).all()
    assert fc.groupby("unique_id")["ds"].min().to_dict() == {
        "a": pd.Timestamp("2021-01-01"),
        "b": pd.Timestamp("2020-06-01"),
    }
