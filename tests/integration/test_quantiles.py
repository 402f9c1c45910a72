"""Quantile forecasts (``--quantiles``): the bounds of conformal intervals for the LSTM and of
statsforecast's intervals for the comparators; their coverage measured on the test windows."""

from __future__ import annotations

import numpy as np
import pytest

from lstm_model.backtest import forecast_columns, levels_for, quantile_band, quantile_name
from tasks.adapters.settings import load_settings
from tasks.forecast.predict import forecast_frame
from tasks.train.stage import train_stage
from tests.conftest import make_long_csv, parse_csv

QUANTILES = "0.05,0.25,0.5,0.75,0.95"


def test_quantiles_name_the_interval_bounds_they_are():
    assert levels_for((0.05, 0.25, 0.5, 0.75, 0.95)) == (50, 80, 90, 95)
    assert [quantile_band(q) for q in (0.05, 0.25, 0.5, 0.75, 0.95)] == ["lo_90", "lo_50", "", "hi_50", "hi_90"]
    assert [quantile_name(q) for q in (0.025, 0.1, 0.5)] == ["q2.5", "q10", "q50"]
    assert forecast_columns({})[3:7] == ["y_hat_lo_80", "y_hat_hi_80", "y_hat_lo_95", "y_hat_hi_95"]  # older bundles
    for bad in ("0", "1", "0.1234", "1.5", "x", "0.1,,-0.2"):
        with pytest.raises(ValueError, match="data.quantiles"):
            load_settings({"data.quantiles": bad})


@pytest.mark.parametrize("serve", ["lstm", "selected"])
def test_quantile_forecasts_are_ordered_and_their_coverage_is_measured(tmp_path, air_csv, serve):
    df = parse_csv(air_csv.read_bytes(), str(air_csv)).frame
    s = load_settings({"storage.root": str(tmp_path), "training.epochs": 20, "data.quantiles": QUANTILES})
    outcome = train_stage(df, s)
    m = outcome.metrics
    names = [quantile_name(float(q)) for q in QUANTILES.split(",")]
    for name in names:
        assert 0.0 <= m[f"quantile_coverage_{name}"] <= 1.0
    shares = [m[f"quantile_coverage_{n}"] for n in names]
    assert shares == sorted(shares) and shares[0] < shares[-1]  # a higher quantile has more actuals below it
    served = [m[f"selected_quantile_coverage_{n}"] for n in names]  # the served forecasts' own bands
    assert served == sorted(served) and 0.0 <= served[0] < served[-1] <= 1.0
    widths = [m[f"selected_coverage_{lv}"] for lv in (50, 80, 90, 95)]
    assert widths == sorted(widths) and widths[-1] > 0
    assert m["selected_coverage_points"] == outcome.evaluation.frame["y"].notna().sum()  # every test point
    assert outcome.bundle.meta["levels"] == [50, 80, 90, 95] and "50" in outcome.bundle.meta["conformal"]
    fc, skipped = forecast_frame(outcome.bundle, df, serve)
    assert not skipped and len(fc) == 12
    cols = [f"y_hat_{n}" for n in names]
    assert list(fc.columns) == forecast_columns(outcome.bundle.meta) and set(cols) <= set(fc.columns)
    q = fc[cols].to_numpy()
    assert np.isfinite(q).all() and (np.diff(q, axis=1) >= 0).all()  # ordered at every step
    np.testing.assert_array_equal(fc["y_hat_q50"], fc["y_hat"])
    np.testing.assert_array_equal(fc["y_hat_q5"], fc["y_hat_lo_90"])
    np.testing.assert_array_equal(fc["y_hat_q75"], fc["y_hat_hi_50"])


def test_series_served_by_comparators_carry_their_quantiles(tmp_path):
    df = make_long_csv(tmp_path / "many.csv", n_series=4).rename(
        columns={"series_id": "unique_id", "timestamp": "ds", "value": "y"}
    )
    df["ds"] = np.array(df["ds"], dtype="datetime64[ns]")
    s = load_settings(
        {"storage.root": str(tmp_path), "training.epochs": 5, "data.horizon": 6, "data.quantiles": "0.1,0.9"}
    )
    outcome = train_stage(df, s)
    for name in ("auto_ets", "seasonal_naive"):  # every series by this comparator
        bundle = outcome.bundle
        bundle.meta["selection"] = dict.fromkeys(bundle.meta["selection"], name)
        fc, skipped = forecast_frame(bundle, df)
        assert not skipped and (fc["model"] == name).all()
        assert (fc["y_hat_q10"] < fc["y_hat"]).all() and (fc["y_hat"] < fc["y_hat_q90"]).all()


