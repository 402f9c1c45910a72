"""The served model: refit on every point, honest validation, per-series choice of model and
per-series transform, comparators equal to statsforecast run directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstm_model.windows import PackedSeries
from tasks.adapters.settings import load_settings
from tasks.forecast.predict import forecast_frame
from tasks.train import comparators
from tasks.train.evaluate import split
from tasks.train.stage import train_stage, training_windows

H = 6


def monthly(n_series: int = 3, n: int = 72, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": f"s{i}",
                    "ds": pd.date_range("2015-01-01", periods=n, freq="MS"),
                    "y": 100 + 5 * i + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, n),
                }
            )
            for i in range(n_series)
        ],
        ignore_index=True,
    )


def settings(tmp_path, **over):
    return load_settings(
        {
            "storage.root": str(tmp_path / "storage"),
            "data.horizon": H,
            "training.epochs": 8,
            "training.patience": 8,
            "model.hidden_size": 8,
            "training.progress": False,
            "data.comparators": "auto_ets,seasonal_naive,naive",
            **over,
        }
    )


def test_the_served_weights_are_refit_on_every_point(tmp_path):
    df = monthly()
    out = train_stage(df, settings(tmp_path))
    b = out.bundle
    assert b.meta["train_end"] == str(df["ds"].max())  # the served weights saw the last point
    assert pd.Timestamp(b.meta["evaluated_train_end"]) < pd.Timestamp(b.meta["train_end"])
    assert b.state_dict.keys() == b.eval_state_dict.keys()
    assert any(not np.array_equal(b.state_dict[k], b.eval_state_dict[k]) for k in b.state_dict)
    assert out.served.n_train_windows > out.result.n_train_windows
    # statistics of the served model from every point, of the scored one from its training part only
    last = df[df["unique_id"] == "s0"]["y"].to_numpy()
    assert b.stats.loc[0] == pytest.approx(np.log(last).mean())
    assert out.stats.loc[0] == pytest.approx(np.log(last[: out.split.val0[0]]).mean())


def test_validation_windows_never_contain_a_training_target():
    lengths = np.array([60, 45])
    packed = PackedSeries.from_arrays([np.arange(float(n)) for n in lengths])
    sp = split(packed, H, val_windows=2, n_windows=3)
    L = 8
    tr, va = training_windows(packed.values, packed.offsets, sp.val0, (sp.val0 + H - 1, sp.test0), L, H)
    sid = np.searchsorted(packed.offsets, va, side="right") - 1
    first_target = va - packed.offsets[sid] + L  # position of each validation window's first target
    assert va.size and np.all(first_target >= sp.val0[sid]) and np.all(first_target + H <= sp.test0[sid])
    sid_tr = np.searchsorted(packed.offsets, tr, side="right") - 1
    assert np.all(tr - packed.offsets[sid_tr] + L + H <= sp.val0[sid_tr])  # training targets end before val0
    assert np.all(sp.test0 == lengths - 3 * H) and np.all(sp.val0 == sp.test0 - 2 * H)


def test_the_log_transform_is_decided_per_series_and_zeros_forecast_finitely(tmp_path):
    df = monthly()
    df.loc[(df["unique_id"] == "s1") & (df.index % 7 == 0), "y"] = 0.0  # zeros in one series only
    out = train_stage(df, settings(tmp_path))
    assert out.stats.log.tolist() == [True, False, True]
    assert out.bundle.stats.log.tolist() == [True, False, True]
    for mode in ("selected", "lstm"):
        fc, skipped = forecast_frame(out.bundle, df, mode)
        assert not skipped and fc["unique_id"].nunique() == 3
        numeric = fc.select_dtypes("number")
        assert np.isfinite(numeric.to_numpy()).all()


def test_the_choice_of_model_never_looks_at_the_test_part(tmp_path):
    df = monthly(n_series=4)
    s = settings(tmp_path)
    base = train_stage(df, s)
    test_part = df.groupby("unique_id").cumcount(ascending=False) < 3 * H  # the three test windows
    perturbed = df.assign(y=np.where(test_part, df["y"] * 3 + 500, df["y"]))
    other = train_stage(perturbed, s)
    assert other.evaluation.choice == base.evaluation.choice
    assert other.evaluation.fallback == base.evaluation.fallback
    assert other.metrics["selected_mase"] != base.metrics["selected_mase"]  # the test part was really changed


def test_a_series_too_short_for_the_lstm_gets_a_comparator_forecast(tmp_path):
    df = monthly(n_series=2)
    short = pd.DataFrame(
        {"unique_id": "short", "ds": pd.date_range("2019-01-01", periods=10, freq="MS"), "y": np.linspace(50, 60, 10)}
    )
    out = train_stage(pd.concat([df, short], ignore_index=True), settings(tmp_path))
    assert out.evaluation.choice["short"] != "lstm"
    fc, skipped = forecast_frame(out.bundle, pd.concat([df, short], ignore_index=True), "lstm")
    assert not skipped
    mine = fc[fc["unique_id"] == "short"]
    assert len(mine) == H and (mine["model"] != "lstm").all() and np.isfinite(mine["y_hat"]).all()
    assert (fc.loc[fc["unique_id"] != "short", "model"] == "lstm").all()  # the others: the LSTM alone


def test_a_series_without_a_validation_window_is_scored_by_the_default_model(tmp_path):
    df = monthly(n_series=2, n=20)  # with an input of 12 no LSTM trains: the comparators are compared
    short = pd.DataFrame(  # 10 points: its test window starts at 4, before any validation window fits
        {"unique_id": "short", "ds": pd.date_range("2019-01-01", periods=10, freq="MS"), "y": np.linspace(50, 60, 10)}
    )
    over = {"data.input_size": 12, "data.comparators": "auto_ets,naive"}  # both forecast from 4 points
    ev = train_stage(pd.concat([df, short], ignore_index=True), settings(tmp_path, **over)).evaluation
    assert ev.choice["short"] == ev.default  # no validation window: the default model, as served
    mine = ev.frame[ev.frame["unique_id"] == "short"]
    assert len(mine) == H and np.isfinite(mine["selected"]).all()
    np.testing.assert_array_equal(mine["selected"], mine[ev.default])
    assert ev.common.sum() == len(ev.frame) // H == 3  # every test pair is scored, the short one too
    assert ev.metrics["points"] == 3 and ev.metrics["selected_coverage_points"] == 3 * H


def test_when_no_series_can_train_the_lstm_the_comparators_serve(tmp_path):
    df = monthly(n_series=2, n=20)
    out = train_stage(df, settings(tmp_path, **{"data.input_size": 12}))
    assert out.result is None and "lstm" not in out.evaluation.models
    fc, skipped = forecast_frame(out.bundle, df)
    assert not skipped and len(fc) == 2 * H and (fc["model"] != "lstm").all()


@pytest.mark.parametrize("name", comparators.COMPARATORS)
def test_comparators_match_statsforecast_run_directly(name):
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, Naive, SeasonalNaive

    y = monthly(n_series=1, n=60)["y"].to_numpy()
    packed = PackedSeries.from_arrays([y, y[:40] * 2])
    series, origin = np.array([0, 0, 1]), np.array([48, 54, 40])
    ours = comparators.forecast_pairs(packed, series, origin, H, 12, [name])[name]["y_hat"]  # (3, H)
    model = {
        "auto_ets": AutoETS(season_length=12),
        "auto_theta": AutoTheta(season_length=12),
        "auto_arima": AutoARIMA(season_length=12),
        "seasonal_naive": SeasonalNaive(12),
        "naive": Naive(),
    }[name]
    for k, (s, o) in enumerate(zip(series, origin)):
        hist = packed.values[packed.offsets[s] : packed.offsets[s] + o]
        direct = StatsForecast(models=[model], freq=1).forecast(
            df=pd.DataFrame({"unique_id": 0, "ds": np.arange(o), "y": hist}), h=H
        )
        np.testing.assert_allclose(ours[k], direct.iloc[:, -1].to_numpy(), rtol=1e-9)


def test_the_ensemble_is_kept_unless_another_model_is_clearly_better_on_validation():
    from tasks.train.evaluate import _choose
    from tasks.train.pairs import Pairs

    y = np.zeros((3, 2))  # three series, one validation window each
    y_hat = {
        "lstm": np.full((3, 2), 1.0),
        "naive": np.array([[0.7] * 2, [0.8] * 2, [2.0] * 2]),
        "ensemble": np.full((3, 2), 1.0),
    }
    val = Pairs(np.arange(3), np.full(3, 10), y, np.ones(3), y_hat)
    models = ["lstm", "naive", "ensemble"]
    best, _ = _choose(val, models, 3, margin=0.25)
    # naive's error is 30 % lower on series 0 (chosen), 20 % lower on series 1 (not enough), higher on 2
    assert [models[b] for b in best] == ["naive", "ensemble", "ensemble"]
    plain, _ = _choose(val, models, 3, margin=0.0)
    assert [models[b] for b in plain] == ["naive", "naive", "lstm"]  # ties go to the first


def test_series_that_cannot_be_forecast_are_listed_with_their_reason(tmp_path):
    df = monthly()
    out = train_stage(df, settings(tmp_path))
    rng = np.random.default_rng(1)
    odd = pd.DataFrame(
        {
            "unique_id": "irregular",
            "y": rng.normal(50, 1, 30),
            "ds": pd.Timestamp("2020-01-01") + pd.to_timedelta(np.cumsum(rng.integers(1, 90, 30)), "D"),
        }
    )
    one = pd.DataFrame({"unique_id": "single", "ds": [pd.Timestamp("2020-01-01")], "y": [3.0]})
    fc, skipped = forecast_frame(out.bundle, pd.concat([df, odd, one], ignore_index=True))
    assert skipped == {
        "irregular": "no frequency to date its forecasts (irregular timestamps; set --freq)",
        "single": "fewer than two observed points",
    }
    assert set(fc["unique_id"]) == {"s0", "s1", "s2"} and np.isfinite(fc["y_hat"]).all()


def test_autoarima_at_long_seasons_runs_only_for_a_few_series():
    every = "auto_ets,auto_theta,auto_arima,seasonal_naive,naive"
    few, many = comparators.LONG_SEASON_ARIMA_SERIES, comparators.LONG_SEASON_ARIMA_SERIES + 1
    assert "auto_arima" in comparators.parse(every, few, 2000, season=48)  # one half-hourly series
    assert "auto_arima" not in comparators.parse(every, many, 2000, season=48)
    assert "auto_arima" in comparators.parse(every, 1000, 2000, season=12)  # monthly: always affordable
    assert "auto_arima" not in comparators.parse(every, 1, 2000, season=96)  # one 15-minute series: never
    assert comparators.arima_history(12) == comparators.ARIMA_HISTORY and comparators.arima_history(48) == 8 * 48
    assert comparators.parse(every, 3000, 2000, season=12) == ["seasonal_naive", "naive"]


def falling(n: int = 72) -> pd.DataFrame:
    """A series falling to about zero (never below), and the same series shifted below zero."""
    t = np.arange(n)
    y = (n + 1 - t) + np.sin(t)  # ends near 1, falling one unit a step: a trend forecast goes below zero
    ds = pd.date_range("2015-01-01", periods=n, freq="MS")
    return pd.concat(
        [
            pd.DataFrame({"unique_id": "never_negative", "ds": ds, "y": y.clip(min=0)}),
            pd.DataFrame({"unique_id": "signed", "ds": ds, "y": y - 30}),
        ],
        ignore_index=True,
    )


def test_a_series_never_below_zero_is_not_forecast_below_it(tmp_path):
    df = falling()
    out = train_stage(df, settings(tmp_path, **{"data.quantiles": "0.1,0.5,0.9"}))
    assert out.bundle.meta["nonnegative"] is True
    test = out.evaluation.test  # every model's backtest forecasts of the never-negative series: floored
    rows = test.series == 0
    for name, y_hat in test.y_hat.items():
        assert np.nanmin(y_hat[rows]) >= 0, name
    for mode in ("selected", "lstm", "ensemble"):
        fc, skipped = forecast_frame(out.bundle, df, mode)
        assert not skipped
        mine = fc[fc["unique_id"] == "never_negative"].select_dtypes("number").drop(columns="mase_scale")
        assert (mine.to_numpy() >= 0).all() and (mine.to_numpy() == 0).any(), mode  # it reached zero
        assert (fc.loc[fc["unique_id"] == "signed", "y_hat"] < -30).any()  # a series seen below zero: as forecast
    off = train_stage(df, settings(tmp_path / "off", **{"data.nonnegative": False}))
    assert off.bundle.meta["nonnegative"] is False
    fc, _ = forecast_frame(off.bundle, df, "ensemble")
    assert (fc.loc[fc["unique_id"] == "never_negative", "y_hat"] < 0).any()  # what the floor took away


def test_the_served_ensemble_weighs_the_lstm_as_the_bundle_records(tmp_path):
    df = monthly()
    out = train_stage(df, settings(tmp_path, **{"data.comparators": "auto_ets,auto_theta,naive"}))
    b = out.bundle
    assert b.meta["ensemble_lstm_share"] == 0.5  # by default the LSTM weighs what the comparators do together
    lstm = forecast_frame(b, df, "lstm")[0]["y_hat"].to_numpy()
    half = forecast_frame(b, df, "ensemble")[0]["y_hat"].to_numpy()  # lstm / 2 + (ets + theta) / 4
    others = 2 * half - lstm  # the comparators' mean
    b.meta["ensemble_lstm_share"] = None  # a bundle written before the setting: the members' plain mean
    plain = forecast_frame(b, df, "ensemble")[0]["y_hat"].to_numpy()
    np.testing.assert_allclose(plain, (lstm + 2 * others) / 3, rtol=1e-9)
    assert not np.allclose(plain, half)


def test_an_lstm_that_learnt_nothing_gets_no_weight_in_the_served_ensemble(tmp_path):
    """A learning rate too small to move the weights: the best validation epoch is the first, inside the
    warm-up, so the bundle records no LSTM share and the served ensemble is the comparators' mean."""
    df = monthly()
    s = settings(tmp_path, **{"data.comparators": "auto_ets,auto_theta,naive", "training.lr": 1e-12})
    b = train_stage(df, s).bundle
    assert b.meta["ensemble_lstm_share"] == 0.0
    alone = forecast_frame(b, df, "ensemble")[0]["y_hat"].to_numpy()
    lstm = forecast_frame(b, df, "lstm")[0]["y_hat"].to_numpy()
    b.meta["ensemble_lstm_share"] = 0.5
    half = forecast_frame(b, df, "ensemble")[0]["y_hat"].to_numpy()
    np.testing.assert_allclose(alone, 2 * half - lstm, rtol=1e-9)  # (ets + theta) / 2
    assert not np.allclose(alone, half)


