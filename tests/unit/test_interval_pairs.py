"""The (series, origin) pairs that calibrate the intervals and measure their coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstm_model.windows import PackedSeries
from tasks.train import intervals
from tasks.train.pairs import Pairs, served_bands


def test_every_point_is_a_target_once_per_step_and_only_past_data_is_used():
    start, stop = np.array([20, 30]), np.array([26, 33])  # parts of 6 and 3 points
    H, L = 4, 5
    series, origin, ok = intervals._target_pairs(start, stop, H, L, np.arange(2))
    target = origin[:, None] + np.arange(H)[None, :]  # (M, H)
    assert (origin >= L).all() and (target[ok] >= origin[:, None].repeat(H, 1)[ok]).all()
    for s in range(2):
        for h in range(H):
            hits = np.sort(target[(series == s) & ok[:, h], h])
            np.testing.assert_array_equal(hits, np.arange(start[s], stop[s]))  # each point once


def test_origins_never_reach_before_the_input_window():
    series, origin, ok = intervals._target_pairs(np.array([3]), np.array([8]), 6, 4, np.arange(1))
    assert origin.min() == 4  # origins 3 - 6 + 1 .. 3 need 4 points first: they are dropped
    assert ok.any(axis=1).all()


def test_residuals_mask_the_missing_and_the_end_and_use_the_subset():
    values = np.concatenate([np.arange(40.0), np.arange(40.0) * 2])
    values[37] = np.nan  # a missing actual in series 0's test part
    packed = PackedSeries(values, np.array([0, 40]), np.array([40, 40]))
    seen = []

    def naive(series: np.ndarray, origin: np.ndarray) -> np.ndarray:
        seen.append(series.copy())
        return packed.values[packed.offsets[series] + origin - 1][:, None].repeat(3, 1)  # (M, 3)

    r, ok, low = intervals._scaled_residuals(
        naive, packed, np.array([34, 34]), np.array([40, 40]), 3, 4, 1, np.array([0])
    )
    assert set(np.concatenate(seen)) == {0}
    # 6 points x 3 steps, less the missing actual at each step and the 2 forecasts whose input
    # (the last point before the origin, for this naive forecaster) is the missing one
    assert ok.sum() == 3 * 6 - 3 - 2
    assert np.isfinite(r[ok]).all() and not ok[np.isnan(r)].any()
    assert np.isneginf(low).all()  # nothing floored unless asked


def test_residuals_of_a_series_never_below_zero_are_those_of_the_floored_forecast():
    values = np.concatenate([np.abs(np.sin(np.arange(30.0))), np.sin(np.arange(30.0))])  # the second goes below 0
    packed = PackedSeries(values, np.array([0, 30]), np.array([30, 30]))

    def below(series: np.ndarray, origin: np.ndarray) -> np.ndarray:
        return np.tile(np.array([-0.5, 0.25]), (series.size, 1))  # (M, 2): a negative first step

    part = (np.array([24, 24]), np.array([30, 30]), 2, 4, 1)
    r, ok, low = intervals._scaled_residuals(below, packed, *part, None, True)
    raw, raw_ok, raw_low = intervals._scaled_residuals(below, packed, *part)
    series, _, _ = intervals._target_pairs(*part[:4], np.arange(2))
    np.testing.assert_array_equal(ok, raw_ok)
    never, other = (series == 0) & ok.all(axis=1), (series == 1) & ok.all(axis=1)  # pairs with both targets
    assert never.sum() == other.sum() == 5
    np.testing.assert_array_equal(r[other], raw[other])  # a series seen below zero is left as it is
    assert np.isneginf(low[series == 1]).all() and np.isneginf(raw_low).all()
    per_unit = raw[never, 0] - r[never, 0]  # 0.5 / scale: the first step is forecast 0, not -0.5
    assert (per_unit > 0).all()
    np.testing.assert_allclose(r[never, 1], raw[never, 1])  # a positive step is not touched
    np.testing.assert_allclose(low[never, 0], 0.0)  # a bound floored at zero sits at the forecast, 0
    np.testing.assert_allclose(low[never, 1], -0.5 * per_unit)  # -0.25 / scale


def test_served_bands_follow_the_model_of_each_pair_and_their_coverage_is_counted():
    y = np.array([[1.0, 2.0], [3.0, np.nan], [0.0, 0.0]])  # (M, H); a missing actual is not counted
    y_hat = {"lstm": np.array([[1.0, 1.0], [2.0, 2.0], [0.0, 1.0]]), "auto_ets": np.array([[0.0, 0.0]] * 3)}
    y_hat["ensemble"] = (y_hat["lstm"] + y_hat["auto_ets"]) / 2
    ets = {"lo_80": np.full((3, 2), -4.0), "hi_80": np.full((3, 2), 4.0)}
    floor = np.array([False, False, True])
    test = Pairs(np.arange(3), np.full(3, 10), y, np.array([1.0, 2.0, 1.0]), y_hat, {"auto_ets": ets}, None, floor)
    which = np.array(["lstm", "auto_ets", "ensemble"], dtype=object)
    half = {80: np.array([0.5, 1.0])}  # MASE-scaled half-widths per step
    bands = served_bands(test, which, half, (80,))
    np.testing.assert_allclose(bands["lo_80"][0], [0.5, 0.0])  # lstm: 1 - 0.5 x 1, 1 - 1 x 1
    np.testing.assert_allclose(bands["hi_80"][1], [4.0, 4.0])  # the comparator's own band
    # the ensemble: the quantiles of its members' pooled distributions, the LSTM's floored first ([0, 0], [0.5, 2])
    lstm_bands = {"lo_80": np.array([0.0, 0.0]), "hi_80": np.array([0.5, 2.0])}
    for h in range(2):
        for key, q in (("lo_80", 0.1), ("hi_80", 0.9)):
            want = mixture_quantile(q, [0.5, 0.5], [y_hat["lstm"][2, h], 0.0], [lstm_bands, ets], h, 80)
            np.testing.assert_allclose(bands[key][2, h], want, atol=1e-9)
    point = np.array([[1.0, 1.0], [0.0, 0.0], [0.5, 0.5]])
    got = intervals.coverage_of(y, point, bands, (0.1, 0.5, 0.9), "selected")
    assert got["selected_coverage_points"] == 5
    # inside [lo, hi]: (1 in [0.5, 1.5]) (2 in [0, 2]) (3 in [-4, 4]) (0 in [-2.6, 2.6]) (0 in [-2.6, 2.8])
    assert got["selected_coverage_80"] == 1.0
    assert got["selected_quantile_coverage_q50"] == 3 / 5  # 1 <= 1, 2 > 1, 3 > 0, 0 <= 0.5, 0 <= 0.5
    assert got["selected_quantile_coverage_q10"] == 0 / 5
    assert got["selected_quantile_coverage_q90"] == 5 / 5


def test_coverage_of_very_many_series_is_measured_on_a_fixed_sample():
    everyone = intervals._sample_series(100, 23)
    np.testing.assert_array_equal(everyone, np.arange(100))
    many = intervals._sample_series(1_000_000, 23)
    assert len(many) * 23 <= intervals.MAX_COVERAGE_PAIRS and len(np.unique(many)) == len(many)
    np.testing.assert_array_equal(many, intervals._sample_series(1_000_000, 23))


def test_the_naive_models_bands_of_many_pairs_come_from_a_fixed_sample(monkeypatch):
    from tasks.train import comparators as comp
    from tasks.train import pairs

    rng = np.random.default_rng(0)
    S, n, H = 6, 40, 4
    packed = PackedSeries(100 + rng.normal(0, 1, S * n).cumsum(), np.arange(S) * n, np.full(S, n))
    origins = np.stack([np.full(S, n - 2 * H), np.full(S, n - H)])  # (W, S): 12 pairs
    monkeypatch.setattr(pairs, "MAX_BAND_PAIRS", 5)
    p = pairs.pairs_at(None, 8, packed, origins, H, np.ones(S, int), ["auto_ets", "naive"], False, (80,))
    assert p.banded.sum() == 5 and np.isfinite(p.bands["auto_ets"]["lo_80"]).all()  # the fitted model: every pair
    rows = np.flatnonzero(p.banded)
    np.testing.assert_array_equal(rows, intervals.fixed_sample(12, 5))  # the same sample every time
    assert np.isnan(p.bands["naive"]["hi_80"][~p.banded]).all()
    direct = comp.forecast_pairs(packed, p.series[rows], p.origin[rows], H, 1, ["naive"], (80,))["naive"]
    np.testing.assert_allclose(p.bands["naive"]["hi_80"][rows], direct["hi_80"])  # statsforecast's own bands
    np.testing.assert_allclose(p.y_hat["naive"][rows], direct["y_hat"])  # the vectorised point forecast agrees


def test_the_ensemble_weighs_the_lstm_by_its_share_and_the_comparators_share_the_rest():
    from tasks.train.pairs import ensemble

    members = {
        "lstm": np.array([[0.0, 0.0], [np.nan, np.nan]]),  # the LSTM cannot forecast the second pair
        "auto_ets": np.array([[3.0, 3.0], [3.0, 3.0]]),
        "auto_theta": np.array([[6.0, 6.0], [6.0, 6.0]]),
        "auto_arima": np.array([[9.0, 9.0], [9.0, np.nan]]),  # nor AutoARIMA its second step
    }
    half = ensemble(members, 0.5)
    np.testing.assert_allclose(half[0], [0.5 * 0 + (3 + 6 + 9) / 6] * 2)
    np.testing.assert_allclose(half[1], [(3 + 6) / 2] * 2)  # without the LSTM: the others' plain mean
    np.testing.assert_allclose(ensemble(members, None)[0], [(0 + 3 + 6 + 9) / 4] * 2)
    np.testing.assert_allclose(ensemble(members, 1.0)[0], [0.0, 0.0])
    np.testing.assert_allclose(ensemble(members, 1.0)[1], [(3 + 6) / 2] * 2)  # the others where the LSTM is missing
    assert np.isnan(ensemble({"lstm": members["lstm"]}, 0.5)[1]).all()  # no member: no forecast
    some = {"lstm": np.array([[0.0, 0.0]]), "auto_ets": np.array([[3.0, 3.0]]), "auto_arima": np.array([[9.0, np.nan]])}
    np.testing.assert_allclose(ensemble(some, 0.5)[0], [1.5, 1.5])  # AutoARIMA missing: the LSTM still weighs half


def test_the_ensembles_bands_pool_its_members_weighted_as_its_forecast():
    y = np.zeros((1, 2))
    y_hat = {"lstm": np.array([[2.0, 2.0]]), "auto_ets": np.array([[0.0, 0.0]])}
    y_hat["ensemble"] = 0.75 * y_hat["lstm"] + 0.25 * y_hat["auto_ets"]  # as pairs_at combines them
    ets = {"lo_80": np.full((1, 2), -4.0), "hi_80": np.full((1, 2), 4.0)}
    test = Pairs(np.arange(1), np.full(1, 10), y, np.ones(1), y_hat, {"auto_ets": ets}, lstm_share=0.75)
    bands = served_bands(test, np.array(["ensemble"], dtype=object), {80: np.array([1.0, 1.0])}, (80,))
    lstm = {"lo_80": np.full((1, 2), 1.0), "hi_80": np.full((1, 2), 3.0)}
    for key, q in (("lo_80", 0.1), ("hi_80", 0.9)):
        want = mixture_quantile(q, [0.75, 0.25], [2.0, 0.0], [{k: v[0] for k, v in lstm.items()}, ets], 0, 80)
        np.testing.assert_allclose(bands[key][0], [want, want], atol=1e-9)


def mixture_quantile(q: float, w: list[float], mu: list[float], bands: list[dict], h: int, level: int) -> float:
    """The ``q`` quantile of a mixture of two-piece normals through each member's point and bands, solved
    with scipy's root finder (an independent check of the bisection)."""
    from scipy import optimize, stats

    z = stats.norm.ppf(0.5 + level / 200)
    lo = [np.ravel(b[f"lo_{level}"])[h] for b in bands]
    hi = [np.ravel(b[f"hi_{level}"])[h] for b in bands]

    def member(x: float, m: int) -> float:
        s = (mu[m] - lo[m]) / z if x < mu[m] else (hi[m] - mu[m]) / z
        return float(stats.norm.cdf((x - mu[m]) / s)) if s > 0 else float(x >= mu[m])

    return optimize.brentq(lambda x: sum(w[m] * member(x, m) for m in range(len(w))) - q, -100.0, 100.0, xtol=1e-12)


