"""Scaling, windows, metrics and baselines: pure numpy, hand-checked values."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_model import baselines, metrics, scaling
from lstm_model.windows import PackedSeries, gather, window_starts


@pytest.fixture
def packed() -> PackedSeries:
    rng = np.random.default_rng(0)
    return PackedSeries.from_arrays([rng.uniform(1, 50, n) for n in (10, 7, 3)])


# -- scaling --------------------------------------------------------------------------------------

@pytest.mark.parametrize("scaler", scaling.SCALERS)
@pytest.mark.parametrize("transform", scaling.TRANSFORMS)
def test_scale_round_trip(packed, scaler, transform):
    sid = packed.series_of_point()
    stats = scaling.fit_stats(packed.values, sid, np.ones_like(sid, dtype=bool), packed.n_series, transform, scaler)
    back = scaling.inverse(scaling.scale(packed.values, sid, stats), sid, stats)
    np.testing.assert_allclose(back, packed.values, rtol=1e-12)


def test_stats_fitted_on_training_part_only(packed):
    sid, pos = packed.series_of_point(), packed.position()
    train = pos < 2
    a = scaling.fit_stats(packed.values, sid, train, packed.n_series, "none", "standard")
    poisoned = np.where(train, packed.values, 1e6)
    b = scaling.fit_stats(poisoned, sid, train, packed.n_series, "none", "standard")
    np.testing.assert_array_equal(a.loc, b.loc)
    np.testing.assert_array_equal(a.scale, b.scale)


def test_minmax_maps_fitted_part_to_unit_interval(packed):
    sid = packed.series_of_point()
    stats = scaling.fit_stats(packed.values, sid, np.ones_like(sid, dtype=bool), packed.n_series, "none", "minmax")
    s = scaling.scale(packed.values, sid, stats)
    for k in range(packed.n_series):
        assert s[sid == k].min() == pytest.approx(-1) and s[sid == k].max() == pytest.approx(1)


def test_auto_transform_and_constant_series():
    p = PackedSeries.from_arrays([np.array([0.0, 1.0, 2.0]), np.array([5.0, 5.0, 5.0])])
    sid = p.series_of_point()
    stats = scaling.fit_stats(p.values, sid, np.ones(6, bool), 2, "auto", "standard")
    assert stats.transform == "none"  # a zero forbids the log
    assert np.all(np.isfinite(scaling.scale(p.values, sid, stats)))
    assert scaling.ScalerStats.from_dict(stats.to_dict()).to_dict() == stats.to_dict()
    with pytest.raises(ValueError, match="positive"):
        scaling.fit_stats(p.values, sid, np.ones(6, bool), 2, "log", "standard")


# -- windows --------------------------------------------------------------------------------------

def naive_windows(arrays, window, first_end, stop_end):
    out = []
    for k, a in enumerate(arrays):
        for end in range(max(first_end[k], window - 1), stop_end[k]):
            out.append(a[end - window + 1 : end + 1])
    return np.array(out)


def test_gathered_windows_equal_naive_windows(packed):
    arrays = [packed.values[o : o + n] for o, n in zip(packed.offsets, packed.lengths)]
    first, stop, window = np.array([0, 2, 0]), packed.lengths - 1, 4
    starts = window_starts(packed.offsets, first, stop, window)
    got = gather(torch.tensor(packed.values)[:, None], torch.tensor(starts), window)[..., 0].numpy()
    np.testing.assert_array_equal(got, naive_windows(arrays, window, first, stop))
    # no window crosses a series boundary; series 3 (3 points) has none
    sid = packed.series_of_point()
    assert np.all(sid[starts] == sid[starts + window - 1])
    assert np.bincount(sid[starts], minlength=3).tolist() == [6, 3, 0]


def test_training_windows_end_at_the_validation_start(packed):
    val0 = packed.lengths - 2
    starts = window_starts(packed.offsets, np.zeros(3, int), val0, 3)
    pos = packed.position()
    last = starts + 2
    assert pos[last].max() < val0.max() and np.all(pos[last] < val0[packed.series_of_point()[last]])
    # the latest window of series 0 ends exactly at val0 - 1 (alignment with the split)
    assert pos[last[packed.series_of_point()[last] == 0]].max() == val0[0] - 1


def test_select_keeps_points(packed):
    sub, rows = packed.select(np.array([True, False, True]))
    assert sub.lengths.tolist() == [10, 3] and sub.offsets.tolist() == [0, 10]
    np.testing.assert_array_equal(sub.values, packed.values[rows])
    np.testing.assert_array_equal(sub.values[10:], packed.values[17:])


# -- metrics --------------------------------------------------------------------------------------

def test_metrics_hand_computed():
    y, f = np.array([[1.0, 2.0, 4.0]]), np.array([[2.0, 2.0, 2.0]])
    assert metrics.mae(y, f)[0] == pytest.approx(1.0)
    assert metrics.rmse(y, f)[0] == pytest.approx(np.sqrt(5 / 3))
    assert metrics.mape(y, f)[0] == pytest.approx(100 * (1 + 0 + 0.5) / 3)
    assert metrics.smape(y, f)[0] == pytest.approx(100 * (2 / 3 + 0 + 4 / 6) / 3)
    assert metrics.mase(y, f, np.array([2.0]))[0] == pytest.approx(0.5)


def test_metrics_with_zeros_and_nans():
    y, f = np.array([[0.0, 2.0], [0.0, 0.0]]), np.array([[1.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(metrics.mape(y, f), [50.0, np.nan])  # zero actuals are skipped
    np.testing.assert_allclose(metrics.smape(y, f), [100 * (2 + 2 / 3) / 2, 0.0])  # 0/0 counts as 0
    assert np.isnan(metrics.mase(y, f, np.array([0.0, 1.0]))[0])
    y2 = np.array([[1.0, np.nan]])
    assert metrics.mae(y2, np.array([[2.0, 5.0]]))[0] == 1.0


# -- baselines ------------------------------------------------------------------------------------

def test_naive_and_seasonal_naive():
    p = PackedSeries.from_arrays([np.arange(1.0, 9.0)])  # 1..8
    origin = np.array([6])  # history 1..6
    np.testing.assert_array_equal(baselines.naive(p, origin, 2), [[6.0, 6.0]])
    np.testing.assert_array_equal(baselines.seasonal_naive(p, origin, 5, 4), [[3.0, 4.0, 5.0, 6.0, 3.0]])


def test_seasonal_scale_ignores_the_future():
    v = np.array([1.0, 2.0, 4.0, 7.0, 100.0, 200.0])
    p = PackedSeries.from_arrays([v])
    # season 2, history 1, 2, 4, 7: |4-1| + |7-2| = 8 over 2 -> 4
    assert baselines.seasonal_scale(p, np.array([4]), 2)[0] == pytest.approx(4.0)
