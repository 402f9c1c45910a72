"""Settings precedence, frame <-> packed conversion, calendar helpers, key checks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tasks.checks import check_keys
from tasks.prepare import future_dates, prepare, season_length
from tasks.settings import load_settings


def test_settings_precedence(monkeypatch):
    assert load_settings().training.epochs == 300
    monkeypatch.setenv("LSTMF_TRAINING__EPOCHS", "7")
    monkeypatch.setenv("LSTMF_DATA__HORIZON", "6")
    s = load_settings({"training.epochs": 9, "model.hidden_size": None})
    assert (s.training.epochs, s.data.horizon, s.model.hidden_size) == (9, 6, 64)
    assert s.flat()["training.epochs"] == 9
    with pytest.raises(ValueError, match="unknown setting"):
        load_settings({"training.epoch": 1})
    with pytest.raises(ValueError):
        load_settings({"data.horizon": 0})


def test_prepare_sorts_and_packs():
    df = pd.DataFrame({"unique_id": ["b", "a", "b", "a", "a"],
                       "ds": pd.to_datetime(["2020-02-01", "2020-03-01", "2020-01-01", "2020-01-01", "2020-02-01"]),
                       "y": [2.0, 3.0, 1.0, 1.0, 2.0]})
    p = prepare(df)
    assert p.ids == ["a", "b"] and p.packed.lengths.tolist() == [3, 2] and p.packed.offsets.tolist() == [0, 3]
    assert p.packed.values.tolist() == [1.0, 2.0, 3.0, 1.0, 2.0]
    assert p.freq == "MS" and list(p.last_ds) == list(pd.to_datetime(["2020-03-01", "2020-02-01"]))


def test_calendar_helpers():
    assert (season_length("MS"), season_length("D"), season_length("h"), season_length("W-SUN")) == (12, 7, 24, 52)
    assert season_length("MS", override=4) == 4
    dates = future_dates(np.array(["1960-12-01"], dtype="datetime64[ns]"), "MS", 3)
    assert [str(d)[:10] for d in dates[0]] == ["1961-01-01", "1961-02-01", "1961-03-01"]


def test_check_keys_duplicates_order_gaps_and_mixed_steps():
    ids = ["a", "a", "a", "b", "b", "b", "b", "c", "c", "c", "a"]
    ds = np.array(["2020-01-01", "2020-02-01", "2020-05-01",  # a: monthly, 2 missing
                   "2020-01-01", "2020-01-02", "2020-01-02", "2020-01-03",  # b: daily, one duplicate
                   "2020-01-01", "2020-01-08", "2020-01-10",  # c: 7 then 2 days -> mixed
                   "2020-03-01"], dtype="datetime64[ns]")  # a again, out of order: fills one gap
    r = check_keys(pa.array(ids), ds)
    assert (r.rows, r.series, r.duplicates, r.sorted_input) == (11, 3, 1, False)
    assert r.mixed_frequency == ["c"] and r.gaps == {"a": 1}
    assert r.ranges.set_index("unique_id").loc["a", "last"] == pd.Timestamp("2020-05-01")
