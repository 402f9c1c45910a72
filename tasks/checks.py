"""Checks over the (series, timestamp) keys of a file: duplicates, order, frequency, gaps.

Vectorised over all rows at once (one sort), whatever the number of series.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
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


def check_keys(unique_id: pa.ChunkedArray | pa.Array, ds: np.ndarray) -> KeyReport:
    """unique_id (N,) strings, ds (N,) datetime64[ns] in file order."""
    enc = pc.dictionary_encode(unique_id)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.unify_dictionaries().combine_chunks()
    codes = np.asarray(enc.indices, dtype=np.int64)  # (N,)
    names = enc.dictionary.to_pylist()
    t = ds.astype("datetime64[ns]").astype(np.int64)
    n = codes.shape[0]
    order = np.lexsort((np.arange(n), t, codes))  # by series, time, then file order
    c, v = codes[order], t[order]
    same = c[1:] == c[:-1]  # (N-1,)
    dup = same & (v[1:] == v[:-1])
    report = KeyReport(rows=n, series=len(names), duplicates=int(dup.sum()),
                       sorted_input=bool(np.all(order == np.arange(n))))
    report.duplicate_rows = np.sort(order[:-1][dup])  # the earlier of each equal pair is superseded
    steps = _step_values(ds[order], c, len(names))  # (N,) int64 in each series' unit (months or ns)
    diff = steps[1:] - steps[:-1]
    use = same & ~dup
    if not use.any():
        return report
    sid, d = c[1:][use], diff[use]
    step = np.full(len(names), np.iinfo(np.int64).max)
    np.minimum.at(step, sid, d)
    irregular = (d % step[sid]) != 0
    mixed = np.zeros(len(names), dtype=bool)
    mixed[sid[irregular]] = True
    missing = np.zeros(len(names), dtype=np.int64)
    np.add.at(missing, sid, np.where(irregular, 0, d // step[sid] - 1))
    report.mixed_frequency = [names[i] for i in np.nonzero(mixed)[0]]
    report.gaps = {names[i]: int(missing[i]) for i in np.nonzero((missing > 0) & ~mixed)[0]}
    return report


def _step_values(ds: np.ndarray, codes: np.ndarray, n_series: int) -> np.ndarray:
    """Per series: calendar months when every timestamp of the series is a month start (or every
    one a month end), else nanoseconds. ds (N,), codes (N,) -> (N,) int64."""
    d = ds.astype("datetime64[ns]")
    months = d.astype("datetime64[M]")
    day = d.astype("datetime64[D]")
    start = months.astype("datetime64[ns]") == d
    end = ((months + 1).astype("datetime64[D]") - np.timedelta64(1, "D") == day) & (day.astype("datetime64[ns]") == d)
    not_start = np.bincount(codes, weights=~start, minlength=n_series) > 0  # (S,)
    not_end = np.bincount(codes, weights=~end, minlength=n_series) > 0
    monthly = ~not_start | ~not_end  # (S,)
    return np.where(monthly[codes], months.astype(np.int64), d.astype(np.int64))
