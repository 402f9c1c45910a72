"""Covariates of every kind through training, the bundle, forecasting and the scheduled forecast:
past-observed, future-known (declared, calendar, holidays), future values from a file and from storage."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bench.demand import generate
from lstm_model.bundle import ModelBundle
from tasks.adapters.settings import load_settings
from tasks.forecast.predict import forecast_frame
from tasks.train.stage import train_stage
from tests.conftest import forecasts_table

H = 7


def demand(n_series: int = 4, days: int = 150) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History with a past-observed column (temp) and the promo flag; the next H days' promo."""
    df = generate(n_series, days + H, seed=1)
    df["temp"] = np.sin(np.arange(len(df)) / 9.0)
    last = df.groupby("unique_id")["ds"].transform("max")
    future = df[df["ds"] > last - pd.Timedelta(days=H)][["unique_id", "ds", "promo"]].reset_index(drop=True)
    return df[df["ds"] <= last - pd.Timedelta(days=H)].reset_index(drop=True), future


def every_kind(tmp_path, **extra):
    return load_settings(
        {
            "storage.root": str(tmp_path),
            "data.horizon": H,
            "data.covariates": "temp",
            "data.future_covariates": "promo",
            "data.calendar": True,
            "data.holidays": "US",
            "data.comparators": "seasonal_naive,naive",
            "training.epochs": 4,
            **extra,
        }
    )


def test_a_bundle_with_every_covariate_kind_round_trips(tmp_path):
    history, future = demand()
    outcome = train_stage(history, every_kind(tmp_path))
    bundle = outcome.bundle
    cfg = json.loads(bundle.config_json())
    kinds = {"past": ["temp"], "future": ["promo"], "calendar": "daily", "holidays": "US", "static": [], "vocab": {}}
    assert cfg["meta"]["features"] == kinds
    assert bundle.covariates[:2] == ["temp", "promo"] and len(bundle.covariates) == 2 + 4 + 3
    assert bundle.network.n_future == 1 + 4 + 3 and bundle.network.n_features == 1 + len(bundle.covariates)
    again = ModelBundle.from_payloads(bundle.weights_bytes(), bundle.config_json())
    assert again.network == bundle.network and again.covariates == bundle.covariates
    first, skipped = forecast_frame(bundle, history, "lstm", future)
    assert not skipped and len(first) == 4 * H and (first["model"] == "lstm").all()
    second, _ = forecast_frame(again, history, "lstm", future)
    np.testing.assert_allclose(second["y_hat"], first["y_hat"], rtol=1e-6)
    lifted = future.assign(promo=1.0)  # the network reads the planned promotions
    assert not np.allclose(forecast_frame(bundle, history, "lstm", lifted)[0]["y_hat"], first["y_hat"])


def test_missing_future_values_fail_those_series_with_a_reason(tmp_path):
    history, future = demand()
    outcome = train_stage(history, every_kind(tmp_path))
    ids = sorted(history["unique_id"].unique())
    gap = future[~((future["unique_id"] == ids[0]) & (future["ds"] == future["ds"].max()))]
    bad = gap.assign(promo=np.where(gap["unique_id"] == ids[1], np.nan, gap["promo"]))
    fc, skipped = forecast_frame(outcome.bundle, history, "selected", bad)
    assert set(skipped) == {ids[0], ids[1]}
    assert "promo at 1 of 7 steps" in skipped[ids[0]] and "promo at 7 of 7 steps" in skipped[ids[1]]
    assert sorted(fc["unique_id"].unique()) == ids[2:] and np.isfinite(fc["y_hat"]).all()
    none, why = forecast_frame(outcome.bundle, history, "selected", None)
    assert none.empty and all("--future-input" in r for r in why.values())


