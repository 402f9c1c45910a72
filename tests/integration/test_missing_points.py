"""Explicit missing points (NaN rows from gap filling) never reach the network or the statistics."""

from __future__ import annotations

import numpy as np

from tasks.adapters.settings import load_settings
from tasks.forecast.predict import forecast_frame
from tasks.train.stage import train_stage
from tests.conftest import parse_csv


def test_training_and_forecast_skip_windows_with_missing_points(tmp_path, air_csv):
    df = parse_csv(air_csv.read_bytes(), str(air_csv)).frame
    df.loc[[10, 11, 50], "y"] = np.nan  # missing points in the training part
    s = load_settings({"storage.root": str(tmp_path), "training.epochs": 20, "data.n_windows": 1})
    outcome = train_stage(df, s)
    assert np.isfinite(outcome.result.best_val_loss)
    assert np.all(np.isfinite(outcome.bundle.stats.loc)) and np.all(np.isfinite(outcome.bundle.stats.scale))
    full = 144 - 12 - 12 - (12 + 12) + 1  # windows ending in the training part, none missing
    assert outcome.result.n_train_windows < full
    assert np.isfinite(outcome.metrics["lstm_mase"]) and np.isfinite(outcome.metrics["seasonal_naive_mase"])
    fc, skipped = forecast_frame(outcome.bundle, df, "lstm")
    assert len(fc) == 12 and not skipped and np.isfinite(fc["y_hat"]).all() and (fc["model"] == "lstm").all()
    df.loc[140, "y"] = np.nan  # a missing point among the last input_size: the LSTM cannot forecast it,
    fc, skipped = forecast_frame(outcome.bundle, df, "lstm")  # its best comparator does
    assert not skipped and len(fc) == 12 and np.isfinite(fc["y_hat"]).all()
    assert (fc["model"] == outcome.evaluation.fallback["AirPassengers"]).all()


def test_a_series_whose_training_part_is_all_missing_stops_no_other(tmp_path):
    """A new series whose first points are missing (gap filling) has nothing in the evaluated
    network's training part: it trains nothing there (the identity as its statistics), the training
    goes on, and every series is still forecast."""
    import pandas as pd

    t = np.arange(60)
    wave = 100 + 10 * np.sin(2 * np.pi * t / 12) + t
    late = np.r_[np.full(52, np.nan), wave[52:]]  # observed only in the last 8 points
    df = pd.concat(
        [
            pd.DataFrame({"unique_id": k, "ds": pd.date_range("2015-01-01", periods=60, freq="MS"), "y": y})
            for k, y in (("a", wave), ("late", late))
        ],
        ignore_index=True,
    )
    s = load_settings(
        {
            "storage.root": str(tmp_path),
            "data.horizon": 3,
            "training.epochs": 4,
            "model.hidden_size": 8,
            "training.progress": False,
        }
    )
    outcome = train_stage(df, s)
    late_k = outcome.ids.index("late")  # the served network saw its 8 observed points
    assert np.isfinite(outcome.bundle.stats.loc[late_k]) and np.isfinite(outcome.bundle.stats.scale[late_k])
    fc, skipped = forecast_frame(outcome.bundle, df)
    assert set(fc["unique_id"]) | set(skipped) == {"a", "late"} and "a" in set(fc["unique_id"])
    assert np.isfinite(fc["y_hat"]).all()