def test_the_pool_of_one_member_or_of_equal_members_is_that_member():
    from tasks.train.pairs import pooled_bands

    point = np.array([[1.0, 5.0], [2.0, 2.0]])  # (M, H)
    ets = {"lo_80": point - [[1.0, 3.0]], "hi_80": point + [[2.0, 0.5]], "lo_95": point - 4.0, "hi_95": point + 4.0}
    missing = {k: np.full_like(point, np.nan) for k in ets}
    alone = pooled_bands(
        {"auto_ets": point, "lstm": np.full_like(point, np.nan)}, {"auto_ets": ets, "lstm": missing}, 0.5
    )
    same = pooled_bands({"auto_ets": point, "auto_theta": point}, {"auto_ets": ets, "auto_theta": ets}, None)
    for got in (alone, same):
        assert set(got) == set(ets)
        for k in ets:
            np.testing.assert_allclose(got[k], ets[k], atol=1e-9)


def test_members_that_disagree_widen_the_pool_within_their_own_bands():
    from tasks.train.pairs import pooled_bands

    rng = np.random.default_rng(0)
    points = {m: rng.normal(size=(50, 3)) * 3 for m in ("lstm", "auto_ets", "auto_theta")}
    bands = {
        m: {"lo_80": p - rng.uniform(0.5, 2, p.shape), "hi_80": p + rng.uniform(0.5, 2, p.shape)}
        for m, p in points.items()
    }
    got = pooled_bands(points, bands, 0.5)
    stack = {k: np.stack([bands[m][k] for m in points]) for k in ("lo_80", "hi_80")}  # (K, M, H)
    for k in stack:
        assert (got[k] >= stack[k].min(axis=0) - 1e-9).all() and (got[k] <= stack[k].max(axis=0) + 1e-9).all()
    mean = {k: 0.5 * v[0] + 0.25 * v[1] + 0.25 * v[2] for k, v in stack.items()}  # the weighted mean of the bands
    assert ((got["hi_80"] - got["lo_80"]) > (mean["hi_80"] - mean["lo_80"])).mean() > 0.9
    draws = np.concatenate(  # the mixture sampled: half the LSTM's, a quarter each comparator's
        [
            np.where(
                rng.uniform(size=(n, 50, 3)) < 0.5,
                points[m]
                + (bands[m]["lo_80"] - points[m]) * rng.normal(size=(n, 50, 3)).__abs__() / 1.2815515655446004,
                points[m]
                + (bands[m]["hi_80"] - points[m]) * rng.normal(size=(n, 50, 3)).__abs__() / 1.2815515655446004,
            )
            for m, n in (("lstm", 40_000), ("auto_ets", 20_000), ("auto_theta", 20_000))
        ]
    )
    np.testing.assert_allclose(np.mean(draws <= got["lo_80"][None], axis=0), 0.1, atol=0.01)
    np.testing.assert_allclose(np.mean(draws <= got["hi_80"][None], axis=0), 0.9, atol=0.01)