@pytest.mark.usefixtures("prefect_api")
def test_the_scheduled_forecast_reads_the_stored_future_values(tmp_path):
    from flows.forecast import forecast_flow
    from flows.pipeline import pipeline_flow

    history, future = demand()
    src, fut = tmp_path / "history.csv", tmp_path / "future.csv"
    history.to_csv(src, index=False)
    future.to_csv(fut, index=False)
    before = fut.read_bytes()
    storage = tmp_path / "storage"
    overrides = {
        "data.covariates": "temp",
        "data.future_covariates": "promo",
        "data.calendar": True,
        "data.holidays": "US",
        "data.comparators": "seasonal_naive,naive",
        "data.horizon": H,
        "training.epochs": 4,
        "tracking.serve_model": "lstm",
    }
    result = pipeline_flow(
        input=str(src), storage=str(storage), overrides={**overrides, "storage.future_input": str(fut)}
    )
    assert result.forecast.future_input.rows == len(future) and not result.forecast.future_input.rejected
    assert fut.read_bytes() == before  # the user's file is never modified
    written = forecasts_table(storage)
    assert len(written) == 4 * H
    import mlflow

    from tasks.adapters.tracking import load_champion

    uri = f"sqlite:///{storage}/mlflow.db"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    bundle = load_champion(load_settings({"storage.root": str(storage)}))[0]
    expected, _ = forecast_frame(bundle, history, "selected", future)
    served = mlflow.pyfunc.load_model("models:/lstm-forecaster@champion")  # the future rows: y empty
    got = served.predict(pd.concat([history, future], ignore_index=True))
    np.testing.assert_allclose(got["y_hat"], expected["y_hat"], rtol=1e-6)
    scheduled = forecast_flow(storage=str(storage), overrides=overrides)  # no file: the stored values
    assert scheduled.future_input is None and scheduled.series == 4
    again = forecasts_table(storage)
    np.testing.assert_allclose(again.sort_values(["unique_id", "ds"])["y_hat"], written["y_hat"], rtol=1e-6)

    broken = tmp_path / "broken.csv"
    rows = future.assign(ds=future["ds"].dt.strftime("%Y-%m-%d")).astype({"promo": object})
    rows.loc[3, "ds"], rows.loc[5, "promo"], rows.loc[6, "promo"] = "not a date", "lots", "inf"
    rows.to_csv(broken, index=False)
    kept = forecast_flow(storage=str(storage), overrides={**overrides, "storage.future_input": str(broken)})
    assert kept.future_input.rejected_rows == 3 and kept.series == 4  # the stored values fill what was kept out
    assert kept.future_input.rejected["bad_timestamp"] == ["line 5: ds 'not a date'"]
    assert kept.future_input.rejected["bad_value"] == ["line 7: promo 'lots'"]  # the ingest's codes
    assert kept.future_input.rejected["non_finite"] == ["line 8: promo 'inf'"]
    with pytest.raises(ValueError, match="broken.csv: future values need the columns"):
        rows.drop(columns="promo").to_csv(broken, index=False)
        forecast_flow(storage=str(storage), overrides={**overrides, "storage.future_input": str(broken)})


def test_static_covariates_enter_by_kind_and_serve_new_series(tmp_path):
    df = generate(6, 120, seed=2, static=True)
    history = df.drop(columns=["store_type", "promo"])
    static = df.groupby("unique_id", as_index=False)["store_type"].last()
    static["size"] = np.arange(len(static), dtype=float) * 10.0
    path = tmp_path / "stores.csv"
    static.to_csv(path, index=False)
    s = load_settings(
        {
            "storage.root": str(tmp_path / "storage"),
            "storage.static_input": str(path),
            "data.static_covariates": "store_type,size",
            "data.horizon": H,
            "data.comparators": "seasonal_naive,naive",
            "training.epochs": 4,
        }
    )
    outcome = train_stage(history, s)
    bundle = outcome.bundle
    assert bundle.network.static_cardinalities == (3, 0)
    assert bundle.stats.season is None  # static covariates: the season read from the series, not removed
    features = json.loads(bundle.config_json())["meta"]["features"]
    assert features["static"] == ["store_type", "size"] and features["vocab"] == {"store_type": ["A", "B", "C"]}
    again = ModelBundle.from_payloads(bundle.weights_bytes(), bundle.config_json())
    assert again.network == bundle.network
    stored = pd.read_csv(path)
    first, skipped = forecast_frame(bundle, history, "lstm", None, stored)
    assert not skipped and len(first) == 6 * H
    np.testing.assert_allclose(
        forecast_frame(again, history, "lstm", None, stored)[0]["y_hat"], first["y_hat"], rtol=1e-6
    )
    other = stored.assign(store_type=np.roll(stored["store_type"].to_numpy(), 1))  # another type per series
    assert not np.allclose(forecast_frame(bundle, history, "lstm", None, other)[0]["y_hat"], first["y_hat"])
    new = history[history["unique_id"] == stored["unique_id"][0]].tail(40).assign(unique_id="new-store")
    for kind in ("A", "Z"):  # a known type, and one the training never saw (code 0)
        cold, why = forecast_frame(
            bundle, new, "lstm", None, pd.DataFrame({"unique_id": ["new-store"], "store_type": [kind], "size": [5.0]})
        )
        assert not why and len(cold) == H and np.isfinite(cold["y_hat"]).all()
