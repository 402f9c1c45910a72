"""Streamed key checks (tasks.ingest.keystream.KeyStream): the same answers as tasks.ingest.checks.check_keys over
the whole file, whatever the block boundaries, including the cases that straddle one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tasks.ingest.checks import KeyReport, check_keys
from tasks.ingest.keystream import KeyStream


def stream(ids: list[str], ds: list[str], cuts: list[int], bucket_rows: int = 3) -> tuple[KeyStream, KeyReport]:
    """Feed the rows in blocks cut at ``cuts``; the rescan (for the fallback) yields them in 2-row batches."""
    t = np.array(ds, dtype="datetime64[ns]")
    ks = KeyStream(bucket_rows=bucket_rows)
    bounds = [0, *cuts, len(ids)]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        ks.add(pa.array(ids[lo:hi], pa.string()), pa.array(t[lo:hi]))
    table = pa.table({"unique_id": pa.array(ids, pa.string()), "ds": pa.array(t)})
    return ks, ks.finish(lambda: table.to_batches(max_chunksize=2))


def assert_same(got: KeyReport, ref: KeyReport) -> None:
    assert (got.rows, got.series, got.duplicates, got.sorted_input) == (
        ref.rows,
        ref.series,
        ref.duplicates,
        ref.sorted_input,
    )
    assert got.mixed_frequency == ref.mixed_frequency and list(got.gaps.items()) == list(ref.gaps.items())
    assert got.mixed_rows == ref.mixed_rows
    pd.testing.assert_frame_equal(got.ranges.reset_index(drop=True), ref.ranges.reset_index(drop=True))


def test_duplicate_split_across_two_blocks():
    ids, ds = ["a"] * 4, ["2020-01-01", "2020-01-02", "2020-01-02", "2020-01-03"]
    ks, r = stream(ids, ds, cuts=[2])  # block 1 ends with the key that block 2 starts with
    assert ks.monotone and (r.duplicates, r.sorted_input, r.gaps, r.mixed_frequency) == (1, True, {}, [])
    assert_same(r, check_keys(pa.array(ids), np.array(ds, dtype="datetime64[ns]")))


def test_gap_across_a_block_boundary():
    ids, ds = ["a"] * 4, ["2020-01-01", "2020-02-01", "2020-05-01", "2020-06-01"]  # monthly, March-April missing
    ks, r = stream(ids, ds, cuts=[2])
    assert ks.monotone and r.gaps == {"a": 2} and r.mixed_frequency == []
    assert_same(r, check_keys(pa.array(ids), np.array(ds, dtype="datetime64[ns]")))


def test_irregular_step_across_a_block_boundary():
    ids, ds = ["a"] * 4, ["2020-01-01", "2020-01-08", "2020-01-10", "2020-01-17"]  # 7 days, then 2 at the cut
    _, r = stream(ids, ds, cuts=[2])
    assert r.mixed_frequency == ["a"] and r.mixed_rows == 4 and r.gaps == {}


def test_unsorted_row_at_a_block_boundary_uses_the_exact_fallback():
    ids = ["a", "a", "a", "b", "a", "b"]
    ds = ["2020-01-02", "2020-01-03", "2020-01-05", "2020-01-01", "2020-01-01", "2020-01-02"]
    ks, r = stream(ids, ds, cuts=[4])  # the first row of block 2 goes back in time for series a
    assert not ks.monotone and not r.sorted_input
    assert r.gaps == {"a": 1} and r.duplicates == 0
    assert_same(r, check_keys(pa.array(ids), np.array(ds, dtype="datetime64[ns]")))


def test_series_reappearing_later_is_not_sorted_but_needs_no_fallback():
    ids, ds = ["a", "a", "b", "b", "a"], ["2020-01-01", "2020-01-02", "2020-01-01", "2020-01-02", "2020-01-03"]
    ks, r = stream(ids, ds, cuts=[2, 4])
    assert ks.monotone and not r.sorted_input and r.gaps == {}
    assert_same(r, check_keys(pa.array(ids), np.array(ds, dtype="datetime64[ns]")))


def test_time_major_file_in_blocks():
    days = [str(d)[:10] for d in pd.date_range("2020-01-01", periods=6, freq="D")]
    ids = [s for _ in days for s in ("x", "y", "z")]
    ds = [d for d in days for _ in range(3)]
    ks, r = stream(ids, ds, cuts=[4, 9, 13])
    assert ks.monotone and not r.sorted_input
    assert_same(r, check_keys(pa.array(ids), np.array(ds, dtype="datetime64[ns]")))


def _random_file(rng: np.random.Generator) -> tuple[list[str], list[np.datetime64]]:
    ids, ts = [], []
    for s in range(int(rng.integers(1, 6))):
        freq = ["MS", "ME", "D", "2D", "7h"][int(rng.integers(0, 5))]
        t = list(
            pd.date_range(
                "2020-01-31" if freq == "ME" else "2020-01-01", periods=int(rng.integers(1, 20)), freq=freq
            ).values
        )
        if len(t) > 3 and rng.random() < 0.4:
            t.pop(int(rng.integers(1, len(t) - 1)))  # a gap
        if rng.random() < 0.2:
            t.append(t[-1] + np.timedelta64(int(rng.integers(1, 10**6)), "s"))  # an irregular step
        if rng.random() < 0.3:
            t = sorted(t + [t[int(rng.integers(0, len(t)))]])  # a duplicate
        ids += [f"s{s}"] * len(t)
        ts += t
    order = {0: np.arange(len(ts)), 1: np.lexsort((np.array(ids), np.array(ts))), 2: rng.permutation(len(ts))}[
        int(rng.integers(0, 3))
    ]  # by series, by time, shuffled
    return [ids[i] for i in order], [ts[i] for i in order]


@pytest.mark.parametrize("seed", range(4))
def test_random_files_and_block_cuts_match_the_whole_file_check(seed):
    rng = np.random.default_rng(seed)
    for _ in range(150):
        ids, ts = _random_file(rng)
        cuts = (
            sorted(
                rng.choice(
                    np.arange(1, len(ids)), size=min(len(ids) - 1, int(rng.integers(0, 5))), replace=False
                ).tolist()
            )
            if len(ids) > 1
            else []
        )
        ds = [str(t) for t in ts]
        _, r = stream(ids, ds, cuts, bucket_rows=int(rng.integers(1, 10)))
        assert_same(r, check_keys(pa.array(ids), np.array(ds, dtype="datetime64[ns]")))


def test_fallback_needs_the_rows_again():
    ks = KeyStream()
    ks.add(pa.array(["a"]), pa.array(np.array(["2020-01-02"], dtype="datetime64[ns]")))
    ks.add(pa.array(["a"]), pa.array(np.array(["2020-01-01"], dtype="datetime64[ns]")))
    with pytest.raises(ValueError):
        ks.finish()
