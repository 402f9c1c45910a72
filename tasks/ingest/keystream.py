"""Key checks over a file streamed block by block: duplicates, order, frequency, gaps.

Memory is O(series), not O(rows). Each block is checked on its own (sorted by series and time
only when it is not already) and folded into a small state per series: smallest and largest
timestamp, rows, distinct timestamps, smallest step and the gcd of the steps (in nanoseconds and
in calendar months), and whether every timestamp is a month start / a month end. This gives the
answers of :func:`tasks.ingest.checks.check_keys` over the whole file: a series is regular iff the gcd
of its steps equals its smallest step, and then it misses (last - first) / step - (distinct - 1)
steps.

The fold needs each series to move forward in time from one block to the next (files sorted by
series, by time, wide files). When a series goes back in time across blocks, :meth:`KeyStream.finish`
redoes the exact checks on the rows just written, spilled to a temporary folder in hash buckets
of series and checked one bucket at a time (memory bounded by the bucket, not by the file).
"""

from __future__ import annotations

import math
import tempfile
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tasks.ingest.checks import KeyReport, check_keys

BIG = np.iinfo(np.int64).max
DAY = 86_400 * 10**9
KEY_SCHEMA = pa.schema([("unique_id", pa.string()), ("ds", pa.timestamp("ns"))])
# per-series state: name -> (dtype, initial value)
_STATE = {
    "lo": (np.int64, BIG),
    "hi": (np.int64, -BIG),
    "rows": (np.int64, 0),
    "distinct": (np.int64, 0),
    "min_ns": (np.int64, BIG),
    "gcd_ns": (np.int64, 0),
    "min_m": (np.int64, BIG),
    "gcd_m": (np.int64, 0),
    "start": (bool, True),
    "end": (bool, True),
}


