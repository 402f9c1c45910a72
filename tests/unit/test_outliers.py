"""Gross isolated outliers in the histories the fitted comparators see: replaced, and nothing else."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstm_model import outliers
from lstm_model.windows import PackedSeries
from tasks.train import comparators

H = 12


def wave(n: int = 120, seed: int = 0) -> np.ndarray:
    """Monthly: a level, a trend, a yearly wave and noise of sd 2."""
    t = np.arange(n)
    return 100 + 0.1 * t + 10 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(seed).normal(0, 2, n)


def test_a_value_typed_fifty_times_too_large_is_replaced_by_its_fit():
    y = wave()
    y[48] *= 50
    cleaned, replaced = outliers.clean(y, 12)
    assert np.flatnonzero(replaced).tolist() == [48]
    assert abs(cleaned[48] - y[48] / 50) < 10  # about the January it should have been
    assert np.array_equal(np.delete(cleaned, 48), np.delete(y, 48))
    assert y[48] > 1000  # the caller's array is untouched


@pytest.mark.parametrize(
    "case",
    ["noise", "level_shift", "trend", "multiplicative", "intermittent", "counts", "constant", "short"],
)
def test_ordinary_behaviour_is_never_taken_for_an_outlier(case):
    rng = np.random.default_rng(1)
    t = np.arange(120)
    y = {
        "noise": wave(),
        "level_shift": wave() + np.where(t >= 60, 80.0, 0.0),  # 40 noise sd up, for good
        "trend": 1000 + 30 * t + rng.normal(0, 20, 120),
        "multiplicative": (100 + 2 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * rng.lognormal(0, 0.05, 120),
        "intermittent": rng.poisson(0.4, 120).astype(float),
        "counts": rng.poisson(3, 120).astype(float),
        "constant": np.full(120, 5.0),
        "short": wave(20) * np.where(np.arange(20) == 10, 50.0, 1.0),  # too short to judge
    }[case]
    cleaned, replaced = outliers.clean(y, 12)
    assert not replaced.any()
    assert np.array_equal(cleaned, y)


def test_the_newest_half_season_is_kept_as_it_is():
    """At the end of a history a new level and an error cannot be told apart."""
    y = wave()
    y[-1] *= 50
    y[-6] *= 50
    y[-7] *= 50  # one whole window of neighbours on each side: judged
    assert np.flatnonzero(outliers.clean(y, 12)[1]).tolist() == [y.size - 7]


def test_a_spike_on_a_strong_smooth_season_takes_no_neighbour_with_it():
    """Its neighbours' running medians lean on it: judged again once it is replaced, they are fine."""
    t = np.arange(120)
    y = 5000 + 0.1 * t + 800 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 2, 120)
    truth = y.copy()
    y[60] *= 3
    y[30:32] *= 0.2  # two months typed a fifth of their value
    cleaned, replaced = outliers.clean(y, 12)
    assert np.flatnonzero(replaced).tolist() == [30, 31, 60]
    assert np.abs(cleaned - truth).max() < 15


def test_a_spike_in_a_trending_yearly_series_is_replaced():
    t = np.arange(40)
    y = 1000 + 30 * t + np.random.default_rng(2).normal(0, 20, 40)
    y[20] *= 10
    assert np.flatnonzero(outliers.clean(y, 1)[1]).tolist() == [20]


def test_the_fitted_comparators_do_not_carry_a_spike_into_their_forecasts():
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    y = wave(108)
    spiked = y.copy()
    spiked[84] *= 50  # the January two years before the origin
    packed = PackedSeries.from_arrays([spiked])
    got = comparators.forecast_pairs(packed, np.array([0]), np.array([108]), H, 12, ["auto_ets", "seasonal_naive"])
    clean = StatsForecast(models=[AutoETS(season_length=12)], freq=1).forecast(
        df=pd.DataFrame({"unique_id": 0, "ds": np.arange(108), "y": outliers.clean(spiked, 12)[0]}), h=H
    )
    np.testing.assert_allclose(got["auto_ets"]["y_hat"][0], clean.iloc[:, -1].to_numpy(), rtol=1e-9)
    raw = StatsForecast(models=[AutoETS(season_length=12)], freq=1).forecast(
        df=pd.DataFrame({"unique_id": 0, "ds": np.arange(108), "y": spiked}), h=H
    )
    assert np.abs(raw.iloc[:, -1].to_numpy() - y[96:108]).max() > 50  # the spike would have come back
    assert np.abs(got["auto_ets"]["y_hat"][0] - y[96:108]).max() < 15
    assert np.array_equal(got["seasonal_naive"]["y_hat"][0], spiked[96:108])  # the baseline repeats the data


