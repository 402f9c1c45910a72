"""Packed series and index-gathered windows (lstm_model.windows) against naive Python slicing."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lstm_model.windows import PackedSeries, complete, gather, window_starts

LENGTHS = (10, 7, 3)


def arrays() -> list[np.ndarray]:
    # distinct values everywhere: 100*series + position, so any misplaced index is visible
    return [100.0 * k + np.arange(n, dtype=np.float64) for k, n in enumerate(LENGTHS)]


def packed() -> PackedSeries:
    return PackedSeries.from_arrays(arrays())


def naive_windows(series: list[np.ndarray], window: int, first_end, stop_end) -> list[tuple[int, np.ndarray]]:
    """(series, window values) for every window whose last point lies at [first_end, stop_end)."""
    out = []
    for k, a in enumerate(series):
        for end in range(first_end[k], stop_end[k]):
            start = end - window + 1
            if start >= 0 and end < len(a):
                out.append((k, a[start : end + 1]))
    return out


def gathered(p: PackedSeries, starts: np.ndarray, window: int) -> np.ndarray:
    data = torch.as_tensor(p.values)[:, None]  # (N, 1)
    return gather(data, torch.as_tensor(starts), window)[..., 0].numpy()  # (W, window)


def test_packing_layout():
    p = packed()
    assert p.n_series == 3
    assert p.lengths.tolist() == [10, 7, 3] and p.offsets.tolist() == [0, 10, 17]
    assert p.values.shape == (20,) and p.values.dtype == np.float64
    assert p.offsets.dtype == np.int64 and p.lengths.dtype == np.int64


@pytest.mark.parametrize("window", [1, 3, 4, 7])
@pytest.mark.parametrize(
    "first_end, stop_end",
    [((0, 0, 0), LENGTHS), ((0, 2, 0), (9, 6, 2)), ((5, 6, 1), (8, 7, 3)), ((4, 3, 0), (4, 3, 0))],
)
def test_gathered_windows_equal_naive_slices(window, first_end, stop_end):
    p = packed()
    first_end, stop_end = np.array(first_end), np.array(stop_end)
    starts = window_starts(p.offsets, first_end, stop_end, window)
    want = naive_windows(arrays(), window, first_end, stop_end)
    assert starts.dtype == np.int64 and starts.shape == (len(want),)
    got = gathered(p, starts, window)
    assert got.shape == (len(want), window)
    for row, (_k, w) in zip(got, want):  # same order: grouped by series, in time order
        np.testing.assert_array_equal(row, w)
    assert p.series_of_point()[starts].tolist() == [k for k, _ in want]


def test_gather_keeps_every_feature():
    p = packed()
    data = torch.stack([torch.as_tensor(p.values), -torch.as_tensor(p.values), torch.arange(20.0)], dim=1)  # (N, 3)
    starts = torch.tensor([0, 10, 17])
    w = gather(data, starts, 3)
    assert w.shape == (3, 3, 3)
    torch.testing.assert_close(w[1], data[10:13])
    torch.testing.assert_close(w[2, :, 2], torch.tensor([17.0, 18.0, 19.0], dtype=torch.float64))


@pytest.mark.parametrize("window", [2, 4, 8])
def test_windows_never_cross_a_series_boundary_and_count_per_series(window):
    p = packed()
    starts = window_starts(p.offsets, np.zeros(3, int), p.lengths, window)
    sid = p.series_of_point()
    assert np.all(sid[starts] == sid[starts + window - 1])
    got = gathered(p, starts, window)
    # values encode the series: 100*k + position -> every window holds a single series
    assert np.all(np.floor(got / 100).min(axis=1) == np.floor(got / 100).max(axis=1))
    # every point can end a window once the window fits: n - window + 1 per series (0 when shorter)
    expected = [max(n - window + 1, 0) for n in LENGTHS]
    assert np.bincount(sid[starts], minlength=3).tolist() == expected


def test_counts_with_first_end_and_stop_end():
    p = packed()
    window = 3
    first_end, stop_end = np.array([0, 4, 0]), np.array([8, 6, 3])
    starts = window_starts(p.offsets, first_end, stop_end, window)
    sid, pos = p.series_of_point(), p.position()
    # series 0: ends 2..7 (6 windows); series 1: ends 4..5 (2); series 2: end 2 (1)
    assert np.bincount(sid[starts], minlength=3).tolist() == [6, 2, 1]
    last = starts + window - 1
    assert np.all(pos[last] >= np.maximum(first_end[sid[last]], window - 1))
    assert np.all(pos[last] < stop_end[sid[last]])


def test_last_training_window_target_ends_at_stop_end_minus_one():
    """Train windows (input L + target H) end right before the validation part, never after."""
    p = packed()
    L, H = 3, 2
    window = L + H
    val0 = p.lengths - 2  # validation starts 2 points before each series' end: [8, 5, 1]
    starts = window_starts(p.offsets, np.zeros(3, int), val0, window)
    sid, pos = p.series_of_point(), p.position()
    last = starts + window - 1
    for k in range(3):
        ends = pos[last[sid[last] == k]]
        if val0[k] >= window:  # series long enough: the last target point is exactly val0 - 1
            assert ends.max() == val0[k] - 1
            assert ends.tolist() == list(range(window - 1, val0[k]))
        else:
            assert ends.size == 0  # series 2 (3 points) has no training window
    # the latest window of series 0 holds target values 6, 7 (positions val0-2, val0-1)
    w = gathered(p, starts, window)
    np.testing.assert_array_equal(w[sid[starts] == 0][-1, L:], [6.0, 7.0])


def test_no_target_leakage_into_validation():
    p = packed()
    window = 4
    val0 = np.array([7, 4, 2])
    starts = window_starts(p.offsets, np.zeros(3, int), val0, window)
    assert starts.size > 0
    idx = starts[:, None] + np.arange(window)[None, :]  # every gathered index
    sid, pos = p.series_of_point(), p.position()
    k = sid[starts][:, None]
    assert np.all(sid[idx] == k)  # same series
    assert np.all(pos[idx] < val0[k])  # nothing at or after the validation start


def test_select_keeps_the_points_of_the_kept_series():
    p = packed()
    sub, rows = p.select(np.array([True, False, True]))
    assert sub.n_series == 2
    assert sub.lengths.tolist() == [10, 3] and sub.offsets.tolist() == [0, 10]
    assert rows.tolist() == list(range(10)) + [17, 18, 19]
    np.testing.assert_array_equal(sub.values, p.values[rows])
    np.testing.assert_array_equal(sub.values[10:], arrays()[2])
    only_mid, rows_mid = p.select(np.array([False, True, False]))
    assert only_mid.lengths.tolist() == [7] and only_mid.offsets.tolist() == [0]
    np.testing.assert_array_equal(only_mid.values, arrays()[1])
    assert rows_mid.tolist() == list(range(10, 17))


def test_series_of_point_and_position():
    p = packed()
    assert p.series_of_point().tolist() == [0] * 10 + [1] * 7 + [2] * 3
    assert p.position().tolist() == list(range(10)) + list(range(7)) + list(range(3))
    np.testing.assert_array_equal(p.values, 100.0 * p.series_of_point() + p.position())


def test_select_nothing_gives_an_empty_packed_series():
    """Keeping no series must give 0 series (offsets and lengths of the same shape), not 1."""
    sub, rows = packed().select(np.zeros(3, dtype=bool))
    assert rows.size == 0 and sub.values.size == 0
    assert sub.offsets.shape == sub.lengths.shape == (0,)
    assert sub.n_series == 0
    assert sub.series_of_point().size == 0


def test_complete_drops_windows_touching_a_missing_point():
    a = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0])
    b = np.array([7.0, 8.0, 9.0])
    p = PackedSeries.from_arrays([a, b])
    starts = window_starts(p.offsets, np.zeros(2, int), p.lengths, 2)
    assert starts.tolist() == [0, 1, 2, 3, 4, 6, 7]
    kept = complete(p.values, starts, 2)
    assert kept.tolist() == [0, 3, 4, 6, 7]  # windows [1,2] and [2,3] hold the NaN
    assert np.all(np.isfinite(gathered(p, kept, 2)))
