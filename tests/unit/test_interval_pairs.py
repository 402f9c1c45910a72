"""The (series, origin) pairs that calibrate the intervals and measure their coverage."""

from __future__ import annotations

import numpy as np

from lstm_model.windows import PackedSeries
from tasks.train import intervals


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

    r, ok = intervals._scaled_residuals(naive, packed, np.array([34, 34]), np.array([40, 40]), 3, 4, 1, np.array([0]))
    assert set(np.concatenate(seen)) == {0}
    # 6 points x 3 steps, less the missing actual at each step and the 2 forecasts whose input
    # (the last point before the origin, for this naive forecaster) is the missing one
    assert ok.sum() == 3 * 6 - 3 - 2
    assert np.isfinite(r[ok]).all() and not ok[np.isnan(r)].any()


def test_coverage_of_very_many_series_is_measured_on_a_fixed_sample():
    everyone = intervals._sample_series(100, 23)
    np.testing.assert_array_equal(everyone, np.arange(100))
    many = intervals._sample_series(1_000_000, 23)
    assert len(many) * 23 <= intervals.MAX_COVERAGE_PAIRS and len(np.unique(many)) == len(many)
    np.testing.assert_array_equal(many, intervals._sample_series(1_000_000, 23))
