"""Each series' frequency read off its own timestamps, its season and its future dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.series.frequency import future_dates, grid, infer_freqs, season_length, seasons


def infer_series_freq(stamps: pd.DatetimeIndex) -> str | None:
    return infer_freqs(stamps.to_numpy(dtype="datetime64[ns]"), np.array([len(stamps)]))[0]


CASES = [  # (timestamps, expected alias, season)
    (pd.date_range("2000-01-01", periods=30, freq="MS"), "MS", 12),
    (pd.date_range("2000-01-31", periods=30, freq="ME").delete(5), "ME", 12),  # one month missing
    (pd.date_range("2000-10-01", periods=30, freq="QS-OCT"), "QS-JAN", 4),  # same quarter starts
    (pd.date_range("2000-02-01", periods=30, freq="QS-FEB"), "QS-FEB", 4),
    (pd.date_range("2000-02-29", periods=30, freq="QE-NOV"), "QE-NOV", 4),
    (pd.date_range("1871-01-01", periods=30, freq="YS"), "YS-JAN", 1),
    (pd.date_range("1871-12-31", periods=30, freq="YE"), "YE-DEC", 1),
    (pd.bdate_range("2020-01-01", periods=300).delete([5, 50, 100]), "B", 5),  # trading holidays missing
    (pd.bdate_range("2020-01-01", periods=300), "B", 5),
    (pd.date_range("2020-01-05", periods=30, freq="W-SUN"), "W-SUN", 52),
    (pd.date_range("2020-01-01", periods=30, freq="W-WED"), "W-WED", 52),
    (pd.date_range("2020-01-01", periods=30, freq="D").delete([3, 9]), "D", 7),
    (pd.date_range("2020-01-01", periods=300, freq="h"), "h", 24),
    (pd.date_range("2020-01-01", periods=300, freq="30min"), "30min", 48),
    (pd.date_range("2020-01-01", periods=300, freq="500ms"), "500ms", 1),
]


@pytest.mark.parametrize("stamps, alias, season", CASES, ids=[c[1] for c in CASES])
def test_frequency_season_and_dates(stamps, alias, season):
    assert infer_series_freq(stamps) == alias
    assert season_length(alias) == season
    dates = future_dates(np.array([stamps[-1].to_datetime64()]), alias, 3)[0]
    want = pd.date_range(stamps[-1], periods=4, freq=alias)[1:]
    assert list(pd.DatetimeIndex(dates)) == list(want)


def test_every_series_its_own_frequency_in_one_pass():
    stamps = [c[0] for c in CASES]
    got = infer_freqs(np.concatenate([s.to_numpy() for s in stamps]), np.array([len(s) for s in stamps]))
    assert got.tolist() == [c[1] for c in CASES]
    assert seasons(got).tolist() == [c[2] for c in CASES]
    assert seasons(got, override=3).tolist() == [3] * len(CASES)


@pytest.mark.parametrize(
    ("freq", "alias", "start"), [("MS", "MS", "2020-01-01"), ("W-SUN", "W-SUN", "2020-01-05"), ("D", "D", "2020-01-01")]
)
def test_a_third_of_the_points_missing_leaves_the_frequency_as_it_is(freq, alias, start):
    full = pd.date_range(start, periods=30, freq=freq)
    kept = full[[i for i in range(30) if i % 3 != 1]]  # steps of 2 as common as steps of 1 (10 against 9)
    assert infer_series_freq(kept) == alias
    assert list(grid(kept, alias).difference(kept)) == [full[i] for i in range(30) if i % 3 == 1]
    every_other = full[::2]  # nothing at the finer step: a 2-step series
    assert infer_series_freq(every_other) == ("2MS" if freq == "MS" else f"{2 * (7 if freq == 'W-SUN' else 1)}D")
    quarterly = pd.date_range("2000-01-01", periods=40, freq="QS").append(pd.DatetimeIndex(["2010-02-01"]))
    assert infer_series_freq(quarterly) == "QS-JAN"  # one stray month among quarters changes nothing


def test_irregular_and_single_points_have_no_frequency():
    rng = np.random.default_rng(0)
    irregular = pd.Timestamp("2020-01-01") + pd.to_timedelta(np.cumsum(rng.integers(1, 100, 50)), unit="min")
    assert infer_series_freq(pd.DatetimeIndex(irregular)) is None
    assert infer_series_freq(pd.DatetimeIndex(["2020-01-01"])) is None
    with pytest.raises(ValueError, match="--freq"):
        future_dates(np.array(["2020-01-01"], dtype="datetime64[ns]"), np.array([None], dtype=object), 2)


def test_mixed_frequencies_get_their_own_dates():
    last = np.array(["2020-01-31", "2020-01-31"], dtype="datetime64[ns]")
    dates = future_dates(last, np.array(["ME", "B"], dtype=object), 2)
    assert list(pd.DatetimeIndex(dates[0])) == [pd.Timestamp("2020-02-29"), pd.Timestamp("2020-03-31")]
    assert list(pd.DatetimeIndex(dates[1])) == [pd.Timestamp("2020-02-03"), pd.Timestamp("2020-02-04")]


def test_the_gap_grid_follows_the_calendar():
    days = pd.bdate_range("2020-01-01", periods=300)
    assert grid(days, "B").difference(days).empty  # a complete Mon-Fri series misses no weekend
    assert list(grid(days.delete([5, 50]), "B").difference(days.delete([5, 50]))) == list(days[[5, 50]])
    ends = pd.date_range("2000-01-31", periods=30, freq="ME")
    assert list(grid(ends.delete(5), "ME").difference(ends.delete(5))) == [ends[5]]