def _days(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(N,) ns -> (N,) day index into the table, (D+1,) calendar months of the days the values
    span (one past the last), first day."""
    day = t // DAY  # (N,) days since the epoch (floor)
    lo = int(day.min())
    days = np.arange(lo, int(day.max()) + 2).astype("datetime64[D]")
    return day - lo, days.astype("datetime64[M]"), lo


def _months(t: np.ndarray) -> np.ndarray:
    """(N,) ns -> (N,) calendar month index."""
    k, month, _ = _days(t)
    return month.view(np.int64)[k]


def _month_edges(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N,) ns -> (N,) month index table positions, is a month start, is a month end (at midnight);
    calendar arithmetic runs on a table of the days spanned, gathered per row as one code."""
    k, month, lo = _days(t)
    first = month.astype("datetime64[D]").view(np.int64) == np.arange(lo, lo + len(month))  # (D+1,)
    edge = first.astype(np.int8) + np.r_[first[1:], False].astype(np.int8) * 2  # 1 start, 2 end
    code = edge[k] * (t == (k + lo) * DAY)  # (N,) 0 unless at midnight
    return k, code == 1, code == 2


class KeyStream:
    """Feed the (unique_id, ds) of each block in file order with :meth:`add`, then :meth:`finish`."""

    def __init__(self, bucket_rows: int = 1_000_000) -> None:
        self.bucket_rows = bucket_rows  # rows per spill bucket when the fold does not apply
        self.rows = 0
        self.duplicates = 0
        self.sorted_input = True
        self.monotone = True  # every series moved forward in time across blocks
        self._names: list[pa.Array] = []  # series in order of first appearance (= their code)
        self._known: pa.Array = pa.array([], pa.string())
        self._n = 0
        self._state = {k: np.full(0, v, dtype=dt) for k, (dt, v) in _STATE.items()}
        self._tail: tuple[int, int] | None = None  # (code, ns) of the last row seen

    @property
    def series(self) -> int:
        return self._n

    def _codes(self, ids: pa.Array) -> np.ndarray:
        """(N,) int64 codes numbering series by first appearance in the file."""
        n = len(ids)
        if n > 1:  # runs of one id (the common case) are found by comparing neighbours
            heads = np.flatnonzero(
                np.r_[True, pc.not_equal(ids.slice(1), ids.slice(0, n - 1)).to_numpy(zero_copy_only=False)]
            )  # (R,) first row of each run
            if len(heads) <= n // 4:
                lengths = np.diff(np.r_[heads, n])
                return np.repeat(self._codes(ids.take(pa.array(heads))), lengths)
        enc = pc.dictionary_encode(ids)
        names = enc.dictionary
        known = pc.index_in(names, value_set=self._known).to_numpy(zero_copy_only=False)  # (U,) float, NaN = new
        new = np.isnan(known)
        glob = np.where(new, 0, known).astype(np.int64)
        if new.any():
            glob[new] = self._n + np.arange(int(new.sum()))
            added = names.filter(pa.array(new))
            self._names.append(added)
            self._known = pa.concat_arrays([self._known, added])
            self._grow(self._n + len(added))
        return glob[np.asarray(enc.indices)]

    def _grow(self, n: int) -> None:
        self._n = n
        cap = len(self._state["lo"])
        if n > cap:
            size = max(n, 2 * cap, 1024)
            for k, (dt, v) in _STATE.items():
                grown = np.full(size, v, dtype=dt)
                grown[:cap] = self._state[k]
                self._state[k] = grown

    def add(self, unique_id: pa.Array | pa.ChunkedArray, ds: pa.Array | pa.ChunkedArray) -> None:
        """One block: ``unique_id`` (N,) strings, ``ds`` (N,) timestamps, in file order."""
        n = len(ds)
        if n == 0:
            return
        if isinstance(unique_id, pa.ChunkedArray):
            unique_id = unique_id.combine_chunks()
        c = self._codes(unique_id)  # (N,)
        t = np.asarray(pc.cast(ds, pa.timestamp("ns")).cast(pa.int64()).to_numpy(zero_copy_only=False))  # (N,)
        # order in the file: grouped by series (codes never go down) and forward in time within one
        step_ok = (c[1:] > c[:-1]) | ((c[1:] == c[:-1]) & (t[1:] >= t[:-1]))  # (N-1,)
        block_sorted = bool(step_ok.all())
        if self._tail is not None:
            pc_, pt = self._tail
            self.sorted_input &= bool(c[0] > pc_ or (c[0] == pc_ and t[0] >= pt))
        self.sorted_input &= block_sorted
        self._tail = (int(c[-1]), int(t[-1]))
        self.rows += n
        if not block_sorted:
            order = np.lexsort((t, c))  # (N,) by series, then time
            c, t = c[order], t[order]
        self._fold(c, t)

    def _fold(self, c: np.ndarray, t: np.ndarray) -> None:
        """Fold a block sorted by (code, ns) into the per-series state."""
        n = len(c)
        same = c[1:] == c[:-1]  # (N-1,)
        eq = same & (t[1:] == t[:-1])
        use = np.r_[False, same & ~eq]  # (N,) a step from the previous distinct time of the series
        seg = np.flatnonzero(np.r_[True, ~same])  # (S,) first row of each series in the block
        sc = c[seg]  # (S,) codes, each once
        first, last = t[seg], t[np.r_[seg[1:], n] - 1]
        k, start, end = _month_edges(t)
        seg_start, seg_end = np.logical_and.reduceat(start, seg), np.logical_and.reduceat(end, seg)
        st = self._state
        # calendar-month steps only matter for series whose every timestamp so far is a month start/end
        monthly = bool(np.any((seg_start & st["start"][sc]) | (seg_end & st["end"][sc])))
        d = np.empty(n, np.int64)
        d[0], d[1:] = 0, t[1:] - t[:-1]
        seen = st["rows"][sc] > 0
        prev = st["hi"][sc]
        if self.monotone and bool(np.any(seen & (first < prev))):
            self.monotone = False  # exact checks are redone at the end (finish)
        if self.monotone:
            self.duplicates += int(eq.sum())
            cross_eq = seen & (first == prev)
            cross = seen & (first > prev)
            self.duplicates += int(cross_eq.sum())
            cd = np.where(cross, first - prev, 0)  # (S,) step across the block boundary
            st["distinct"][sc] += np.add.reduceat(np.r_[True, ~eq], seg) - cross_eq
            st["min_ns"][sc] = np.minimum(
                st["min_ns"][sc], np.minimum(np.minimum.reduceat(np.where(use, d, BIG), seg), np.where(cross, cd, BIG))
            )
            st["gcd_ns"][sc] = np.gcd(st["gcd_ns"][sc], np.gcd(np.gcd.reduceat(np.where(use, d, 0), seg), cd))
            if monthly:
                m = _days(t)[1].view(np.int64)[k]  # (N,) calendar months
                dm = np.empty(n, np.int64)
                dm[0], dm[1:] = 0, m[1:] - m[:-1]
                cdm = np.where(cross, m[seg] - _months(np.where(seen, prev, first)), 0)
                st["min_m"][sc] = np.minimum(
                    st["min_m"][sc],
                    np.minimum(np.minimum.reduceat(np.where(use, dm, BIG), seg), np.where(cross, cdm, BIG)),
                )
                st["gcd_m"][sc] = np.gcd(st["gcd_m"][sc], np.gcd(np.gcd.reduceat(np.where(use, dm, 0), seg), cdm))
        st["lo"][sc] = np.minimum(st["lo"][sc], first)
        st["hi"][sc] = np.maximum(prev, last)
        st["rows"][sc] += np.diff(np.r_[seg, n])
        st["start"][sc] &= seg_start
        st["end"][sc] &= seg_end

    def finish(self, rescan: Callable[[], Iterable[pa.RecordBatch]] | None = None) -> KeyReport:
        """The report over every block added. ``rescan`` yields the rows again (unique_id, ds), in
        any order; it is read only when a series went back in time across blocks."""
        k = self._n
        st = {name: a[:k] for name, a in self._state.items()}
        names = pa.concat_arrays(self._names) if self._names else pa.array([], pa.string())
        ranges = pd.DataFrame(
            {
                "unique_id": names.to_numpy(zero_copy_only=False).astype(object),
                "first": st["lo"].view("datetime64[ns]"),
                "last": st["hi"].view("datetime64[ns]"),
            }
        )
        report = KeyReport(
            rows=self.rows, series=k, duplicates=self.duplicates, sorted_input=self.sorted_input, ranges=ranges
        )
        if not self.monotone:
            if rescan is None:
                raise ValueError("a series went back in time across blocks: the rows must be read again")
            return _bucketed(report, names, rescan(), self.bucket_rows)
        monthly = st["start"] | st["end"]  # (K,)
        step = np.where(monthly, st["min_m"], st["min_ns"])
        gcd = np.where(monthly, st["gcd_m"], st["gcd_ns"])
        has = gcd > 0  # at least two distinct timestamps
        mixed = has & (gcd != step)
        if k:
            span = np.where(monthly, _months(st["hi"]) - _months(st["lo"]), st["hi"] - st["lo"])
        else:
            span = np.zeros(0, np.int64)
        missing = np.where(has & ~mixed, span // np.where(has, step, 1) - (st["distinct"] - 1), 0)
        py = names.to_pylist()
        report.mixed_frequency = [py[i] for i in np.flatnonzero(mixed)]
        report.mixed_rows = int(st["rows"][mixed].sum())
        report.gaps = {py[i]: int(missing[i]) for i in np.flatnonzero(missing > 0)}
        return report


def _bucket_of(ids: pa.Array, buckets: int) -> np.ndarray:
    """(N,) bucket of each row's series (a hash of the id: every row of a series in one bucket)."""
    enc = pc.dictionary_encode(ids)
    of = np.fromiter(
        (zlib.crc32(s.encode()) % buckets for s in enc.dictionary.to_pylist()), np.int64, count=len(enc.dictionary)
    )
    return of[np.asarray(enc.indices)]


def _bucketed(report: KeyReport, names: pa.Array, batches: Iterable[pa.RecordBatch], bucket_rows: int) -> KeyReport:
    """Exact duplicates, frequency and gaps for files whose series go back in time across blocks:
    rows spilled to hash buckets of series (every row of a series in one bucket), checked one at a
    time. The answers depend on each series' set of rows, not on their order."""
    buckets = max(1, math.ceil(report.rows / max(1, bucket_rows)))
    report.duplicates, report.mixed_rows = 0, 0
    mixed: list[str] = []
    gaps: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="keys-") as tmp:
        paths = [Path(tmp) / f"{b}.arrow" for b in range(buckets)]
        sinks = [pa.ipc.new_file(str(p), KEY_SCHEMA) for p in paths]
        try:
            for batch in batches:
                ids = batch.column("unique_id")
                keys = pa.record_batch([ids, pc.cast(batch.column("ds"), pa.timestamp("ns"))], schema=KEY_SCHEMA)
                b = _bucket_of(ids, buckets)
                order = np.argsort(b, kind="stable")  # (N,) rows by bucket
                bounds = np.searchsorted(b[order], np.arange(buckets + 1))
                ordered = keys.take(pa.array(order))
                for i in range(buckets):
                    if bounds[i + 1] > bounds[i]:
                        sinks[i].write_batch(ordered.slice(bounds[i], bounds[i + 1] - bounds[i]))
        finally:
            for s in sinks:
                s.close()
        for p in paths:
            with pa.memory_map(str(p)) as src:
                t = pa.ipc.open_file(src).read_all()
            if t.num_rows == 0:
                continue
            r = check_keys(t["unique_id"], t["ds"].to_numpy())
            report.duplicates += r.duplicates
            report.mixed_rows += r.mixed_rows
            mixed += r.mixed_frequency
            gaps.update(r.gaps)
            del t
    order = {name: i for i, name in enumerate(names.to_pylist())}  # first appearance in the file
    report.mixed_frequency = sorted(mixed, key=order.__getitem__)
    report.gaps = dict(sorted(gaps.items(), key=lambda kv: order[kv[0]]))
    return report
