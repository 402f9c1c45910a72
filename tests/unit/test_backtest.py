"""Rolling-origin backtest: cutoffs, no use of data after a cutoff, conformal quantiles, coverage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_model import backtest, baselines, metrics, scaling
from lstm_model.bundle import forecast_at
from lstm_model.network import Ensemble
from lstm_model.windows import PackedSeries
from tests.conftest import net_config


def test_cutoffs_step_back_from_the_end():
    origins = backtest.cutoffs(np.array([50, 40]), horizon=6, n_windows=3, step=4)
    assert origins.tolist() == [[36, 26], [40, 30], [44, 34]]
    series, origin = backtest.pairs(origins)
    assert series.tolist() == [0, 1, 0, 1, 0, 1] and origin.tolist() == [36, 26, 40, 30, 44, 34]


def test_backtest_reads_nothing_after_each_cutoff():
    rng = np.random.default_rng(1)
    values = [rng.uniform(10, 20, n) for n in (60, 45)]
    packed = PackedSeries.from_arrays(values)
    cfg = net_config(input_size=12, horizon=6, hidden_size=8, num_layers=1)
    torch.manual_seed(0)
    model = Ensemble(cfg)
    stats = scaling.fit_stats(packed.values, packed.series_of_point(), packed.position() < 20, 2)
    origins = np.array([[40, 30]])

    def run(p: PackedSeries) -> dict:
        models = {"lstm": lambda s, o: forecast_at(model, p, s, o, stats), **baseline_predictors(p, 6, 12)}
        return run_backtest(models, p, origins, 6, 12)

    clean = run(packed)
    poisoned_values = [v.copy() for v in values]
    poisoned_values[0][40:] = 1e9
    poisoned_values[1][30:] = -1e9
    dirty = run(PackedSeries.from_arrays(poisoned_values))
    np.testing.assert_array_equal(clean["_"]["scale"], dirty["_"]["scale"])
    for name in ("lstm", "snaive", "naive", "drift"):
        np.testing.assert_array_equal(clean[name]["y_hat"], dirty[name]["y_hat"])
        assert not np.allclose(clean[name]["mae"], dirty[name]["mae"])  # only the actuals moved


def test_conformal_quantiles_by_hand():
    # step 1: residuals 1..9 (mean 5), step 2: 2..18 (mean 10): both normalise to 0.2..1.8
    r = np.arange(1, 10, dtype=float)[:, None] * np.array([[1.0, 2.0]])
    valid = np.ones_like(r, bool)
    q = backtest.conformal_quantiles(-r, valid, (80, 95))
    # 18 pooled scores (0.2, 0.2, 0.4, 0.4, ..., 1.8, 1.8); ceil(19 * 0.8) = 16th -> 1.6;
    # ceil(19 * 0.95) = 19th -> capped at the 18th -> 1.8; times each step's mean
    np.testing.assert_allclose(q[80], [1.6 * 5, 1.6 * 10])
    np.testing.assert_allclose(q[95], [1.8 * 5, 1.8 * 10])
    assert np.isnan(backtest.conformal_quantiles(r, np.zeros_like(valid), (80,))[80]).all()


def test_conformal_quantiles_masked_steps():
    r = np.array([[1.0, 0.0, 4.0], [3.0, 0.0, 9.0], [2.0, 0.0, 5.0]])  # step 2 all zero
    valid = np.ones_like(r, bool)
    valid[1, 2] = False  # step 3 keeps 4 and 5 (mean 4.5)
    q = backtest.conformal_quantiles(r, valid, (50,))[50]
    # scores: step 1 -> 0.5, 1.5, 1.0; step 2 -> 0, 0, 0; step 3 -> 8/9, 10/9: n = 8,
    # ceil(9 * 0.5) = 5th smallest of (0, 0, 0, 0.5, 8/9, 1.0, 10/9, 1.5) = 8/9
    np.testing.assert_allclose(q, [8 / 9 * 2, 0.0, 8 / 9 * 4.5])
    r[0, 0] = np.nan  # a non-finite residual is left out, as if masked
    masked = valid.copy()
    masked[0, 0] = False
    r_masked = np.where(masked, r, 0.0)
    np.testing.assert_allclose(
        backtest.conformal_quantiles(r, valid, (50,))[50], backtest.conformal_quantiles(r_masked, masked, (50,))[50]
    )
    none = valid.copy()
    none[:, 0] = False
    assert np.isnan(backtest.conformal_quantiles(r, none, (50,))[50][0])


def test_coverage_ignores_missing_actuals():
    y = np.array([[1.0, 5.0, np.nan]])
    assert backtest.coverage(y, y - 1, np.array([[2.0, 4.0, 0.0]])) == pytest.approx(0.5)


# -- the backtest of a few predictors on the same pairs (what the train stage does, reduced) -------


def baseline_predictors(packed: PackedSeries, horizon: int, season: int) -> dict[str, backtest.Predict]:
    def on_pairs(fn):
        def predict(series: np.ndarray, origin: np.ndarray) -> np.ndarray:
            sub = PackedSeries(packed.values, packed.offsets[series], packed.lengths[series])
            return fn(sub, origin)

        return predict

    return {
        "naive": on_pairs(lambda p, o: baselines.naive(p, o, horizon)),
        "snaive": on_pairs(lambda p, o: baselines.seasonal_naive(p, o, horizon, season)),
        "drift": on_pairs(lambda p, o: baselines.drift(p, o, horizon)),
    }


def run_backtest(
    models: dict[str, backtest.Predict], packed: PackedSeries, origins: np.ndarray, horizon: int, season: int
) -> dict[str, dict[str, np.ndarray]]:
    """Per model: forecasts (W*S, H) and per-(cutoff, series) metrics (W*S,), plus the actuals.
    The MASE scale of each pair uses only the history before its own cutoff."""
    series, origin = backtest.pairs(origins)
    y = backtest.actuals(packed, series, origin, horizon)
    scale = baselines.seasonal_scale_at(packed, series, origin, season)
    out: dict[str, dict[str, np.ndarray]] = {"_": {"y": y, "series": series, "origin": origin, "scale": scale}}
    for name, predict in models.items():
        y_hat = predict(series, origin)
        out[name] = {"y_hat": y_hat, **metrics.all_metrics(y, y_hat, scale)}
    return out


def test_never_negative_reads_only_the_history_before_each_end():
    packed = PackedSeries.from_arrays([np.array([1.0, 0.0, np.nan, 2.0]), np.array([3.0, -1.0]), np.array([np.nan])])
    series, end = np.array([0, 1, 1, 2, 0]), np.array([4, 2, 1, 1, 0])
    assert backtest.never_negative(packed, series, end).tolist() == [True, False, True, False, False]
    y_hat = np.array([[-1.0, 2.0], [-1.0, np.nan]])
    floored = backtest.floor_at_zero(y_hat, np.array([True, True]))
    assert floored[0].tolist() == [0.0, 2.0] and floored[1, 0] == 0.0 and np.isnan(floored[1, 1])
    assert backtest.floor_at_zero(y_hat, np.array([False, False]))[0, 0] == -1.0


def test_band_shifts_are_the_conformal_quantiles_of_what_each_model_missed():
    from lstm_model.backtest import band_shifts, shift_bands

    rng = np.random.default_rng(0)
    M, H = 300, 4
    y = rng.normal(1.0, 1.0, (M, H))  # centred at 1: the served bands below are centred at 0
    bands = {"lo_80": np.full((M, H), -1.2816), "hi_80": np.full((M, H), 1.2816)}
    which = np.array(["ensemble"] * 200 + ["lstm"] * 100, dtype=object)
    scale = np.full(M, 2.0)
    got = band_shifts(y, bands, which, scale, min_points=400)
    assert set(got) == {"ensemble", "lstm"}  # 800 and 400 points
    y[250, 0] = np.nan  # now the LSTM has 399: too few to shift on
    got = band_shifts(y, bands, which, scale, min_points=400)
    assert set(got) == {"ensemble"}
    rows = which == "ensemble"
    e = ((y[rows] - bands["lo_80"][rows]) / 2.0).reshape(-1)
    assert got["ensemble"]["lo_80"] == pytest.approx(np.quantile(e, 0.1))
    moved = shift_bands(np.zeros((M, H)), bands, which, got, scale)
    assert (moved["hi_80"][~rows] == bands["hi_80"][~rows]).all()  # an unshifted model keeps its bands
    share_lo = np.mean(y[rows] <= moved["lo_80"][rows])
    share_hi = np.mean(y[rows] <= moved["hi_80"][rows])
    assert share_lo == pytest.approx(0.1, abs=0.01) and share_hi == pytest.approx(0.9, abs=0.01)  # before: ~0.02, ~0.6
    assert np.mean(y[rows] <= bands["hi_80"][rows]) < 0.7


def test_shifted_bands_stay_ordered_around_the_point():
    from lstm_model.backtest import shift_bands

    point = np.array([[10.0, 10.0]])
    bands = {"lo_80": np.array([[8.0, 8.0]]), "hi_80": np.array([[12.0, 12.0]])}
    bands |= {"lo_95": np.array([[7.0, 7.0]]), "hi_95": np.array([[13.0, 13.0]])}
    shifts = {"lstm": {"lo_80": 1.5, "lo_95": 0.2, "hi_80": -0.5, "hi_95": -2.5}}  # scale 2: +3, +0.4, -1, -5
    out = shift_bands(point, bands, np.array(["lstm"], dtype=object), shifts, np.array([2.0]))
    np.testing.assert_allclose(out["lo_80"], [[10.0, 10.0]])  # 11 would cross the point
    np.testing.assert_allclose(out["lo_95"], [[7.4, 7.4]])
    np.testing.assert_allclose(out["hi_80"], [[11.0, 11.0]])
    np.testing.assert_allclose(out["hi_95"], [[11.0, 11.0]])  # 8 would sit inside the 80 % band


def test_the_median_is_shifted_to_where_half_the_validation_actuals_sit():
    from lstm_model.backtest import MEDIAN, band_shifts, median_of

    rng = np.random.default_rng(1)
    M, H = 200, 3
    y = rng.exponential(1.0, (M, H))  # skewed: the mean 1 sits above the median ln 2
    point = np.ones((M, H))
    bands = {"lo_80": np.full((M, H), 0.1), "hi_80": np.full((M, H), 2.3)}
    which = np.array(["ensemble"] * M, dtype=object)
    scale = np.full(M, 2.0)
    assert MEDIAN not in band_shifts(y, bands, which, scale, min_points=100)["ensemble"]  # only when asked
    got = band_shifts(y, bands, which, scale, min_points=100, point=point)["ensemble"]
    assert got[MEDIAN] == pytest.approx(np.quantile((y - 1.0).reshape(-1) / 2.0, 0.5))
    med = median_of(point, bands, which, {"ensemble": got}, scale)
    assert np.mean(y <= med) == pytest.approx(0.5, abs=0.01) and np.mean(y <= point) > 0.6
    assert (median_of(point, bands, which, {}, scale) == point).all()  # no shift: the point forecast


def test_a_shifted_median_stays_inside_the_narrowest_interval():
    from lstm_model.backtest import MEDIAN, median_of

    point = np.array([[10.0, 10.0], [5.0, np.nan]])
    bands = {"lo_80": np.array([[8.0, 9.5], [4.0, np.nan]]), "hi_80": np.array([[12.0, 12.0], [6.0, np.nan]])}
    bands |= {"lo_50": np.array([[9.0, 9.8], [4.5, np.nan]]), "hi_50": np.array([[11.0, 11.0], [5.5, np.nan]])}
    which = np.array(["lstm", "naive"], dtype=object)
    med = median_of(point, bands, which, {"lstm": {MEDIAN: -0.25}, "naive": {"lo_80": 1.0}}, np.array([2.0, 1.0]))
    np.testing.assert_allclose(med[0], [9.5, 9.8])  # 10 - 0.5, the second step held at its lo_50 of 9.8
    assert med[1, 0] == 5.0 and np.isnan(med[1, 1])  # a model without a median shift keeps its point
