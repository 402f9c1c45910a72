"""CSV -> long record batches (unique_id, ds, y[, covariates]), streamed, with bad rows kept aside.

1. :func:`tasks.ingest.sniff.sniff` reads the head of a file (encoding, delimiter, header) and decides the shape and
   column roles: single series (a time column, one value column), long (id, time, value[,
   covariates]) or wide (a time column, one value column per series), and the timestamp format.
2. :func:`iter_batches` streams the file through pyarrow's CSV reader (every column as text, so
   one bad cell never fails a block) and converts each block with vectorised kernels. Each block
   yields the good rows and the bad ones: line, column, reason code, message, raw fields.

Line numbers count the header as line 1 and one line per record (exact for files without blank
lines, line breaks inside quoted fields or malformed rows earlier in the same block; a malformed
row itself, with the wrong number of fields, is reported by its text).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from tasks.ingest.dateparts import joined
from tasks.ingest.header import NUMBER
from tasks.ingest.months import in_english, month_offsets
from tasks.ingest.sniff import CURRENCY, MINUS, NA_TOKENS, NON_FINITE, PARENS, PERCENT, SPACED, THOUSANDS, Layout
from tasks.ingest.timestamps import SPECIAL_FORMATS, flexible, parse_with

MAX_BAD_DETAILS = 10_000  # bad rows described one by one per file; all are counted


class NeedsCareful(Exception):
    """Raised by the fast path when a block holds anything but clean rows."""


def iter_batches(
    source: BinaryIO, layout: Layout, block_size: int = 1 << 24, fast: bool = False
) -> Iterator[tuple[pa.Table, list[dict], int, int]]:
    """Stream ``source`` -> (good rows table, bad row details, number of bad rows, how many of those
    only lack their value: a blank cell or ``n/a``, a point known missing) per block.

    ``fast``: let pyarrow type the columns while parsing (as fast as a bare ``read_csv``) and
    raise :class:`NeedsCareful` at the first block that is not entirely clean; the caller then
    re-reads the file in the careful mode (every cell as text, each bad row explained)."""
    malformed: list[dict] = []

    def on_invalid(row) -> str:  # wrong number of fields: quarantine the row, keep reading
        if fast:
            return "error"  # -> ArrowInvalid -> NeedsCareful
        malformed.append(
            {
                "line": row.number,
                "column": None,
                "code": "malformed_row",
                "raw": row.text,
                "message": f"{row.actual_columns} fields, expected {row.expected_columns}",
            }
        )
        return "skip"

    types = {c: pa.string() for c in layout.columns}
    if fast:
        types.update({c: pa.float64() for c in layout.value_cols + layout.covariates})
        types[layout.time_col] = pa.timestamp("ns")
    first_row = 0
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(
                encoding=layout.encoding,
                block_size=block_size,
                column_names=layout.columns if layout.named or not layout.header else None,
                skip_rows=layout.preamble + (layout.header and layout.named),  # a renamed header: skipped
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=layout.delimiter, newlines_in_values=False, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                timestamp_parsers=[layout.time_format if fast and layout.time_format else pacsv.ISO8601],
            ),
        )
        for batch in reader:
            table = pa.Table.from_batches([batch]).rename_columns([str(c).strip() for c in batch.schema.names])
            if fast:
                yield _convert_clean(table, layout), [], 0, 0
                continue
            good, details, n_bad, n_missing = _convert(table, layout, first_row)
            first_row += batch.num_rows + len(malformed)
            yield good, malformed + details, n_bad + len(malformed), n_missing
            malformed.clear()
    except pa.ArrowInvalid as exc:
        if fast:
            raise NeedsCareful(str(exc)) from exc
        raise


def can_be_fast(layout: Layout) -> bool:
    fmt = layout.time_format
    return (
        fmt is not None
        and layout.shape not in ("by_date", "calendar", "calendar_rows")
        and "%z" not in fmt
        and fmt not in SPECIAL_FORMATS
        and not layout.decimal_comma
        and layout.clock_col is None
        and not layout.date_parts
    )


def _convert_clean(raw: pa.Table, layout: Layout) -> pa.Table:
    """Typed block -> long rows; raises NeedsCareful on any null, NaN, infinity or blank id."""
    ds = raw[layout.time_col]
    if ds.null_count:
        raise NeedsCareful("missing timestamp")
    covs = {c: raw[c] for c in layout.covariates}
    ids = None
    if layout.id_col is not None:
        ids = _ids(raw, layout)
        if pc.any(pc.equal(pc.binary_length(ids), 0)).as_py():
            raise NeedsCareful("missing id")
    for v in [*covs.values(), *(raw[c] for c in layout.value_cols)]:
        if layout.shape != "wide" and v.null_count:
            raise NeedsCareful("missing value")
        if pc.all(pc.is_finite(v)).as_py() not in (True, None):
            raise NeedsCareful("non-finite value")
    parts = []
    for col in layout.value_cols:
        uid = (
            ids
            if ids is not None
            else pa.array(np.full(raw.num_rows, layout.series_name(col), dtype=object), pa.string())
        )
        t = pa.table({"unique_id": uid, "ds": ds, "y": raw[col], **covs})
        parts.append(t.filter(pc.is_valid(t["y"])) if layout.shape == "wide" else t)
    return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


def _convert(raw: pa.Table, layout: Layout, first_row: int) -> tuple[pa.Table, list[dict], int, int]:
    n = raw.num_rows
    bad_code = pa.nulls(n, pa.string())
    bad_col = pa.nulls(n, pa.string())
    ds = _timestamps(raw, layout)  # None: one column per timestamp
    if ds is not None and ds.null_count:
        blank = _is_blank(raw[layout.time_col])
        bad_code, bad_col = _mark(bad_code, bad_col, blank, "missing_timestamp", layout.time_col)
        bad_code, bad_col = _mark(bad_code, bad_col, pc.is_null(ds), "bad_timestamp", layout.time_col)
    ids = None
    if layout.id_col is not None:
        ids = _ids(raw, layout)
        empty = pc.equal(pc.binary_length(ids), 0)
        if pc.any(empty).as_py():
            bad_code, bad_col = _mark(bad_code, bad_col, empty, "missing_id", layout.id_col)
    covs = {}
    for c in layout.covariates:
        covs[c], codes = parse_numbers(raw[c], layout.decimal_comma)
        bad_code, bad_col = _mark_codes(bad_code, bad_col, codes, c)
    parts = []
    for col in layout.value_cols:
        y, codes = parse_numbers(raw[col], layout.decimal_comma)
        code_v, col_v = _mark_codes(bad_code, bad_col, codes, col)
        keep = pc.is_null(code_v)
        if layout.shape in ("wide", "by_date", "calendar", "calendar_rows"):  # a blank cell: an absent point
            blank = pc.fill_null(pc.equal(codes, pa.scalar("missing_value")), False)
            code_v = pc.if_else(blank, pa.scalar(None, pa.string()), code_v)
            keep = pc.and_(keep, pc.invert(blank))
        uid = ids if ids is not None else pa.array(np.full(n, layout.series_name(col), dtype=object), pa.string())
        when = ds if ds is not None else pa.array(np.full(n, np.datetime64(layout.column_dates[col], "ns")))
        if layout.shape == "calendar":  # the row's year, the column's month
            when = _plus_months(ds, layout.column_months[col])
        if layout.shape == "calendar_rows":  # the column's year, the row's month (ds: in 1970)
            when = _plus_months(ds, 12 * (int(layout.column_dates[col][:4]) - 1970))
        cols = {"unique_id": uid, "ds": when, "y": y, **covs, "_bad": code_v, "_col": col_v, "_keep": keep}
        parts.append(pa.table(cols))
    t = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    empty = np.logical_and.reduce([_is_blank(raw[c]).to_numpy(zero_copy_only=False) for c in raw.column_names])  # (n,)
    if empty.any():  # a row of nothing but delimiters (a spreadsheet's blank row): skipped, as a blank line is
        stacked = pa.array(np.tile(empty, len(parts)))
        t = t.set_column(
            t.schema.get_field_index("_bad"), "_bad", pc.if_else(stacked, pa.scalar(None, pa.string()), t["_bad"])
        )
        t = t.set_column(t.schema.get_field_index("_keep"), "_keep", pc.and_(t["_keep"], pc.invert(stacked)))
    bad_mask = pc.is_valid(t["_bad"])
    n_bad = int(pc.sum(bad_mask).as_py() or 0)
    n_missing = int(pc.sum(pc.equal(t["_bad"], pa.scalar("missing_value"))).as_py() or 0)
    details = _details(raw, t, bad_mask, first_row, n, layout) if n_bad else []
    if ds is None or layout.shape == "calendar":  # row by row, in the file's order of columns: in time
        t = t.take(pa.array((np.arange(len(layout.value_cols))[None, :] * n + np.arange(n)[:, None]).ravel()))
    good = t.filter(t["_keep"]).drop_columns(["_bad", "_col", "_keep"])
    return good, details, n_bad, n_missing


def _plus_months(ds: pa.Array, months: int) -> pa.Array:
    t = ds.to_numpy(zero_copy_only=False).astype("datetime64[M]")  # (n,) NaT stays NaT
    return pa.array((t + months).astype("datetime64[ns]"), pa.timestamp("ns"), from_pandas=True)


def _timestamps(raw: pa.Table, layout: Layout) -> pa.Array | None:
    """The block's timestamps (the date and the time of day joined, where they are two columns);
    None for a file with one column per timestamp."""
    if layout.shape == "by_date":
        return None
    if layout.shape == "calendar_rows":  # the row's month, in 1970: its column gives the year
        months = month_offsets(pd.Series(raw[layout.time_col].to_pandas())).to_numpy()  # (n,) NaN: no month
        stamps = np.datetime64("1970-01", "M") + np.where(np.isnan(months), 0, months).astype(int)
        return pa.array(
            np.where(np.isnan(months), np.datetime64("NaT"), stamps.astype("datetime64[ns]")),
            pa.timestamp("ns"),
            from_pandas=True,
        )
    stamp = raw[layout.time_col]
    if layout.date_parts:  # 2020 | 1 (| 31) -> 2020-01(-31)
        parts = [raw[c].to_pandas() for c in layout.date_parts]
        stamp = pa.array(joined(stamp.to_pandas(), parts, layout.date_parts), pa.string())
    if layout.clock_col is not None:
        stamp = pc.binary_join_element_wise(
            pc.utf8_trim_whitespace(stamp), pc.utf8_trim_whitespace(raw[layout.clock_col]), " "
        )
    return _parse_time(stamp, layout.time_format)


def _details(raw: pa.Table, t: pa.Table, bad_mask, first_row: int, n: int, layout: Layout) -> list[dict]:
    """Bad rows as records (at most MAX_BAD_DETAILS); ``t`` stacks one copy of the block per value column."""
    pos = pc.indices_nonzero(bad_mask).slice(0, MAX_BAD_DETAILS)  # positions in the stacked table
    codes, cols = t["_bad"].take(pos).to_pylist(), t["_col"].take(pos).to_pylist()
    rows = []
    for k, p in enumerate(pos.to_pylist()):
        r = p % n  # row within the block
        rows.append(
            {
                "line": first_row + r + 1 + layout.header + layout.preamble,  # from 1, after the header
                "column": cols[k],
                "code": codes[k],
                "message": MESSAGES[codes[k]],
                "raw": layout.delimiter.join(str(raw[c][r]) for c in layout.columns),
            }
        )
    return rows


MESSAGES = {
    "missing_timestamp": "the timestamp is empty",
    "bad_timestamp": "cannot parse the timestamp",
    "missing_id": "the series id is empty",
    "missing_value": "the value is empty",
    "non_finite": "the value is NaN or infinite, or too large for float64",
    "bad_value": "the value is not a number",
}


def _mark(code: pa.Array, col: pa.Array, mask, name: str, column: str) -> tuple[pa.Array, pa.Array]:
    """Record ``name`` where ``mask`` is true and no earlier reason was recorded."""
    hit = pc.and_(pc.fill_null(mask, False), pc.is_null(code))
    return (pc.if_else(hit, pa.scalar(name), code), pc.if_else(hit, pa.scalar(column), col))


def _mark_codes(code: pa.Array, col: pa.Array, codes: pa.Array, column: str) -> tuple[pa.Array, pa.Array]:
    hit = pc.and_(pc.is_valid(codes), pc.is_null(code))
    return pc.if_else(hit, codes, code), pc.if_else(hit, pa.scalar(column), col)


def _ids(raw: pa.Table, layout: Layout) -> pa.Array:
    """The series id of each row: the id column, or the id columns joined by "_" (empty when one is)."""
    parts = [pc.utf8_trim_whitespace(raw[c]) for c in [layout.id_col, *layout.more_id_cols]]
    if len(parts) == 1:
        return parts[0]
    empty = pc.or_(*[pc.equal(pc.binary_length(p), 0) for p in parts[:2]])
    for p in parts[2:]:
        empty = pc.or_(empty, pc.equal(pc.binary_length(p), 0))
    return pc.if_else(empty, pa.scalar(""), pc.binary_join_element_wise(*parts, "_"))


def _is_blank(text) -> pa.Array:
    return pc.equal(pc.binary_length(pc.utf8_trim_whitespace(text)), 0)


def parse_numbers(text: pa.ChunkedArray, decimal_comma: bool) -> tuple[pa.Array, pa.Array]:
    """Text -> (float64 with nulls where bad, reason code per row or null)."""
    if not decimal_comma:  # fast path: a clean block casts in one kernel
        try:
            values = pc.cast(text, pa.float64())
            if values.null_count == 0 and pc.all(pc.is_finite(values)).as_py():
                return values, pa.nulls(len(values), pa.string())
        except pa.ArrowInvalid:
            pass
    t = pc.replace_substring_regex(pc.utf8_trim_whitespace(text), r'^"|"$', "")
    t = pc.if_else(pc.is_in(pc.utf8_lower(t), value_set=pa.array(NA_TOKENS)), pa.scalar(""), t)  # #N/A, null
    t = pc.replace_substring_regex(pc.replace_substring(t, MINUS, "-"), PARENS, r"-\1")
    t = pc.replace_substring_regex(t, CURRENCY, r"\1")
    t = pc.replace_substring_regex(t, PERCENT, "")
    for _ in range(2):  # 1 234 567: each pass joins every other group
        t = pc.replace_substring_regex(t, SPACED, r"\1\2")
    t = pc.if_else(pc.match_substring_regex(t, "^(?i:true)$"), pa.scalar("1"), t)  # a flag
    t = pc.if_else(pc.match_substring_regex(t, "^(?i:false)$"), pa.scalar("0"), t)
    if decimal_comma:
        t = pc.replace_substring(pc.replace_substring(t, ".", ""), ",", ".")
    if not decimal_comma:  # 1,234.5 -> 1234.5
        t = pc.if_else(pc.match_substring_regex(t, THOUSANDS), pc.replace_substring(t, ",", ""), t)
    number = pc.match_substring_regex(t, NUMBER)
    values = pc.cast(pc.if_else(number, t, pa.scalar("0")), pa.float64())
    ok = pc.and_(number, pc.is_finite(values))  # a digit string too long for float64 overflows to inf
    values = pc.if_else(ok, values, pa.scalar(None, pa.float64()))
    code = pc.if_else(
        ok,
        pa.scalar(None, pa.string()),
        pc.if_else(
            pc.equal(pc.binary_length(t), 0),
            pa.scalar("missing_value"),
            pc.if_else(
                pc.or_(number, pc.match_substring_regex(t, NON_FINITE, ignore_case=True)),
                pa.scalar("non_finite"),
                pa.scalar("bad_value"),
            ),
        ),
    )
    return values, code


def _parse_time(text: pa.ChunkedArray, fmt: str | None) -> pa.Array:
    """Text -> timestamp[ns] (UTC, tz dropped); null where it cannot be parsed."""
    if fmt in SPECIAL_FORMATS:  # ISO weeks, quarters, spreadsheet serials, Unix time: read by pandas
        return pa.array(parse_with(pd.Series(text.to_pandas()), fmt).astype("datetime64[ns]"), pa.timestamp("ns"))
    if fmt is not None and not fmt.endswith("%z"):  # fast path: no trimming needed
        out = pc.strptime(text, format=fmt, unit="ns", error_is_null=True)
        if out.null_count == 0:
            return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out
    t = pc.utf8_trim_whitespace(text)
    if fmt is not None and ("%b" in fmt or "%B" in fmt):  # janv.-20, März 2021: the English names
        t = pa.array(in_english(pd.Series(t.to_pandas(), dtype="string")), pa.string())
    if fmt is not None and fmt.endswith("%z"):  # +02:00 -> +0200, Z -> +0000
        t = pc.replace_substring_regex(pc.replace_substring_regex(t, r"Z$", "+0000"), r"([+-]\d\d):(\d\d)$", r"\1\2")
    day_end = pc.match_substring_regex(t, r"[ T]24:00(:00)?$")  # hour-ending data: 24:00 ends the day
    any_day_end = bool(pc.any(day_end).as_py())
    if any_day_end:
        t = pc.replace_substring_regex(t, r"([ T])24:00", r"\100:00")  # \1 (one digit: the group), then 00:00
    if fmt is not None:
        out = pc.strptime(t, format=fmt, unit="ns", error_is_null=True)
    else:  # no single format fits: flexible (slower) parsing
        out = pa.array(flexible(pd.Series(t.to_pandas())).astype("datetime64[ns, UTC]"), pa.timestamp("ns", tz="UTC"))
    if isinstance(out, pa.ChunkedArray):
        out = out.combine_chunks()
    if out.type.tz is not None:
        out = out.cast(pa.timestamp("ns", tz="UTC")).cast(pa.timestamp("ns"))
    if any_day_end:  # ... and is the next day's midnight
        out = pc.if_else(day_end, pc.add(out, pa.scalar(86_400 * 10**9, pa.duration("ns"))), out)
    return out
