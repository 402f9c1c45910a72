"""Checks over the (series, timestamp) keys of a file: duplicates, order, frequency, gaps.

Vectorised over all rows at once (one sort), whatever the number of series. Ingest streams the
same checks block by block with :class:`tasks.ingest.keystream.KeyStream` (memory O(series)), which
falls back to this function on hash buckets of series.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class KeyReport:
    rows: int
    series: int
    duplicates: int  # rows whose (unique_id, ds) repeats an earlier row
    sorted_input: bool
    mixed_frequency: list[str] = field(default_factory=list)  # series whose steps are irregular
    gaps: dict[str, int] = field(default_factory=dict)  # series -> missing steps
    duplicate_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # row indices
    ranges: pd.DataFrame | None = None  # unique_id, first, last
    mixed_rows: int = 0  # rows of the mixed_frequency series


def check_keys(unique_id: pa.ChunkedArray | pa.Array, ds: np.ndarray) -> KeyReport:
    """unique_id (N,) strings, ds (N,) datetime64[ns] in file order."""
    enc = pc.dictionary_encode(unique_id)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.unify_dictionaries().combine_chunks()
    codes = np.asarray(enc.indices)  # (N,) int32
    names = enc.dictionary.to_pylist()
    t = ds.astype("datetime64[ns]").view(np.int64)
    n = codes.shape[0]
    same = codes[1:] == codes[:-1]  # (N-1,)
    # codes number the series in order of first appearance: a file grouped by series, each in
    # time order, needs no sort (and no copy)
    grouped = n < 2 or bool(np.all((codes[1:] > codes[:-1]) | (same & (t[1:] > t[:-1]))))
    if grouped:
        c, v, order = codes, t, None
    else:
        order = np.lexsort((t, codes))  # stable: file order among equal keys
        c, v = codes[order], t[order]
        same = c[1:] == c[:-1]
    dup = same & (v[1:] == v[:-1])
    report = KeyReport(
        rows=n,
        series=len(names),
        duplicates=int(dup.sum()),
        sorted_input=grouped or bool(np.all(order == np.arange(n))),
    )
    if order is not None:
        report.duplicate_rows = np.sort(order[:-1][dup])  # the earlier of each equal pair is superseded
    seg = np.flatnonzero(np.r_[True, ~same])  # (S,) first row of each series (sorted by code)
    codes_of_seg = c[seg]
    report.ranges = pd.DataFrame(
        {
            "unique_id": np.asarray(names, dtype=object)[codes_of_seg],
            "first": v[seg].view("datetime64[ns]"),
            "last": v[np.r_[seg[1:], n] - 1].view("datetime64[ns]"),
        }
    )
    if n < 2 or not (same & ~dup).any():
        return report
    steps = _step_values(v.view("datetime64[ns]"), seg)  # (N,) int64 in each series' unit
    big = np.iinfo(np.int64).max
    diff = np.r_[big, steps[1:] - steps[:-1]]  # (N,) step to the previous row of the same series
    use = np.r_[False, same & ~dup]
    step = np.minimum.reduceat(np.where(use, diff, big), seg)[_seg_index(seg, n)]  # (N,) series' smallest step
    ok_step = np.where(use, step, 1)
    irregular = use & (diff % ok_step != 0)
    mixed = np.add.reduceat(irregular, seg) > 0  # (S,) in code order
    missing = np.add.reduceat(np.where(use & ~irregular, diff // ok_step - 1, 0), seg)
    report.mixed_frequency = [names[codes_of_seg[i]] for i in np.nonzero(mixed)[0]]
    report.mixed_rows = int(np.diff(np.r_[seg, n])[mixed].sum())
    report.gaps = {names[codes_of_seg[i]]: int(missing[i]) for i in np.nonzero((missing > 0) & ~mixed)[0]}
    return report


def _seg_index(seg: np.ndarray, n: int) -> np.ndarray:
    """(N,) index of the segment each row belongs to, segments starting at ``seg``."""
    marks = np.zeros(n, dtype=np.int64)
    marks[seg[1:]] = 1
    return np.cumsum(marks)


def _step_values(ds: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Per series (rows grouped, series starting at ``seg``): calendar months when every timestamp
    of the series is a month start (or every one a month end), else nanoseconds. -> (N,) int64.

    Calendar arithmetic runs on the distinct timestamps only (few, even for many series)."""
    ns = ds.view(np.int64)
    which, uniq = pd.factorize(ns)  # (N,), (U,)
    u = uniq.view("datetime64[ns]")
    months = u.astype("datetime64[M]")  # (U,)
    day = u.astype("datetime64[D]")
    start = months.astype("datetime64[ns]") == u
    end = ((months + 1).astype("datetime64[D]") - np.timedelta64(1, "D") == day) & (day.astype("datetime64[ns]") == u)
    if start.all() or end.all():
        return months.view(np.int64)[which]
    if not (start.any() or end.any()):
        return ns
    monthly = (np.add.reduceat(~start[which], seg) == 0) | (np.add.reduceat(~end[which], seg) == 0)  # (S,)
    per_row = np.repeat(monthly, np.diff(np.r_[seg, len(ns)]))  # (N,)
    return np.where(per_row, months.view(np.int64)[which], ns)
