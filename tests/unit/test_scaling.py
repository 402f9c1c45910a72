"""Per-series scaling (lstm_model.scaling): round trips, fit-on-train-only, edge cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lstm_model import scaling
from lstm_model.windows import PackedSeries

LENGTHS = (9, 5, 3)


def positive_packed() -> PackedSeries:
    """3 strictly positive series of different lengths (and very different levels)."""
    rng = np.random.default_rng(42)
    return PackedSeries.from_arrays(
        [rng.uniform(1.0, 50.0, LENGTHS[0]), rng.uniform(500.0, 900.0, LENGTHS[1]), rng.uniform(0.1, 0.9, LENGTHS[2])]
    )


def all_points(p: PackedSeries) -> np.ndarray:
    return np.ones(p.values.shape[0], dtype=bool)


@pytest.mark.parametrize("scaler", ["standard", "minmax"])
@pytest.mark.parametrize("transform", ["none", "log", "auto"])
def test_scale_then_inverse_is_identity(scaler, transform):
    p = positive_packed()
    sid = p.series_of_point()
    stats = scaling.fit_stats(p.values, sid, all_points(p), p.n_series, transform, scaler)
    assert stats.loc.shape == (3,) and stats.scale.shape == (3,)
    assert stats.scaler == scaler
    assert stats.transform == transform
    assert stats.log.tolist() == [transform != "none"] * 3  # auto -> log: every series is positive
    scaled = scaling.scale(p.values, sid, stats)
    assert not np.allclose(scaled, p.values)  # it really transformed something
    back = scaling.inverse(scaled, sid, stats)
    np.testing.assert_allclose(back, p.values, rtol=1e-12, atol=0)


@pytest.mark.parametrize("scaler", ["standard", "minmax"])
def test_inverse_broadcasts_per_series_rows(scaler):
    """inverse with series_idx (S, 1) against (S, H), as used for forecasts."""
    p = positive_packed()
    sid = p.series_of_point()
    stats = scaling.fit_stats(p.values, sid, all_points(p), p.n_series, "log", scaler)
    last3 = np.stack([p.values[o + n - 3 : o + n] for o, n in zip(p.offsets, p.lengths)])  # (S, 3)
    scaled = np.stack([scaling.scale(last3[k], np.full(3, k), stats) for k in range(3)])
    back = scaling.inverse(scaled, np.arange(3)[:, None], stats)
    np.testing.assert_allclose(back, last3, rtol=1e-12)


@pytest.mark.parametrize("scaler", ["standard", "minmax"])
@pytest.mark.parametrize("transform", ["none", "log", "auto"])
def test_stats_read_only_the_fitted_points(scaler, transform):
    p = positive_packed()
    sid, pos = p.series_of_point(), p.position()
    train = pos < np.array([6, 3, 2])[sid]  # the first points of each series
    a = scaling.fit_stats(p.values, sid, train, p.n_series, transform, scaler)
    poisoned = np.where(train, p.values, 1e6)
    assert not np.array_equal(poisoned, p.values)
    b = scaling.fit_stats(poisoned, sid, train, p.n_series, transform, scaler)
    np.testing.assert_array_equal(a.loc, b.loc)
    np.testing.assert_array_equal(a.scale, b.scale)
    assert a.transform == b.transform and a.log.tolist() == b.log.tolist()
    # and the statistics are those of the training part alone (standard: population mean / std)
    if scaler == "standard":
        for k in range(3):
            v = scaling.forward_transform(p.values[train & (sid == k)], a.log[k])
            assert a.loc[k] == pytest.approx(v.mean(), rel=1e-12)
            assert a.scale[k] == pytest.approx(v.std(ddof=0), rel=1e-12)


def test_auto_transform_is_decided_per_series_on_its_fitted_part():
    # non-positive values outside the fitted part do not decide the transform (the test part is never
    # read), and they become missing when scaled, never -inf; a series with a zero in its fitted part
    # gets no log while the others keep theirs
    p = positive_packed()
    sid, pos = p.series_of_point(), p.position()
    train = pos < 2
    values = np.where(train, p.values, -5.0)  # non-positive values only outside the fitted part
    stats = scaling.fit_stats(values, sid, train, p.n_series, "auto", "standard")
    assert stats.log.tolist() == [True, True, True]
    scaled = scaling.scale(values, sid, stats)
    assert np.all(np.isfinite(scaled[train])) and np.all(np.isnan(scaled[~train]))
    with_zero = np.where((sid == 1) & (pos == 0), 0.0, p.values)  # series 1: a zero in its fitted part
    stats = scaling.fit_stats(with_zero, sid, train, p.n_series, "auto", "standard")
    assert stats.log.tolist() == [True, False, True]
    np.testing.assert_allclose(stats.loc[1], with_zero[(sid == 1) & train].mean())
    np.testing.assert_allclose(stats.loc[0], np.log(p.values[(sid == 0) & train]).mean())
    back = scaling.inverse(scaling.scale(with_zero, sid, stats), sid, stats)
    np.testing.assert_allclose(back, with_zero, rtol=1e-12, atol=1e-12)


def test_a_huge_scaled_forecast_of_a_logged_series_stays_finite():
    p = positive_packed()
    sid = p.series_of_point()
    stats = scaling.fit_stats(p.values, sid, all_points(p), p.n_series, "log", "standard")
    assert np.all(np.isfinite(scaling.inverse(np.full(3, 1e6), np.arange(3), stats)))


def test_minmax_maps_the_fitted_part_onto_minus_one_one():
    p = positive_packed()
    sid, pos = p.series_of_point(), p.position()
    train = pos < np.array([7, 4, 3])[sid]
    stats = scaling.fit_stats(p.values, sid, train, p.n_series, "none", "minmax")
    s = scaling.scale(p.values, sid, stats)
    for k in range(3):
        fitted = s[train & (sid == k)]
        assert fitted.min() == pytest.approx(-1.0, abs=1e-12)
        assert fitted.max() == pytest.approx(1.0, abs=1e-12)
        assert np.all((fitted >= -1 - 1e-12) & (fitted <= 1 + 1e-12))


def test_minmax_hand_computed():
    p = PackedSeries.from_arrays([np.array([2.0, 6.0, 4.0])])
    stats = scaling.fit_stats(p.values, p.series_of_point(), all_points(p), 1, "none", "minmax")
    assert stats.loc.tolist() == [4.0] and stats.scale.tolist() == [2.0]
    np.testing.assert_allclose(scaling.scale(p.values, p.series_of_point(), stats), [-1.0, 1.0, 0.0])


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_auto_picks_none_for_the_series_with_a_value_that_is_not_positive(bad):
    p = PackedSeries.from_arrays([np.array([3.0, bad, 2.0]), np.array([4.0, 5.0])])
    sid = p.series_of_point()
    stats = scaling.fit_stats(p.values, sid, all_points(p), 2, "auto", "standard")
    assert stats.log.tolist() == [False, True]
    assert scaling.resolve_log("auto", p.values, sid, 2).tolist() == [False, True]
    assert scaling.resolve_log("none", p.values, sid, 2).tolist() == [False, False]
    with pytest.raises(ValueError, match="positive"):
        scaling.fit_stats(p.values, sid, all_points(p), 2, "log", "standard")


def test_unknown_transform_or_scaler_is_rejected():
    p = positive_packed()
    sid = p.series_of_point()
    with pytest.raises(ValueError, match="transform"):
        scaling.fit_stats(p.values, sid, all_points(p), 3, "sqrt", "standard")
    with pytest.raises(ValueError, match="scaler"):
        scaling.fit_stats(p.values, sid, all_points(p), 3, "none", "robust")


@pytest.mark.parametrize("scaler", ["standard", "minmax"])
def test_a_series_without_fitted_points_gets_the_identity_and_the_others_their_own(scaler):
    p = positive_packed()
    sid = p.series_of_point()
    alone = [scaling.fit_stats(p.values, sid, sid == k, 3, "auto", scaler) for k in (0, 2)]
    with np.errstate(all="raise"):
        stats = scaling.fit_stats(p.values, sid, sid != 1, 3, "auto", scaler, np.array([2, 2, 2]))
    assert (stats.loc[1], stats.scale[1], bool(stats.log[1])) == (0.0, 1.0, False)
    assert not stats.seasonal[1].any()
    for k, one in zip((0, 2), alone):
        assert stats.loc[k] == pytest.approx(one.loc[k]) and stats.scale[k] == pytest.approx(one.scale[k])
        assert stats.log[k] == one.log[k]


@pytest.mark.parametrize("scaler", ["standard", "minmax"])
@pytest.mark.parametrize("transform", ["none", "log"])
def test_constant_series_does_not_divide_by_zero(scaler, transform):
    p = PackedSeries.from_arrays([np.full(4, 5.0), np.array([1.0, 2.0, 3.0])])
    sid = p.series_of_point()
    with np.errstate(all="raise"):  # any division by zero / invalid op would raise here
        stats = scaling.fit_stats(p.values, sid, all_points(p), 2, transform, scaler)
        scaled = scaling.scale(p.values, sid, stats)
        back = scaling.inverse(scaled, sid, stats)
    assert stats.scale[0] == 1.0  # shift only
    assert np.all(np.isfinite(scaled))
    np.testing.assert_allclose(scaled[:4], 0.0, atol=1e-12)
    np.testing.assert_allclose(back, p.values, rtol=1e-12)


def test_scaler_stats_dict_round_trip():
    stats = scaling.ScalerStats(np.array([1.5, -2.0, 3.25]), np.array([0.5, 1.0, 4.0]), "log", "minmax")
    d = stats.to_dict()
    assert d == json.loads(json.dumps(d))  # plain JSON types
    again = scaling.ScalerStats.from_dict(json.loads(json.dumps(d)))
    np.testing.assert_array_equal(again.loc, stats.loc)
    np.testing.assert_array_equal(again.scale, stats.scale)
    assert again.loc.dtype == np.float64 and again.scale.dtype == np.float64
    assert (again.transform, again.scaler) == ("log", "minmax")
    sub = again.take(np.array([2, 0]))
    assert sub.loc.tolist() == [3.25, 1.5] and sub.scale.tolist() == [4.0, 0.5]


def test_missing_points_do_not_enter_the_statistics():
    a = np.array([1.0, np.nan, 3.0, 5.0])
    p = PackedSeries.from_arrays([a, np.array([2.0, 4.0])])
    sid = p.series_of_point()
    stats = scaling.fit_stats(p.values, sid, all_points(p), 2, "none", "standard")
    assert np.all(np.isfinite(stats.loc)) and np.all(np.isfinite(stats.scale))
    assert stats.loc[0] == pytest.approx(3.0) and stats.scale[0] == pytest.approx(np.std([1.0, 3.0, 5.0]))
    assert scaling.fit_stats(p.values, sid, all_points(p), 2, "auto", "standard").log.tolist() == [True, True]
