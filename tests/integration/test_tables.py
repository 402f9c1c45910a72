"""The forecasts Delta table: a cutoff's partition replaced in one commit, concurrent writers,
time travel, and older plain-Parquet storages converted in place."""

from __future__ import annotations

import threading

import pandas as pd
from deltalake import DeltaTable

from tasks.adapters import tables
from tasks.adapters.storage import Storage


def frame(value: float, cutoff: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": ["a", "a", "b"],
            "ds": pd.to_datetime(["2020-02-01", "2020-03-01", "2020-02-01"]),
            "y_hat": value,
            "cutoff": pd.Timestamp(cutoff),
        }
    )


def test_a_partition_is_replaced_whole_and_the_others_kept(tmp_path):
    storage = Storage(str(tmp_path))
    assert tables.replace_partition(storage, "forecasts", frame(1.0, "2020-01-01"), "2020-01-01") == 0
    assert tables.replace_partition(storage, "forecasts", frame(2.0, "2020-02-01"), "2020-02-01") == 1
    assert tables.replace_partition(storage, "forecasts", frame(3.0, "2020-01-01"), "2020-01-01") == 2
    now = DeltaTable(str(tmp_path / "forecasts")).to_pandas()
    assert now.groupby("cutoff_date")["y_hat"].unique().map(list).to_dict() == {
        "2020-01-01": [3.0],
        "2020-02-01": [2.0],
    }
    assert len(now) == 6
    before = DeltaTable(str(tmp_path / "forecasts"), version=1).to_pandas()  # time travel
    assert sorted(before["y_hat"].unique()) == [1.0, 2.0]
    one = tables.read(storage, "forecasts", ["unique_id", "y_hat", "missing_column"], partition="2020-02-01")
    assert list(one.columns) == ["unique_id", "y_hat"] and (one["y_hat"] == 2.0).all()


def test_concurrent_writers_of_one_cutoff_leave_one_writers_rows(tmp_path):
    storage, errors = Storage(str(tmp_path)), []

    def write(i: int) -> None:
        try:
            tables.replace_partition(storage, "forecasts", frame(float(i), "2020-01-01"), "2020-01-01")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    table = DeltaTable(str(tmp_path / "forecasts"))
    assert not errors and table.version() == 5 and len(table.file_uris()) == 1
    rows = table.to_pandas()
    assert len(rows) == 3 and rows["y_hat"].nunique() == 1


def test_plain_parquet_partitions_of_an_older_storage_are_converted_in_place(tmp_path):
    storage = Storage(str(tmp_path))
    for cutoff, value in (("2020-01-01", 1.0), ("2020-02-01", 2.0)):
        storage.write_bytes_atomic(
            f"forecasts/cutoff_date={cutoff}/forecasts.parquet", frame(value, cutoff).to_parquet(index=False)
        )
    old = tables.read(storage, "forecasts")
    assert len(old) == 6 and (tmp_path / "forecasts" / "_delta_log").is_dir()
    tables.replace_partition(storage, "forecasts", frame(5.0, "2020-02-01"), "2020-02-01")
    now = tables.read(storage, "forecasts")
    assert sorted(now["y_hat"].unique()) == [1.0, 5.0] and len(now) == 6


def test_scores_replaced_whole_and_an_older_scores_file_converted(tmp_path):
    storage = Storage(str(tmp_path))
    old = pd.DataFrame({"cutoff": pd.to_datetime(["2020-01-01"]).as_unit("ns"), "model_version": ["1"], "mase": [0.5]})
    storage.write_bytes_atomic(
        "scores/scores.parquet", old.to_parquet(index=False)
    )  # the file of storages older than the table
    pd.testing.assert_frame_equal(tables.read(storage, "scores").astype({"cutoff": "datetime64[ns]"}), old)
    new = pd.concat([old, old.assign(model_version="2", mase=0.7)], ignore_index=True)
    assert tables.overwrite(storage, "scores", new) == 1
    assert sorted(DeltaTable(str(tmp_path / "scores")).to_pandas()["mase"]) == [0.5, 0.7]
