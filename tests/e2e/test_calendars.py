"""Series of different calendars in one dataset, through the real CLI: each series keeps its own
frequency for gaps, seasons, comparators and future dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import forecasts_table
from tests.e2e.test_cli import cli

pytestmark = pytest.mark.e2e
H = 6

CALENDARS = {  # series -> (its frequency, its timestamps)
    "stock": ("B", pd.bdate_range("2022-01-03", periods=260).delete([12, 80, 150])),  # trading holidays missing
    "month_end": ("ME", pd.date_range("2012-01-31", periods=72, freq="ME").delete(30)),  # one month missing
    "weekly": ("W-SUN", pd.date_range("2019-01-06", periods=150, freq="W-SUN")),
    "half_hourly": ("30min", pd.date_range("2024-03-01", periods=480, freq="30min")),
    "daily": ("D", pd.date_range("2023-01-01", periods=300, freq="D")),
    "monthly": ("MS", pd.date_range("2010-01-01", periods=96, freq="MS")),
}


@pytest.fixture
def calendars_csv(tmp_path):
    rng = np.random.default_rng(0)
    frames = []
    for name, (_, ds) in CALENDARS.items():
        t = np.arange(len(ds))
        y = 100 + 10 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, len(ds))
        frames.append(pd.DataFrame({"series_id": name, "timestamp": ds.strftime("%Y-%m-%d %H:%M:%S"), "value": y}))
    path = tmp_path / "raw" / "calendars.csv"
    path.parent.mkdir()
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_each_series_forecast_on_its_own_calendar(tmp_path, calendars_csv):
    storage = tmp_path / "storage"
    out = cli(
        "run",
        "--input",
        str(calendars_csv),
        "--storage",
        str(storage),
        "--horizon",
        str(H),
        "--epochs",
        "5",
        "--gaps",
        "fill",
        "--comparators",
        "seasonal_naive,naive,auto_ets",
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    curated = pd.read_parquet(storage / "curated")
    filled = curated[curated["y"].isna()].groupby("unique_id")["ds"].apply(list).to_dict()
    # gaps are read on each calendar: the holidays and the missing month end, never a weekend
    assert filled == {
        "stock": list(pd.bdate_range("2022-01-03", periods=260)[[12, 80, 150]]),
        "month_end": [pd.Timestamp("2014-07-31")],
    }
    fc = forecasts_table(storage)
    assert np.isfinite(fc["y_hat"]).all() and set(fc["unique_id"]) == set(CALENDARS)
    for name, (freq, ds) in CALENDARS.items():
        got = fc.loc[fc["unique_id"] == name, "ds"].sort_values().to_list()
        assert got == list(pd.date_range(ds[-1], periods=H + 1, freq=freq)[1:]), name
