"""Accuracy metrics (lstm_model.metrics) and baselines (lstm_model.baselines), hand-computed."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from lstm_model import baselines, metrics
from lstm_model.windows import PackedSeries

NAN = np.nan


# -- metrics ---------------------------------------------------------------------------------------


def test_metrics_single_series_hand_computed():
    y, f = np.array([[1.0, 2.0, 4.0]]), np.array([[2.0, 2.0, 2.0]])
    # errors: 1, 0, 2
    assert metrics.mae(y, f).tolist() == pytest.approx([1.0])
    assert metrics.rmse(y, f).tolist() == pytest.approx([math.sqrt(5 / 3)])
    assert metrics.mape(y, f).tolist() == pytest.approx([100 * (1 / 1 + 0 / 2 + 2 / 4) / 3])  # 50
    assert metrics.smape(y, f).tolist() == pytest.approx([100 * (2 * 1 / 3 + 0 + 2 * 2 / 6) / 3])
    assert metrics.mase(y, f, np.array([2.0])).tolist() == pytest.approx([0.5])


def test_metrics_are_per_series():
    y = np.array([[1.0, 2.0, 4.0], [10.0, 10.0, 10.0]])
    f = np.array([[2.0, 2.0, 2.0], [8.0, 12.0, 10.0]])
    np.testing.assert_allclose(metrics.mae(y, f), [1.0, 4 / 3])
    np.testing.assert_allclose(metrics.rmse(y, f), [math.sqrt(5 / 3), math.sqrt(8 / 3)])
    np.testing.assert_allclose(metrics.mape(y, f), [50.0, 100 * (0.2 + 0.2 + 0.0) / 3])
    np.testing.assert_allclose(metrics.smape(y, f), [100 * (2 / 3 + 2 / 3) / 3, 100 * (4 / 18 + 4 / 22 + 0) / 3])
    np.testing.assert_allclose(metrics.mase(y, f, np.array([0.5, 4.0])), [2.0, 1 / 3])
    out = metrics.all_metrics(y, f, np.array([0.5, 4.0]))
    assert set(out) == {"mae", "rmse", "mape", "smape", "mase"}
    assert all(v.shape == (2,) for v in out.values())
    np.testing.assert_allclose(out["mae"], [1.0, 4 / 3])


def test_perfect_forecast_scores_zero():
    y = np.array([[3.0, -1.0, 0.0, 2.5]])
    for name, v in metrics.all_metrics(y, y.copy(), np.array([1.0])).items():
        assert v.tolist() == [0.0], name


def test_mape_ignores_zero_actuals():
    y, f = np.array([[0.0, 2.0, 4.0]]), np.array([[1.0, 1.0, 4.0]])
    # the zero actual is skipped: mean over |2-1|/2 and |4-4|/4 only
    assert metrics.mape(y, f).tolist() == pytest.approx([100 * (0.5 + 0.0) / 2])


def test_mape_all_zero_actuals_is_nan():
    y, f = np.array([[0.0, 0.0], [1.0, 2.0]]), np.array([[1.0, 2.0], [1.0, 1.0]])
    out = metrics.mape(y, f)
    assert np.isnan(out[0]) and out[1] == pytest.approx(25.0)


def test_smape_zero_over_zero_counts_as_zero():
    y, f = np.array([[0.0, 0.0], [0.0, 2.0]]), np.array([[0.0, 0.0], [1.0, 1.0]])
    # row 0: both points 0/0 -> 0; row 1: 2*1/(0+1) = 2 and 2*1/(2+1) = 2/3
    np.testing.assert_allclose(metrics.smape(y, f), [0.0, 100 * (2 + 2 / 3) / 2])


def test_metrics_ignore_nan_points():
    y = np.array([[1.0, NAN, 4.0]])
    f = np.array([[2.0, 5.0, NAN]])  # only the first point is complete (error 1, actual 1)
    assert metrics.mae(y, f).tolist() == [1.0]
    assert metrics.rmse(y, f).tolist() == [1.0]
    assert metrics.mape(y, f).tolist() == pytest.approx([100.0])
    assert metrics.smape(y, f).tolist() == pytest.approx([100 * 2 / 3])
    y2, f2 = np.array([[1.0, NAN, 3.0]]), np.array([[2.0, 5.0, 3.0]])
    assert metrics.mae(y2, f2).tolist() == [0.5]
    assert metrics.rmse(y2, f2).tolist() == pytest.approx([math.sqrt(0.5)])
    assert metrics.mape(y2, f2).tolist() == pytest.approx([50.0])
    assert metrics.smape(y2, f2).tolist() == pytest.approx([100 * (2 / 3) / 2])
    assert metrics.mase(y2, f2, np.array([0.25])).tolist() == [2.0]


def test_all_nan_row_gives_nan_not_zero():
    y, f = np.array([[NAN, NAN], [1.0, 3.0]]), np.array([[1.0, 2.0], [1.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's "mean of empty slice"
        out = metrics.all_metrics(y, f, np.array([1.0, 1.0]))
    for name, v in out.items():
        assert np.isnan(v[0]), name
    assert out["mae"][1] == 1.0 and out["mape"][1] == pytest.approx(100 * (0 + 2 / 3) / 2)


def test_mase_with_zero_or_nan_scale_is_nan():
    y, f = np.array([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]), np.array([[2.0, 2.0]] * 3)
    out = metrics.mase(y, f, np.array([0.0, NAN, 0.25]))
    assert np.isnan(out[0]) and np.isnan(out[1]) and out[2] == pytest.approx(2.0)


# -- baselines -------------------------------------------------------------------------------------


def two_series() -> PackedSeries:
    return PackedSeries.from_arrays(
        [np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0]), np.array([1.0, 2.0, 3.0, 4.0, 5.0])]
    )


def test_naive_repeats_the_last_observed_value():
    p = two_series()
    out = baselines.naive(p, np.array([5, 3]), 3)  # histories 10..50 and 1..3
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(out, [[50.0, 50.0, 50.0], [3.0, 3.0, 3.0]])


def test_seasonal_naive_repeats_the_last_season():
    p = two_series()
    # series 0: history 10..50 (T = position 4), season 3 -> last season 30, 40, 50, then 30 again
    # series 1: history 1..4 (T = position 3) -> 2, 3, 4, 2
    out = baselines.seasonal_naive(p, np.array([5, 4]), 4, 3)
    assert out.shape == (2, 4)
    np.testing.assert_array_equal(out, [[30.0, 40.0, 50.0, 30.0], [2.0, 3.0, 4.0, 2.0]])


def test_seasonal_naive_is_naive_with_a_single_point_of_history():
    p = two_series()
    out = baselines.seasonal_naive(p, np.array([1, 1]), 3, 4)
    np.testing.assert_array_equal(out, [[10.0, 10.0, 10.0], [1.0, 1.0, 1.0]])


def test_seasonal_naive_season_one_equals_naive():
    p = two_series()
    origin = np.array([6, 2])
    np.testing.assert_array_equal(baselines.seasonal_naive(p, origin, 4, 1), baselines.naive(p, origin, 4))


def test_drift_extends_the_line_through_the_first_and_last_points():
    p = PackedSeries.from_arrays([np.array([1.0, 3.0, 4.0, 7.0, 100.0]), np.array([5.0, 9.0])])
    # series 0, origin 4: last 7, first 1, slope (7 - 1) / 3 = 2; series 1, origin 1: slope 0
    out = baselines.drift(p, np.array([4, 1]), 2)
    np.testing.assert_allclose(out, [[9.0, 11.0], [5.0, 5.0]])


def test_seasonal_scale_hand_computed():
    v = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    p = PackedSeries.from_arrays([v])
    # season 3, origin 7: |1-3| + |5-1| + |9-4| + |2-1| = 12 over 4 -> 3
    assert baselines.seasonal_scale(p, np.array([7]), 3).tolist() == pytest.approx([3.0])
    # origin 8 adds |6-5| = 1: 13 over 5
    assert baselines.seasonal_scale(p, np.array([8]), 3).tolist() == pytest.approx([13 / 5])


def test_seasonal_scale_ignores_points_at_or_after_the_origin():
    v = np.array([1.0, 2.0, 4.0, 7.0, 100.0, 200.0])
    origin = np.array([4])
    # season 2, history 1, 2, 4, 7: (|4-1| + |7-2|) / 2 = 4
    a = baselines.seasonal_scale(PackedSeries.from_arrays([v]), origin, 2)
    assert a.tolist() == pytest.approx([4.0])
    poisoned = v.copy()
    poisoned[4:] = 1e6  # positions >= origin
    b = baselines.seasonal_scale(PackedSeries.from_arrays([poisoned]), origin, 2)
    assert b.tolist() == a.tolist()


def test_seasonal_scale_per_series_with_lag_one_fallback():
    p = PackedSeries.from_arrays(
        [
            np.array([1.0, 2.0, 4.0, 7.0, 100.0]),  # season 2, origin 4 -> 4 (as above)
            np.array([5.0, 8.0, 6.0, 1000.0]),  # season 2, origin 3 -> |6-5| = 1; season 4 -> lag 1: 2.5
            np.array([7.0, 9.0]),  # origin 1: no pair at all -> NaN
        ]
    )
    out = baselines.seasonal_scale(p, np.array([4, 3, 1]), 2)
    assert out[0] == pytest.approx(4.0)
    assert out[1] == pytest.approx(1.0)  # one lag-2 pair before the origin: |6-5|
    assert np.isnan(out[2])
    out4 = baselines.seasonal_scale(p, np.array([4, 3, 1]), 4)  # no series has a lag-4 pair before origin
    assert out4[0] == pytest.approx((1 + 2 + 3) / 3) and out4[1] == pytest.approx(2.5) and np.isnan(out4[2])
