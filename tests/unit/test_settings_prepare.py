"""Settings precedence (tasks.adapters.settings), frame <-> packed conversion and calendar helpers
(tasks.series.prepare), key checks (tasks.ingest.checks)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tasks.adapters.settings import Settings, load_settings
from tasks.ingest.checks import check_keys
from tasks.series.frequency import future_dates, season_length
from tasks.series.prepare import prepare


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No LSTMF_ variable of the calling shell leaks into these tests."""
    import os

    for k in list(os.environ):
        if k.startswith("LSTMF_"):
            monkeypatch.delenv(k)


# -- settings --------------------------------------------------------------------------------------


def test_defaults():
    s = load_settings()
    assert s.training.epochs == 300 and s.data.horizon == 12 and s.model.hidden_size == 64


def test_dotted_overrides():
    s = load_settings({"training.epochs": 5, "data.horizon": 3, "model.hidden_size": 16, "training.lr": 0.01})
    assert (s.training.epochs, s.data.horizon, s.model.hidden_size, s.training.lr) == (5, 3, 16, 0.01)
    assert s.data.input_size is None and s.training.batch_size == 1024  # untouched neighbours keep defaults


def test_none_overrides_are_ignored():
    s = load_settings({"training.epochs": None, "data.horizon": 4})
    assert s.training.epochs == 300 and s.data.horizon == 4


def test_environment_variable_is_read(monkeypatch):
    monkeypatch.setenv("LSTMF_TRAINING__EPOCHS", "7")
    s = load_settings()
    assert s.training.epochs == 7 and isinstance(s.training.epochs, int)
    # an override of another key of the same group keeps the environment's value
    s2 = load_settings({"training.lr": 0.5})
    assert (s2.training.epochs, s2.training.lr) == (7, 0.5)
    # a None override does not hide the environment
    assert load_settings({"training.epochs": None}).training.epochs == 7


def test_override_beats_the_environment(monkeypatch):
    monkeypatch.setenv("LSTMF_TRAINING__EPOCHS", "7")
    monkeypatch.setenv("LSTMF_DATA__HORIZON", "6")
    s = load_settings({"training.epochs": 9})
    assert s.training.epochs == 9
    assert s.data.horizon == 6


@pytest.mark.parametrize("key", ["training.epoch", "nosuch.epochs", "training", "epochs", "training.epochs.x"])
def test_unknown_key_is_a_value_error(key):
    with pytest.raises(ValueError, match="unknown setting"):
        load_settings({key: 1})


def test_invalid_value_is_a_value_error():
    with pytest.raises(ValueError):
        load_settings({"data.horizon": 0})
    with pytest.raises(ValueError):
        load_settings({"data.scaler": "robust"})


def test_flat_has_dotted_keys():
    s = load_settings({"training.epochs": 11})
    flat = s.flat()
    assert flat["training.epochs"] == 11
    assert flat["data.horizon"] == 12 and flat["model.hidden_size"] == 64
    assert all(k.count(".") == 1 for k in flat)
    groups = {k.split(".")[0] for k in flat}
    assert groups == set(Settings.model_fields)


# -- prepare ---------------------------------------------------------------------------------------


def unsorted_monthly() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": ["b", "a", "b", "a", "a"],
            "ds": pd.to_datetime(["2020-02-01", "2020-03-01", "2020-01-01", "2020-01-01", "2020-02-01"]),
            "y": [20.0, 3.0, 10.0, 1.0, 2.0],
        }
    )


def test_prepare_sorts_and_packs():
    p = prepare(unsorted_monthly())
    assert p.ids == ["a", "b"]
    assert p.packed.lengths.tolist() == [3, 2] and p.packed.offsets.tolist() == [0, 3]
    assert p.packed.values.tolist() == [1.0, 2.0, 3.0, 10.0, 20.0]
    assert p.packed.values.dtype == np.float64 and p.packed.offsets.dtype == np.int64
    assert list(pd.DatetimeIndex(p.ds)) == list(
        pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01", "2020-01-01", "2020-02-01"])
    )
    assert list(p.last_ds) == list(pd.to_datetime(["2020-03-01", "2020-02-01"]))
    assert p.freq == "MS"