def test_bands_are_shifted_at_forecast_time_as_the_validation_actuals_measured(tmp_path, monkeypatch):
    from lstm_model import backtest

    monkeypatch.setattr(backtest, "MIN_SHIFT_POINTS", 12)  # a small panel shifts its bands too
    df = make_long_csv(tmp_path / "many.csv", n_series=6).rename(
        columns={"series_id": "unique_id", "timestamp": "ds", "value": "y"}
    )
    df["ds"] = np.array(df["ds"], dtype="datetime64[ns]")
    over = {"training.epochs": 5, "data.horizon": 6, "data.quantiles": "0.1,0.9", "data.comparators": "naive"}
    outcome = train_stage(df, load_settings({"storage.root": str(tmp_path), **over}))
    shifts = outcome.bundle.meta["band_shift"]
    assert shifts and all(set(v) == {"lo_80", "hi_80", "lo_95", "hi_95"} for v in shifts.values())
    assert shifts.get("naive", {"hi_80": 1.0})["hi_80"] > 0  # naive forecasts a rising series too low
    fc, _ = forecast_frame(outcome.bundle, df)
    outcome.bundle.meta["band_shift"] = {}
    plain, _ = forecast_frame(outcome.bundle, df)
    assert (fc["y_hat"] == plain["y_hat"]).all()  # the point forecasts do not move
    keys = ("lo_80", "hi_80", "lo_95", "hi_95")
    H = 6
    bands = {k: plain[f"y_hat_{k}"].to_numpy().reshape(-1, H) for k in keys}
    which = plain["model"].to_numpy().reshape(-1, H)[:, 0]
    scale = plain["mase_scale"].to_numpy().reshape(-1, H)[:, 0]
    want = backtest.shift_bands(plain["y_hat"].to_numpy().reshape(-1, H), bands, which, shifts, scale)
    for k in keys:
        np.testing.assert_allclose(fc[f"y_hat_{k}"].to_numpy().reshape(-1, H), want[k])
    moved = np.isin(which, list(shifts))
    assert moved.any() and not np.allclose(fc["y_hat_hi_80"].to_numpy().reshape(-1, H)[moved], bands["hi_80"][moved])
    np.testing.assert_array_equal(fc["y_hat_q90"], fc["y_hat_hi_80"])  # the quantiles are the shifted bands


def test_the_served_median_moves_where_the_validation_actuals_sit(tmp_path, monkeypatch):
    from lstm_model import backtest

    monkeypatch.setattr(backtest, "MIN_SHIFT_POINTS", 12)
    df = make_long_csv(tmp_path / "many.csv", n_series=6).rename(
        columns={"series_id": "unique_id", "timestamp": "ds", "value": "y"}
    )
    df["ds"] = np.array(df["ds"], dtype="datetime64[ns]")
    over = {"training.epochs": 5, "data.horizon": 6, "data.quantiles": "0.1,0.5,0.9", "data.comparators": "naive"}
    outcome = train_stage(df, load_settings({"storage.root": str(tmp_path), **over}))
    shifts = outcome.bundle.meta["band_shift"]
    assert shifts and all(backtest.MEDIAN in v for v in shifts.values())
    assert 0.0 <= outcome.metrics["selected_quantile_coverage_q50"] <= 1.0
    fc, _ = forecast_frame(outcome.bundle, df)
    H = 6
    point, q50 = fc["y_hat"].to_numpy().reshape(-1, H), fc["y_hat_q50"].to_numpy().reshape(-1, H)
    which = fc["model"].to_numpy().reshape(-1, H)[:, 0]
    scale = fc["mase_scale"].to_numpy().reshape(-1, H)[:, 0]
    bands = {k: fc[f"y_hat_{k}"].to_numpy().reshape(-1, H) for k in ("lo_80", "hi_80", "lo_95", "hi_95")}
    np.testing.assert_allclose(q50, backtest.median_of(point, bands, which, shifts, scale))
    moved = np.isin(which, list(shifts))
    assert moved.any() and not np.allclose(q50[moved], point[moved])  # the point forecast itself does not move
    q = fc[["y_hat_q10", "y_hat_q50", "y_hat_q90"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all()
    outcome.bundle.meta["band_shift"] = {}
    plain, _ = forecast_frame(outcome.bundle, df)
    np.testing.assert_array_equal(plain["y_hat"], fc["y_hat"])
    np.testing.assert_array_equal(plain["y_hat_q50"], plain["y_hat"])


def test_an_lstm_whose_bands_could_not_be_calibrated_serves_with_its_fallbacks_widths(tmp_path):
    df = make_long_csv(tmp_path / "many.csv", n_series=3).rename(
        columns={"series_id": "unique_id", "timestamp": "ds", "value": "y"}
    )
    df["ds"] = np.array(df["ds"], dtype="datetime64[ns]")
    over = {"training.epochs": 3, "data.horizon": 6, "data.quantiles": "0.1,0.5,0.9"}
    bundle = train_stage(df, load_settings({"storage.root": str(tmp_path), **over})).bundle
    bundle.meta["selection"] = dict.fromkeys(bundle.meta["selection"], "lstm")
    bundle.meta["band_shift"] = {}
    calibrated, _ = forecast_frame(bundle, df)
    assert (calibrated["model"] == "lstm").all()
    bundle.meta["conformal"] = {lv: [float("nan")] * 6 for lv in bundle.meta["conformal"]}  # no finite residual
    fc, skipped = forecast_frame(bundle, df)
    assert not skipped and len(fc) == 3 * 6 and (fc["model"] == "lstm").all()  # the forecast asked for
    np.testing.assert_array_equal(fc["y_hat"], calibrated["y_hat"])
    values = fc[[c for c in fc.columns if c.startswith("y_hat")]].to_numpy(dtype=float)
    assert np.isfinite(values).all()  # never a non-finite bound stored
    bundle.meta["selection"] = dict(bundle.meta["fallback"])  # each series' fallback, with its own bands
    own, _ = forecast_frame(bundle, df)
    for key in ("hi_80", "hi_95"):  # the fallback's widths about the LSTM's forecast
        np.testing.assert_allclose(fc[f"y_hat_{key}"] - fc["y_hat"], own[f"y_hat_{key}"] - own["y_hat"], rtol=1e-9)
