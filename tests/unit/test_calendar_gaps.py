"""A step with no row is a missing point of its series' calendar, not one step less: the models see
every series on its own calendar, and the classical models read a missing point off a straight line."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstm_model.windows import PackedSeries
from tasks.series.prepare import prepare
from tasks.train.comparators import histories


def _frame(uid: str, ds: pd.DatetimeIndex, y: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"unique_id": uid, "ds": ds, "y": y, "promo": 1.0})


def test_a_series_that_skips_months_is_laid_on_its_calendar_and_business_days_stay_as_they_are():
    months = pd.date_range("2020-01-01", periods=24, freq="MS")
    kept = [k for k in range(24) if k not in (3, 4, 21)]
    trading = pd.bdate_range("2022-01-03", periods=30).delete([9, 20])  # two trading holidays
    df = pd.concat(
        [
            _frame("monthly", months[kept], np.array(kept, dtype=float)),
            _frame("stock", trading, np.arange(28.0)),
            _frame("whole", months, np.arange(24.0)),
        ]
    ).sample(frac=1.0, random_state=0)
    p = prepare(df, ["promo"])
    assert p.freqs.tolist() == ["MS", "B", "MS"] and p.packed.lengths.tolist() == [24, 28, 24]
    y = p.packed.values[:24]  # the monthly series: its 24 months, NaN where it has no row
    assert np.isnan(y[[3, 4, 21]]).all() and np.array_equal(y[kept], np.array(kept, dtype=float))
    assert list(pd.DatetimeIndex(p.ds[:24])) == list(months)
    covs = p.packed.covariates[:24, 0]
    assert np.isnan(covs[[3, 4, 21]]).all() and (covs[kept] == 1.0).all()
    assert np.array_equal(p.packed.values[24:52], np.arange(28.0))  # a holiday is no missing point
    assert np.array_equal(p.packed.values[52:], np.arange(24.0))
    assert list(pd.DatetimeIndex(p.last_ds)) == [months[-1], trading[-1], months[-1]]


def test_the_classical_models_read_a_missing_point_off_a_straight_line_and_carry_the_ends():
    values = np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan, 10.0, np.nan, np.nan, 5.0, 7.0, 9.0])
    packed = PackedSeries(values, np.array([0, 6, 9]), np.array([6, 3, 3]))
    frame = histories(packed, np.array([0, 1, 2]), np.array([6, 3, 3]))
    assert frame["y"].tolist() == [1.0, 1.0, 2.0, 3.0, 4.0, 4.0, 10.0, 10.0, 10.0, 5.0, 7.0, 9.0]