def test_the_replaced_points_are_counted_per_series_season():
    a, b = wave(), wave(seed=3)
    a[30] *= 50
    b[40] *= 50
    b[70] *= -20
    packed = PackedSeries.from_arrays([a, b, wave(20)])
    assert comparators.outliers_replaced(packed, np.array([12, 12, 12])) == 3
    assert comparators.outliers_replaced(PackedSeries.from_arrays([wave()]), 12) == 0


def test_a_training_reports_the_replaced_points_and_serves_forecasts_without_the_spike(tmp_path):
    from flows.render import _outliers_line
    from tasks.adapters.settings import load_settings
    from tasks.forecast.predict import forecast_frame
    from tasks.train.stage import train_stage

    y = wave(96)
    y[60] *= 50  # one January
    df = pd.DataFrame({"unique_id": "s", "ds": pd.date_range("2015-01-01", periods=96, freq="MS"), "y": y})
    s = load_settings(
        {
            "storage.root": str(tmp_path / "storage"),
            "data.horizon": H,
            "training.epochs": 4,
            "model.hidden_size": 8,
            "training.progress": False,
            "data.comparators": "auto_ets,seasonal_naive",
        }
    )
    out = train_stage(df, s)
    assert out.metrics["outliers_replaced"] == 1
    fc, skipped = forecast_frame(out.bundle, df, serve_model="ensemble")
    assert not skipped
    assert np.abs(fc["y_hat"].to_numpy() - wave(108)[96:]).max() < 30  # no January near 5,000
    assert _outliers_line(out.metrics, "  ", "\n").startswith("  outliers: 1 point(s) far from their neighbours")
    # the LSTM learnt from the series with the spike replaced: its scale is the clean series' scale
    clean = np.log(outliers.clean(y, 12)[0])
    assert out.bundle.stats.scale[0] == pytest.approx(clean.std(), rel=1e-9)
    assert np.log(y).std() > 3 * clean.std()
    # and serves from the history cleaned on itself: the spike changes none of its forecasts
    on_clean, _ = forecast_frame(out.bundle, df.assign(y=outliers.clean(y, 12)[0]), serve_model="lstm")
    on_raw, _ = forecast_frame(out.bundle, df, serve_model="lstm")
    np.testing.assert_allclose(on_raw["y_hat"], on_clean["y_hat"], rtol=1e-12)
    out.bundle.meta["clean_outliers_up_to"] = 0  # more series than that: read as stored
    assert not np.allclose(forecast_frame(out.bundle, df, serve_model="lstm")[0]["y_hat"], on_clean["y_hat"])


def test_missing_points_stay_missing_and_do_not_hide_a_spike():
    y = wave()
    y[[20, 47, 80]] = np.nan
    y[48] *= 50  # right after a missing point
    cleaned, replaced = outliers.clean(y, 12)
    assert np.flatnonzero(replaced).tolist() == [48]
    assert np.isnan(cleaned[[20, 47, 80]]).all()


def test_each_part_is_cleaned_on_itself_and_the_rest_left_as_stored():
    a, b = wave(), wave(seed=4)
    a[30] *= 50
    b[40] *= 50
    b[100] *= 50  # after b's part: not read, not replaced
    packed = PackedSeries.from_arrays([a, b])
    ends = np.array([120, 90])
    out = outliers.clean_parts(packed.values, packed.offsets, ends, np.array([12, 12]))
    np.testing.assert_array_equal(out[:120], outliers.clean(a, 12)[0])
    np.testing.assert_array_equal(out[120:210], outliers.clean(b[:90], 12)[0])
    np.testing.assert_array_equal(out[210:], b[90:])
    assert out[30] < 200 and out[120 + 40] < 200 and packed.values[30] > 1000  # the packed values untouched


def test_a_spike_neither_hides_the_season_nor_moves_its_index_much():
    """The indices re-estimated on a raw history at forecast time, with the scaling of the clean one."""
    from lstm_model import scaling

    clean = wave()
    raw = clean.copy()
    raw[48] *= 50
    sid, everything = np.zeros(120, dtype=np.int64), np.ones(120, dtype=bool)
    stats = scaling.fit_stats(clean, sid, everything, 1, "auto", "standard", np.array([12]))
    on_raw = scaling.with_seasonal(stats, raw, sid, everything, np.array([12]))
    assert np.abs(stats.seasonal).max() > 0.5  # seasonal on the clean history
    assert np.abs(on_raw.seasonal).max() > 0.5  # and still on the raw one
    shift = np.abs(on_raw.seasonal - stats.seasonal)[0]  # (12,) in standard deviations of the series
    assert shift[0] < 0.8 and np.delete(shift, 0).max() < 0.15  # January moves by a fraction, not by 50x