def test_prepare_three_series_offsets():
    df = pd.DataFrame(
        {
            "unique_id": ["c"] * 2 + ["a"] * 4 + ["b"] * 3,
            "ds": list(pd.date_range("2021-01-01", periods=2, freq="D"))
            + list(pd.date_range("2021-01-01", periods=4, freq="D"))
            + list(pd.date_range("2021-01-01", periods=3, freq="D")),
            "y": np.arange(9.0),
        }
    )
    p = prepare(df.iloc[::-1])  # reversed rows
    assert p.ids == ["a", "b", "c"]
    assert p.packed.lengths.tolist() == [4, 3, 2] and p.packed.offsets.tolist() == [0, 4, 7]
    assert p.packed.values.tolist() == [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 0.0, 1.0]
    assert p.freq == "D"


def test_prepare_irregular_and_empty():
    df = pd.DataFrame(
        {
            "unique_id": ["a"] * 4,
            "ds": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-05", "2020-02-11"]),
            "y": [1.0, 2.0, 3.0, 4.0],
        }
    )
    assert prepare(df).freq is None
    with pytest.raises(ValueError):
        prepare(df.iloc[:0])


def test_season_length():
    assert season_length("MS") == 12
    assert season_length("D") == 7
    assert season_length("h") == 24
    assert season_length("W-SUN") == 52
    assert season_length("MS", override=4) == 4
    assert season_length(None) == 1


def test_future_dates_monthly():
    last = np.array(["1960-12-01", "2020-06-01"], dtype="datetime64[ns]")
    dates = future_dates(last, "MS", 3)
    assert dates.shape == (2, 3) and dates.dtype == np.dtype("datetime64[ns]")
    assert [str(d)[:10] for d in dates[0]] == ["1961-01-01", "1961-02-01", "1961-03-01"]
    assert [str(d)[:10] for d in dates[1]] == ["2020-07-01", "2020-08-01", "2020-09-01"]


def test_future_dates_daily_and_unknown_frequency():
    dates = future_dates(np.array(["2020-02-28"], dtype="datetime64[ns]"), "D", 2)
    assert [str(d)[:10] for d in dates[0]] == ["2020-02-29", "2020-03-01"]
    with pytest.raises(ValueError):
        future_dates(np.array(["2020-02-28"], dtype="datetime64[ns]"), None, 2)


def test_future_dates_past_the_last_timestamp_are_missing_for_that_series_only():
    last = np.array(["2259-01-01", "2020-01-01"], dtype="datetime64[ns]")
    dates = future_dates(last, "YS", 5)
    assert np.isnat(dates[0]).all() and [str(d)[:4] for d in dates[1]] == ["2021", "2022", "2023", "2024", "2025"]


# -- key checks ------------------------------------------------------------------------------------


def test_check_keys_duplicates_order_gaps_and_mixed_steps():
    ids = ["a", "a", "a", "b", "b", "b", "b", "c", "c", "c", "a"]
    ds = np.array(
        [
            "2020-01-01",
            "2020-02-01",
            "2020-05-01",  # a: monthly, 2 missing
            "2020-01-01",
            "2020-01-02",
            "2020-01-02",
            "2020-01-03",  # b: daily, one duplicate
            "2020-01-01",
            "2020-01-08",
            "2020-01-10",  # c: 7 then 2 days -> mixed
            "2020-03-01",
        ],
        dtype="datetime64[ns]",
    )  # a again, out of order: fills one gap
    r = check_keys(pa.array(ids), ds)
    assert (r.rows, r.series, r.duplicates, r.sorted_input) == (11, 3, 1, False)
    assert r.mixed_frequency == ["c"] and r.gaps == {"a": 1}
    assert r.ranges.set_index("unique_id").loc["a", "last"] == pd.Timestamp("2020-05-01")
