"""Deseasonalised windows (lstm_model.seasonal, model.deseasonalise): the indices, where they apply,
and forecasts that get them back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstm_model import scaling, seasonal
from lstm_model.bundle import ModelBundle, forecast_packed
from lstm_model.windows import PackedSeries
from tasks.adapters.settings import load_settings
from tasks.train.stage import train_stage


def reference(y: np.ndarray, m: int) -> np.ndarray:
    """The classical decomposition of one complete series, written plainly: the Bartlett test at
    lag m (90 %), then the mean of y minus its centred (2 x m when m is even) moving average at
    each position of the season, weighted by age (halving every HALF_LIFE seasons), centred."""
    n = y.size
    d = y - y.mean()
    acf = np.array([d[: n - k] @ d[k:] / (d @ d) for k in range(1, m + 1)])
    if n < 3 * m or not abs(acf[m - 1]) > 1.645 * np.sqrt((1 + 2 * np.sum(acf[: m - 1] ** 2)) / n):
        return np.zeros(m)
    w = np.ones(m + 1 if m % 2 == 0 else m)
    if m % 2 == 0:
        w[0] = w[-1] = 0.5
    trend = np.convolve(y, w / m, mode="valid")
    h = w.size // 2
    t = np.arange(h, n - h)
    detrended, pos = y[h : n - h] - trend, t % m
    weight = 0.5 ** ((t[-1] - t) / (m * seasonal.HALF_LIFE))  # by age in seasons, from the latest point
    idx = np.array([np.average(detrended[pos == k], weights=weight[pos == k]) for k in range(m)])
    return idx - idx.mean()


def seasonal_series(n: int, m: int, seed: int, amplitude: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 20.0 + 0.05 * t + amplitude * np.sin(2 * np.pi * t / m) + rng.normal(0, 0.3, n)


@pytest.mark.parametrize("m", [4, 5, 12])
def test_indices_equal_the_classical_decomposition_series_by_series(m):
    rng = np.random.default_rng(m)
    ys = [seasonal_series(10 * m + 3, m, 1), rng.normal(0, 1, 8 * m), seasonal_series(2 * m, m, 2)]
    p = PackedSeries.from_arrays(ys)
    got = seasonal.indices(p.values, p.series_of_point(), np.full(3, m))
    assert got.shape == (3, m)
    for k, y in enumerate(ys):
        np.testing.assert_allclose(got[k], reference(y, m), atol=1e-12)
    assert np.any(got[0]) and np.allclose(got[0], reference(ys[0], m))  # seasonal: found, zero-sum
    assert abs(got[0].sum()) < 1e-12
    assert not np.any(got[1])  # white noise: no significant autocorrelation at lag m
    assert not np.any(got[2])  # two seasons: too short to estimate and test


def test_each_series_gets_its_own_season_and_a_missing_point_is_left_out():
    a, b = seasonal_series(60, 4, 3), seasonal_series(120, 12, 4)
    with_gap = b.copy()
    with_gap[50] = np.nan
    p = PackedSeries.from_arrays([a, with_gap, seasonal_series(50, 1, 5)])
    got = seasonal.indices(p.values, p.series_of_point(), np.array([4, 12, 1]))
    assert got.shape == (3, 12)
    np.testing.assert_allclose(got[0, :4], reference(a, 4), atol=1e-12)
    assert not np.any(got[0, 4:]) and not np.any(got[2])  # past its season / season 1: nothing
    assert np.all(np.isfinite(got[1])) and np.corrcoef(got[1], reference(b, 12))[0, 1] > 0.99


def test_statistics_keep_the_season_but_not_the_indices_and_refuse_to_guess_them():
    p = PackedSeries.from_arrays([seasonal_series(48, 4, 6), seasonal_series(40, 4, 7)])
    sid, every = p.series_of_point(), np.ones(p.values.shape[0], dtype=bool)
    stats = scaling.fit_stats(p.values, sid, every, 2, "auto", "standard", np.array([4, 4]))
    assert stats.seasonal.shape == (2, 4) and np.any(stats.seasonal)
    again = scaling.ScalerStats.from_dict(stats.to_dict())
    assert again.season.tolist() == [4, 4] and again.seasonal is None  # a function of the history, not stored
    with pytest.raises(ValueError, match="not estimated"):
        again.component(sid, p.position())
    np.testing.assert_allclose(
        scaling.with_seasonal(again, p.values, sid, every, again.season).seasonal, stats.seasonal
    )
    plain = scaling.fit_stats(p.values, sid, every, 2, "auto", "standard")
    assert plain.season is None and plain.component(sid, p.position()) == 0.0
    assert "season" not in plain.to_dict()  # a bundle written before the setting reads as it was


def test_indices_are_estimated_on_the_training_part_only():
    y = seasonal_series(96, 12, 8)
    changed = y.copy()
    changed[72:] += 50.0 * np.sin(np.arange(24))  # the part after the training part
    for values in (y, changed):
        p = PackedSeries.from_arrays([values])
        fit = p.position() < 72
        stats = scaling.fit_stats(p.values, p.series_of_point(), fit, 1, "none", "standard", np.array([12]))
        if values is y:
            first = stats.seasonal
    np.testing.assert_array_equal(stats.seasonal, first)


def monthly(n: int, seed: int, stop_after: int | None = None) -> pd.DataFrame:
    y = 100.0 + 30.0 * np.sin(2 * np.pi * np.arange(n) / 12) + np.random.default_rng(seed).normal(0, 2, n)
    if stop_after is not None:
        y[stop_after:] = 0.0
    return pd.DataFrame({"unique_id": f"s{seed}", "ds": pd.date_range("2000-01-01", periods=n, freq="MS"), "y": y})


def settings(tmp_path, **over):
    return load_settings(
        {
            "storage.root": str(tmp_path / "storage"),
            "data.horizon": 12,
            "data.n_windows": 1,
            "training.epochs": 30,
            "training.patience": 30,
            "model.hidden_size": 16,
            "training.progress": False,
            **over,
        }
    )


def test_the_network_reads_deseasonalised_windows_and_forecasts_get_the_season_back(tmp_path):
    df = pd.concat([monthly(120, 0), monthly(120, 1)], ignore_index=True)
    out = train_stage(df, settings(tmp_path))
    stats = out.bundle.stats
    assert stats.season.tolist() == [12, 12] and np.ptp(stats.seasonal, axis=1).min() > 0.5  # scaled units
    again = ModelBundle.from_payloads(out.bundle.weights_bytes(), out.bundle.config_json())
    p = out.packed
    served = forecast_packed(out.bundle.build(), p, p.lengths, stats)  # (S, 12)
    loaded = forecast_packed(again.build(), p, p.lengths, again.stats)  # indices estimated again, the same
    np.testing.assert_allclose(loaded, served, rtol=1e-6)
    # a network that reads seasonal windows as level + noise: its forecast must carry the season back
    assert np.ptp(served, axis=1).min() > 20.0  # about 2 x the 30 amplitude
    off = train_stage(df, settings(tmp_path, **{"model.deseasonalise": False}))
    assert off.bundle.stats.season is None
    quick = {"training.epochs": 2}
    calendar = train_stage(df, settings(tmp_path, **{"data.calendar": True, **quick}))
    assert calendar.bundle.network.n_future > 0 and calendar.bundle.stats.season is None  # the default then
    forced = train_stage(df, settings(tmp_path, **{"data.calendar": True, "model.deseasonalise": True, **quick}))
    assert forced.bundle.stats.season.tolist() == [12, 12]


def test_a_series_that_stopped_stays_stopped_without_its_season(tmp_path):
    df = pd.concat([monthly(120, 0), monthly(120, 2, stop_after=100)], ignore_index=True)
    out = train_stage(df, settings(tmp_path))
    p = out.packed
    y_hat = forecast_packed(out.bundle.build(), p, p.lengths, out.bundle.stats)
    assert out.bundle.stats.seasonal[1].any()  # its history is seasonal ...
    assert np.abs(y_hat[1]).max() < 0.01  # ... but its last 12 points are all zero (the season: +-30)
    assert np.ptp(y_hat[0]) > 20.0
