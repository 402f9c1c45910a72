"""Covariates by kind: the calendar and holiday features generated from the timestamps, the
horizon's known values, and the network's decoder over them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from lstm_model.network import LSTMForecaster
from lstm_model.windows import PackedSeries
from tasks.series.features import FeatureSpec, family, spec_for
from tests.conftest import net_config


@pytest.mark.parametrize(
    ("freq", "fam"),
    [("30min", "subdaily"), ("h", "subdaily"), ("D", "daily"), ("B", "daily"), ("W-SUN", "weekly")]
    + [("MS", "monthly"), ("ME", "monthly"), ("QS-JAN", "quarterly"), ("YS-JAN", "yearly")],
)
def test_the_calendar_fits_the_frequency(freq, fam):
    assert family(freq) == fam


def test_calendar_features_are_cyclical_and_known_for_any_date():
    spec = FeatureSpec(calendar="daily")
    assert spec.generated == ["cal_dow_sin", "cal_dow_cos", "cal_doy_sin", "cal_doy_cos"]
    ds = pd.date_range("2024-01-01", periods=15, freq="D").to_numpy()  # a Monday first
    f = spec.generate(ds)
    assert f.shape == (15, 4) and np.abs(f).max() <= 1.0
    np.testing.assert_allclose(f[0, :2], f[7, :2], atol=1e-12)  # a week apart: the same weekday
    assert not np.allclose(f[0, :2], f[1, :2])
    np.testing.assert_allclose(np.hypot(f[:, 0], f[:, 1]), 1.0)  # on the unit circle: Sunday is next to Monday
    monthly = FeatureSpec(calendar="monthly").generate(pd.date_range("2020-01-01", periods=25, freq="MS").to_numpy())
    np.testing.assert_allclose(monthly[0], monthly[12], atol=1e-12)


def test_holidays_come_from_the_holidays_package_with_the_distance_to_them():
    spec = FeatureSpec(holidays="US")
    ds = pd.date_range("2024-06-30", "2024-07-10", freq="D").to_numpy()
    f = pd.DataFrame(spec.generate(ds), index=pd.DatetimeIndex(ds), columns=spec.generated)
    assert f.loc["2024-07-04", "holiday_US"] == 1.0 and f["holiday_US"].sum() == 1.0  # Independence Day
    assert f.loc["2024-07-03", "holiday_next_US"] == pytest.approx(1 / 7)
    assert f.loc["2024-07-06", "holiday_prev_US"] == pytest.approx(2 / 7)
    hourly = spec.generate(pd.date_range("2024-07-04 05:00", periods=3, freq="8h").to_numpy())
    assert hourly[:, 0].tolist() == [1.0, 1.0, 1.0]  # every hour of the day
    with pytest.raises(ValueError, match="unknown holiday country"):
        FeatureSpec(holidays="XX").generate(ds)


def test_a_training_spec_checks_what_it_is_given():
    cols = ["unique_id", "ds", "y", "promo", "temp"]
    spec = spec_for(cols, ["temp"], ["promo"], True, "us", "D")
    assert spec.columns[:2] == ["temp", "promo"] and spec.columns[2].startswith("cal_") and spec.holidays == "US"
    assert spec.n_future == 1 + 4 + 3 and FeatureSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="not in the data"):
        spec_for(cols, [], ["price"], False, None, "D")
    with pytest.raises(ValueError, match="both past-observed and future-known"):
        spec_for(cols, ["promo"], ["promo"], False, None, "D")
    with pytest.raises(ValueError, match="daily or finer"):
        spec_for(cols, [], [], False, "US", "MS")


def test_the_horizon_block_names_the_series_whose_future_values_are_missing():
    spec = FeatureSpec(past=("temp",), future=("promo",), calendar="daily")
    dates = np.stack([pd.date_range("2024-03-01", periods=3, freq="D").to_numpy()] * 2)  # (2, 3)
    future = pd.DataFrame({"unique_id": ["a"] * 3 + ["b"] * 2, "ds": list(dates[0]) + list(dates[1][:2])})
    future["promo"] = [1.0, 0.0, 1.0, 0.0, np.inf]
    block, reasons = spec.horizon(["a", "b"], dates, future)
    assert block.shape == (2, 3, 1 + 1 + 4)
    assert np.isnan(block[:, :, 0]).all()  # the past-observed column is not known there
    np.testing.assert_array_equal(block[0, :, 1], [1.0, 0.0, 1.0])
    assert list(reasons) == ["b"] and "promo at 2 of 3 steps" in reasons["b"]
    _, none = spec.horizon(["a"], dates[:1], None)
    assert "--future-input" in none["a"]


def test_extended_series_keep_their_points_and_append_the_horizon():
    p = PackedSeries(np.arange(5.0), np.array([0, 2]), np.array([2, 3]), np.arange(10.0).reshape(5, 2))
    ext = p.extended(np.full((2, 2, 2), -1.0))
    assert ext.lengths.tolist() == [4, 5] and ext.offsets.tolist() == [0, 4]
    np.testing.assert_array_equal(ext.values, [0, 1, np.nan, np.nan, 2, 3, 4, np.nan, np.nan])
    assert ext.covariates[2:4].tolist() == [[-1, -1]] * 2 and ext.covariates[4].tolist() == [4.0, 5.0]


def test_the_decoder_reads_each_steps_known_covariates():
    torch.manual_seed(0)
    model = LSTMForecaster(net_config(input_size=6, horizon=4, n_features=3, n_future=2)).eval()
    x, fut = torch.randn(5, 6, 3), torch.randn(5, 4, 2)
    base = model(x, fut)
    assert base.shape == (5, 4)
    moved = fut.clone()
    moved[:, 2] += 1.0  # only step 2's covariates change
    diff = (model(x, moved) - base).abs().amax(dim=0)
    assert diff[2] > 1e-6 and torch.all(diff[[0, 1, 3]] == 0)
    with pytest.raises(ValueError, match="future-known"):
        model(x)


def test_static_values_are_codes_for_categories_and_numbers_otherwise():
    static = pd.DataFrame({"unique_id": ["a", "b", "c"], "kind": ["B", "A", None], "size": [1.5, None, 3.0]})
    spec = spec_for(["unique_id", "ds", "y"], [], [], False, None, "D", static)
    assert spec.vocab == {"kind": ("A", "B")} and spec.cardinalities == (2, 0)
    vals = spec.static_values(["b", "a", "c", "new"], static)
    np.testing.assert_array_equal(vals[:, 0], [1, 2, 0, 0])  # 0: missing or never seen
    np.testing.assert_array_equal(vals[:, 1], [np.nan, 1.5, 3.0, np.nan])


def test_a_categorical_static_covariate_is_embedded_at_every_step():
    torch.manual_seed(0)
    model = LSTMForecaster(net_config(input_size=5, horizon=3, n_features=3, static_cardinalities=(4, 0))).eval()
    x = torch.randn(2, 5, 3)
    x[..., 1], x[..., 2] = 2.0, 0.5  # code 2, a numeric 0.5
    other = x.clone()
    other[..., 1] = 3.0
    assert model(x).shape == (2, 3) and not torch.allclose(model(x), model(other))
    assert model.lstm.input_size == 1 + 3 + 1  # target, a 3-unit embedding, the numeric