def test_the_lstm_share_is_dropped_only_when_the_best_epoch_lies_in_the_warm_up():
    from lstm_model.training import TrainResult, warmup_epochs
    from tasks.train.stage import lstm_share
    from tests.conftest import train_config

    tc = train_config(epochs=300)
    warm = warmup_epochs(tc)
    assert warm == 15
    assert lstm_share(0.5, TrainResult(model=None, best_epoch=warm - 1), tc) == 0.0
    assert lstm_share(None, TrainResult(model=None, best_epoch=0), tc) == 0.0
    assert lstm_share(0.5, TrainResult(model=None, best_epoch=warm), tc) == 0.5
    assert lstm_share(0.5, None, tc) == 0.5  # no evaluated network: the setting


def test_autoarima_sees_only_the_newest_points_of_a_long_history(monkeypatch):
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS

    monkeypatch.setattr(comparators, "ARIMA_HISTORY", 36)
    y = monthly(n_series=1, n=60)["y"].to_numpy()
    packed = PackedSeries.from_arrays([y])
    series, origin = np.array([0, 0]), np.array([30, 54])
    ours = comparators.forecast_pairs(packed, series, origin, H, 12, ["auto_ets", "auto_arima"])
    for k, o in enumerate(origin):
        hist = y[:o]
        for name, model, seen in (
            ("auto_ets", AutoETS(season_length=12), hist),
            ("auto_arima", AutoARIMA(season_length=12), hist[-36:]),
        ):
            direct = StatsForecast(models=[model], freq=1).forecast(
                df=pd.DataFrame({"unique_id": 0, "ds": np.arange(seen.size), "y": seen}), h=H
            )
            np.testing.assert_allclose(ours[name]["y_hat"][k], direct.iloc[:, -1].to_numpy(), rtol=1e-9)
    full = StatsForecast(models=[AutoARIMA(season_length=12)], freq=1).forecast(
        df=pd.DataFrame({"unique_id": 0, "ds": np.arange(54), "y": y[:54]}), h=H
    )
    assert not np.allclose(ours["auto_arima"]["y_hat"][1], full.iloc[:, -1].to_numpy())  # the cap took effect
