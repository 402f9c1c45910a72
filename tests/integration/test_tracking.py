"""MLflow (real sqlite store): log -> register -> alias -> load on CPU -> same predictions; the gate."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from tasks.adapters.settings import load_settings
from tasks.adapters.tracking import NoChampionError, connect, load_champion
from tasks.forecast.predict import forecast_frame
from tasks.train.register import log_and_register
from tasks.train.stage import train_stage
from tests.conftest import parse_csv


def small_settings(tmp_path, **extra):
    return load_settings(
        {"storage.root": str(tmp_path / "storage"), "training.epochs": 40, "training.patience": 40, **extra}
    )


def air_frame(air_csv) -> pd.DataFrame:
    return parse_csv(air_csv.read_bytes(), str(air_csv)).frame


def test_register_alias_load_same_predictions(tmp_path, air_csv):
    s = small_settings(
        tmp_path,
        **{
            "training.epochs": 300,
            "training.patience": 50,
            "data.comparators": "auto_ets,auto_theta,auto_arima,seasonal_naive,naive",
        },
    )
    df = air_frame(air_csv)
    outcome = train_stage(df, s)
    reg = log_and_register(s, outcome, b"\x89PNG", flow_run_id="test")
    assert reg.version == "1" and reg.promoted, reg.reason

    client = connect(s)
    run = client.get_run(reg.run_id)
    assert run.data.params["data.horizon"] == "12"
    assert run.data.metrics["lstm_mase"] < run.data.metrics["seasonal_naive_mase"]
    assert {"auto_ets_mase", "auto_theta_mase", "auto_arima_mase", "selected_mase"} <= set(run.data.metrics)
    assert run.data.tags["train_end"] == "1960-12-01 00:00:00"
    assert len(client.get_metric_history(reg.run_id, "train_loss")) == len(outcome.result.history)
    assert str(client.get_model_version_by_alias("lstm-forecaster", "champion").version) == "1"

    bundle, version, run_id = load_champion(s)
    assert (version, run_id) == ("1", reg.run_id)
    expected, _ = forecast_frame(outcome.bundle, df)
    got, _ = forecast_frame(bundle, df)
    np.testing.assert_allclose(got["y_hat"], expected["y_hat"], rtol=1e-6)

    pyfunc = mlflow.pyfunc.load_model("models:/lstm-forecaster@champion")
    via_pyfunc = pyfunc.predict(df)
    np.testing.assert_allclose(via_pyfunc["y_hat"], expected["y_hat"], rtol=1e-6)
    assert list(via_pyfunc["ds"].dt.strftime("%Y-%m")) == [f"1961-{m:02d}" for m in range(1, 13)]


def test_gate_keeps_a_worse_model_out(tmp_path, air_csv):
    s = small_settings(tmp_path, **{"training.epochs": 300, "training.patience": 50})
    df = air_frame(air_csv)
    good = log_and_register(s, train_stage(df, s), b"", None)
    assert good.promoted
    bad_settings = small_settings(tmp_path, **{"training.epochs": 1, "training.lr": 1e-6, "model.level_norm": False})
    bad = log_and_register(bad_settings, train_stage(df, bad_settings), b"", None)
    assert not bad.promoted and "kept out" in bad.reason
    client = connect(s)
    assert str(client.get_model_version_by_alias("lstm-forecaster", "champion").version) == good.version
    assert client.get_model_version("lstm-forecaster", bad.version).tags["gate"].startswith("kept out")
    assert str(client.get_model_version_by_alias("lstm-forecaster", "challenger").version) == bad.version


def test_no_champion_is_a_clear_error(tmp_path):
    s = small_settings(tmp_path)
    with pytest.raises(NoChampionError, match="no 'champion' alias"):
        load_champion(s)


def test_auto_search_picks_the_lowest_validation_loss_and_logs_each_trial(tmp_path, air_csv):
    from tasks.train.tuning import tune

    s = small_settings(tmp_path, **{"training.epochs": 3, "training.patience": 3})
    df = air_frame(air_csv)
    best, trials = tune(df, s, n_trials=3)
    assert len(trials) == 3 and all(np.isfinite(t.val_loss) for t in trials)
    winner = min(trials, key=lambda t: t.val_loss)
    assert all(getattr(getattr(best, k.split(".")[0]), k.split(".")[1]) == v for k, v in winner.params.items())
    reg = log_and_register(best, train_stage(df, best), b"", None, trials)
    client = connect(s)
    children = client.search_runs(
        [client.get_run(reg.run_id).info.experiment_id], f"tags.mlflow.parentRunId = '{reg.run_id}'"
    )
    assert len(children) == 3
    assert {float(c.data.metrics["val_loss"]) for c in children} == {t.val_loss for t in trials}
