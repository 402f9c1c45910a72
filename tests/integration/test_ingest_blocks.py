"""Key checks at real block boundaries: a file read in 1 MB blocks gives the same report as read in
one block, when a duplicate, a gap or an out-of-order row straddles the boundary."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tasks.adapters.settings import IngestSettings
from tasks.adapters.storage import Storage
from tasks.ingest.csv_reader import iter_batches
from tasks.ingest.sniff import HEAD_BYTES, sniff
from tasks.ingest.stage import ingest_files

SERIES, STEPS = 3000, 20  # 60 k fixed-width rows, about 1.5 MB: two 1 MB blocks


def rows() -> list[list[str]]:
    return [
        [f"s{s:05d}", f"2020-01-{d + 1:02d}", f"{(s * 7 + d) % 100:06.3f}"] for s in range(SERIES) for d in range(STEPS)
    ]


def text(table: list[list[str]]) -> bytes:
    return ("id,date,value\n" + "".join(",".join(r) + "\n" for r in table)).encode()


def first_block_rows(payload: bytes) -> int:
    layout = sniff(payload[:HEAD_BYTES], "f.csv")
    good, *_ = next(iter_batches(io.BytesIO(payload), layout, 1 << 20, fast=True))
    return good.num_rows


def ingest(tmp_path: Path, name: str, payload: bytes, block_size_mb: int) -> dict:
    path = tmp_path / f"{name}.csv"
    path.write_bytes(payload)
    storage = Storage(str(tmp_path / f"storage-{name}-{block_size_mb}"))
    (report,) = ingest_files(str(path), storage, IngestSettings(block_size_mb=block_size_mb)).files
    return {k: v for k, v in report.items() if k != "file"}


def boundary(table: list[list[str]]) -> int:
    k = first_block_rows(text(table))
    assert 0 < k < len(table)  # the file really spans two blocks
    assert table[k - 1][0] == table[k][0]  # and one series straddles the boundary
    return k


def duplicate_split(table: list[list[str]], k: int) -> None:
    table[k][:2] = table[k - 1][:2]  # the first row of block 2 repeats the key of the last row of block 1


def gap_across(table: list[list[str]], k: int) -> None:
    sid = table[k - 1][0]
    for r in table[k:]:
        if r[0] == sid:  # the rest of the series moves one day later: one missing step at the boundary
            r[1] = r[1][:-2] + f"{int(r[1][-2:]) + 1:02d}"
    if table[k][0] != sid:
        table[k][0], table[k][1] = sid, table[k - 1][1][:-2] + f"{int(table[k - 1][1][-2:]) + 2:02d}"


def swap_across(table: list[list[str]], k: int) -> None:
    table[k - 1], table[k] = table[k], table[k - 1]  # time goes back across the boundary


@pytest.mark.parametrize(
    "change, expect",
    [
        (duplicate_split, {"duplicates": 1}),
        (gap_across, {"gaps": 1}),
        (swap_across, {"sorted_input": False}),
    ],
)
def test_boundary_cases_match_a_single_block(tmp_path, change, expect):
    table = rows()
    k = boundary(table)
    change(table, k)
    payload = text(table)
    assert first_block_rows(payload) == k  # the change kept the boundary where it was
    small = ingest(tmp_path, "f", payload, block_size_mb=1)
    whole = ingest(tmp_path, "f", payload, block_size_mb=16)
    assert small == whole
    assert small["status"] == "ingested" and all(small[key] == v for key, v in expect.items()), small