def test_pooled_bands_are_nested_whatever_the_members_levels_say():
    from tasks.train.pairs import pooled_bands

    point = np.array([[10.0, 10.0]])
    odd = {"lo_50": point - 6.0, "hi_50": point + 1.0, "lo_90": point - 2.0, "hi_90": point + 5.0}  # lo_90 above lo_50
    fine = {"lo_50": point - 1.0, "hi_50": point + 1.0, "lo_90": point - 3.0, "hi_90": point + 3.0}
    got = pooled_bands({"auto_ets": point, "auto_theta": point + 1}, {"auto_ets": odd, "auto_theta": fine}, None)
    assert (got["lo_90"] <= got["lo_50"]).all() and (got["lo_50"] < got["hi_50"]).all()
    assert (got["hi_50"] <= got["hi_90"]).all()


def test_a_series_too_short_for_the_automatic_models_keeps_its_fallback_bands_in_their_columns():
    from statsforecast import StatsForecast
    from statsforecast.models import Naive

    from tasks.train import comparators as comp

    short = np.array([5.109995, 26.463266])
    values = np.concatenate([short, np.full(50, 7.0) + np.random.default_rng(0).normal(0, 0.1, 50)])
    packed = PackedSeries(values, np.array([0, 2]), np.array([2, 50]))
    levels = (50, 80, 90, 95)
    got = comp.forecast_pairs(packed, np.array([0, 1]), packed.lengths, 3, 24, ["auto_ets", "auto_theta"], levels)
    frame = pd.DataFrame({"unique_id": "a", "ds": [1, 2], "y": short})
    naive = StatsForecast(models=[Naive()], freq=1).forecast(df=frame, h=3, level=list(levels))
    for name in ("auto_ets", "auto_theta"):  # both fall back to Naive on 2 points
        for lv in levels:
            for side in ("lo", "hi"):
                np.testing.assert_allclose(got[name][f"{side}_{lv}"][0], naive[f"Naive-{side}-{lv}"], rtol=1e-9)
        bounds = np.stack(
            [got[name][k][0] for k in ("lo_95", "lo_90", "lo_80", "lo_50", "hi_50", "hi_80", "hi_90", "hi_95")]
        )
        assert (np.diff(bounds, axis=0) >= 0).all()
