"""CSV -> long record batches (unique_id, ds, y[, covariates]), streamed, with bad rows kept aside.

1. :func:`sniff` reads the head of a file (encoding, delimiter, header) and decides the shape and
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

import csv
import io
import posixpath
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

TIME_NAMES = {"ds", "date", "time", "timestamp", "datetime", "month", "period", "week", "day", "dt"}
ID_NAMES = {"unique_id", "series_id", "id", "series", "item_id", "key", "sku", "name"}
VALUE_NAMES = {"y", "value", "target", "values"}
TIME_FORMATS = ("%Y-%m-%d", "%Y-%m", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y/%m/%d", "%m/%d/%Y",
                "%d/%m/%Y", "%d.%m.%Y", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M", "%Y%m%d", "%Y")
NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
NON_FINITE = r"^\s*[-+]?(nan|inf|infinity)\s*$"
HEAD_BYTES = 1 << 20
MAX_BAD_DETAILS = 10_000  # bad rows described one by one per file; all are counted


class FileRejected(ValueError):
    """The whole file cannot be ingested; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class ColumnMapping:
    """What the user told us (each None = infer)."""

    time_col: str | None = None
    value_col: str | None = None
    id_col: str | None = None
    covariates: tuple[str, ...] | None = None
    dayfirst: bool = False


@dataclass
class Layout:
    """What :func:`sniff` decided about a file."""

    name: str
    encoding: str
    delimiter: str
    columns: list[str]
    shape: str  # single | long | wide
    time_col: str
    id_col: str | None
    value_cols: list[str]  # single/long: [value]; wide: one per series
    covariates: list[str] = field(default_factory=list)
    time_format: str | None = None  # strptime format; None = flexible parsing
    decimal_comma: bool = False

    def series_name(self, col: str) -> str:
        return posixpath.splitext(posixpath.basename(self.name))[0] if self.shape == "single" else col


def sniff(head: bytes, name: str, mapping: ColumnMapping = ColumnMapping()) -> Layout:
    """Decide encoding, delimiter, shape, roles and timestamp format from the first bytes of a file."""
    if not head.strip():
        raise FileRejected("empty_file", "the file is empty")
    encoding, text = _decode_head(head, complete=len(head) < HEAD_BYTES)
    text = text.lstrip("\ufeff")
    if len(head) >= HEAD_BYTES:  # keep whole lines only
        text = text[: text.rfind("\n") + 1] or text
    delimiter = _sniff_delimiter(text)
    columns = [c.strip() for c in next(csv.reader(io.StringIO(text), delimiter=delimiter))]
    if len(set(columns)) != len(columns):
        raise FileRejected("duplicate_columns", f"the header repeats column names: {columns}")
    sample = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, nrows=2000,
                         skipinitialspace=True, on_bad_lines="skip")
    sample.columns = columns
    if sample.empty:
        raise FileRejected("header_only", "the file has a header but no data rows")
    tcol = _pick_time(sample, mapping.time_col)
    decimal_comma = delimiter != "," and _decimal_comma(sample.drop(columns=[tcol]))
    numeric = [c for c in columns if c != tcol and _mostly_numeric(sample[c], decimal_comma)]
    icol = _pick_id(sample, mapping.id_col, tcol, numeric)
    if icol is not None:
        vcol = _pick_value(mapping.value_col, [c for c in numeric if c != icol])
        covs = list(mapping.covariates) if mapping.covariates is not None else \
            [c for c in numeric if c not in (icol, vcol)]
        shape, values = "long", [vcol]
    elif mapping.value_col:
        _pick_value(mapping.value_col, numeric)
        shape, values, covs = "single", [mapping.value_col], list(mapping.covariates or [])
    else:
        if not numeric:
            raise FileRejected("no_value_column", f"no numeric value column among {columns}")
        shape, values, covs = ("single" if len(numeric) == 1 else "wide"), numeric, []
    missing = [c for c in covs if c not in columns]
    if missing:
        raise FileRejected("missing_column", f"covariate columns {missing} not in {columns}")
    fmt = _time_format(sample[tcol], mapping.dayfirst)
    return Layout(name, encoding, delimiter, columns, shape, tcol, icol, values, covs, fmt, decimal_comma)


class NeedsCareful(Exception):
    """Raised by the fast path when a block holds anything but clean rows."""


def iter_batches(source: BinaryIO, layout: Layout, block_size: int = 1 << 24, fast: bool = False
                 ) -> Iterator[tuple[pa.Table, list[dict], int]]:
    """Stream ``source`` -> (good rows table, bad row details, number of bad rows) per block.

    ``fast``: let pyarrow type the columns while parsing (as fast as a bare ``read_csv``) and
    raise :class:`NeedsCareful` at the first block that is not entirely clean; the caller then
    re-reads the file in the careful mode (every cell as text, each bad row explained)."""
    malformed: list[dict] = []

    def on_invalid(row) -> str:  # wrong number of fields: quarantine the row, keep reading
        if fast:
            return "error"  # -> ArrowInvalid -> NeedsCareful
        malformed.append({"line": row.number, "column": None, "code": "malformed_row", "raw": row.text,
                          "message": f"{row.actual_columns} fields, expected {row.expected_columns}"})
        return "skip"

    types = {c: pa.string() for c in layout.columns}
    if fast:
        types.update({c: pa.float64() for c in layout.value_cols + layout.covariates})
        types[layout.time_col] = pa.timestamp("ns")
    first_row = 0
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(encoding=layout.encoding, block_size=block_size),
            parse_options=pacsv.ParseOptions(delimiter=layout.delimiter, newlines_in_values=False,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False,
                                                 timestamp_parsers=[layout.time_format or pacsv.ISO8601]),
        )
        for batch in reader:
            table = pa.Table.from_batches([batch]).rename_columns([str(c).strip() for c in batch.schema.names])
            if fast:
                yield _convert_clean(table, layout), [], 0
                continue
            good, details, n_bad = _convert(table, layout, first_row)
            first_row += batch.num_rows + len(malformed)
            yield good, malformed + details, n_bad + len(malformed)
            malformed.clear()
    except pa.ArrowInvalid as exc:
        if fast:
            raise NeedsCareful(str(exc)) from exc
        raise


def can_be_fast(layout: Layout) -> bool:
    fmt = layout.time_format
    return fmt is not None and "%z" not in fmt and not layout.decimal_comma


def _convert_clean(raw: pa.Table, layout: Layout) -> pa.Table:
    """Typed block -> long rows; raises NeedsCareful on any null, NaN, infinity or blank id."""
    ds = raw[layout.time_col]
    if ds.null_count:
        raise NeedsCareful("missing timestamp")
    covs = {c: raw[c] for c in layout.covariates}
    ids = None
    if layout.id_col is not None:
        ids = pc.utf8_trim_whitespace(raw[layout.id_col])
        if pc.any(pc.equal(pc.binary_length(ids), 0)).as_py():
            raise NeedsCareful("missing id")
    for v in [*covs.values(), *(raw[c] for c in layout.value_cols)]:
        if layout.shape != "wide" and v.null_count:
            raise NeedsCareful("missing value")
        if not (pc.all(pc.is_finite(v)).as_py() in (True, None)):
            raise NeedsCareful("non-finite value")
    parts = []
    for col in layout.value_cols:
        uid = ids if ids is not None else pa.array(np.full(raw.num_rows, layout.series_name(col), dtype=object),
                                                   pa.string())
        t = pa.table({"unique_id": uid, "ds": ds, "y": raw[col], **covs})
        parts.append(t.filter(pc.is_valid(t["y"])) if layout.shape == "wide" else t)
    return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


def _convert(raw: pa.Table, layout: Layout, first_row: int) -> tuple[pa.Table, list[dict], int]:
    n = raw.num_rows
    ds = _parse_time(raw[layout.time_col], layout.time_format)
    bad_code = pa.nulls(n, pa.string())
    bad_col = pa.nulls(n, pa.string())
    if ds.null_count:
        blank = _is_blank(raw[layout.time_col])
        bad_code, bad_col = _mark(bad_code, bad_col, blank, "missing_timestamp", layout.time_col)
        bad_code, bad_col = _mark(bad_code, bad_col, pc.is_null(ds), "bad_timestamp", layout.time_col)
    ids = None
    if layout.id_col is not None:
        ids = pc.utf8_trim_whitespace(raw[layout.id_col])
        empty = pc.equal(pc.binary_length(ids), 0)
        if pc.any(empty).as_py():
            bad_code, bad_col = _mark(bad_code, bad_col, empty, "missing_id", layout.id_col)
    covs = {}
    for c in layout.covariates:
        covs[c], codes = _parse_number(raw[c], layout.decimal_comma)
        bad_code, bad_col = _mark_codes(bad_code, bad_col, codes, c)
    parts = []
    for col in layout.value_cols:
        y, codes = _parse_number(raw[col], layout.decimal_comma)
        code_v, col_v = _mark_codes(bad_code, bad_col, codes, col)
        keep = pc.is_null(code_v)
        if layout.shape == "wide":  # a blank cell of a wide file is an absent point, not an error
            blank = pc.fill_null(pc.equal(codes, pa.scalar("missing_value")), False)
            code_v = pc.if_else(blank, pa.scalar(None, pa.string()), code_v)
            keep = pc.and_(keep, pc.invert(blank))
        uid = ids if ids is not None else pa.array(np.full(n, layout.series_name(col), dtype=object), pa.string())
        cols = {"unique_id": uid, "ds": ds, "y": y, **covs, "_bad": code_v, "_col": col_v, "_keep": keep}
        parts.append(pa.table(cols))
    t = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    bad_mask = pc.is_valid(t["_bad"])
    n_bad = int(pc.sum(bad_mask).as_py() or 0)
    details = _details(raw, t, bad_mask, first_row, n, layout) if n_bad else []
    good = t.filter(t["_keep"]).drop_columns(["_bad", "_col", "_keep"])
    return good, details, n_bad


def _details(raw: pa.Table, t: pa.Table, bad_mask, first_row: int, n: int, layout: Layout) -> list[dict]:
    """Bad rows as records (at most MAX_BAD_DETAILS); ``t`` stacks one copy of the block per value column."""
    pos = pc.indices_nonzero(bad_mask).slice(0, MAX_BAD_DETAILS)  # positions in the stacked table
    codes, cols = t["_bad"].take(pos).to_pylist(), t["_col"].take(pos).to_pylist()
    rows = []
    for k, p in enumerate(pos.to_pylist()):
        r = p % n  # row within the block
        rows.append({"line": first_row + r + 2, "column": cols[k], "code": codes[k], "message": MESSAGES[codes[k]],
                     "raw": layout.delimiter.join(str(raw[c][r]) for c in layout.columns)})
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


def _is_blank(text) -> pa.Array:
    return pc.equal(pc.binary_length(pc.utf8_trim_whitespace(text)), 0)


def _parse_number(text: pa.ChunkedArray, decimal_comma: bool) -> tuple[pa.Array, pa.Array]:
    """Text -> (float64 with nulls where bad, reason code per row or null)."""
    if not decimal_comma:  # fast path: a clean block casts in one kernel
        try:
            values = pc.cast(text, pa.float64())
            if values.null_count == 0 and pc.all(pc.is_finite(values)).as_py():
                return values, pa.nulls(len(values), pa.string())
        except pa.ArrowInvalid:
            pass
    t = pc.utf8_trim_whitespace(text)
    if decimal_comma:
        t = pc.replace_substring(pc.replace_substring(t, ".", ""), ",", ".")
    t = pc.replace_substring_regex(t, r'^"|"$', "")
    number = pc.match_substring_regex(t, NUMBER)
    values = pc.cast(pc.if_else(number, t, pa.scalar("0")), pa.float64())
    ok = pc.and_(number, pc.is_finite(values))  # a digit string too long for float64 overflows to inf
    values = pc.if_else(ok, values, pa.scalar(None, pa.float64()))
    code = pc.if_else(ok, pa.scalar(None, pa.string()),
                      pc.if_else(pc.equal(pc.binary_length(t), 0), pa.scalar("missing_value"),
                                 pc.if_else(pc.or_(number, pc.match_substring_regex(t, NON_FINITE, ignore_case=True)),
                                            pa.scalar("non_finite"), pa.scalar("bad_value"))))
    return values, code


def _parse_time(text: pa.ChunkedArray, fmt: str | None) -> pa.Array:
    """Text -> timestamp[ns] (UTC, tz dropped); null where it cannot be parsed."""
    if fmt is not None and not fmt.endswith("%z"):  # fast path: no trimming needed
        out = pc.strptime(text, format=fmt, unit="ns", error_is_null=True)
        if out.null_count == 0:
            return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out
    t = pc.utf8_trim_whitespace(text)
    if fmt is not None and fmt.endswith("%z"):  # +02:00 -> +0200, Z -> +0000
        t = pc.replace_substring_regex(pc.replace_substring_regex(t, r"Z$", "+0000"), r"([+-]\d\d):(\d\d)$", r"\1\2")
    if fmt is not None:
        out = pc.strptime(t, format=fmt, unit="ns", error_is_null=True)
    else:  # no single format fits: flexible (slower) parsing
        parsed = pd.to_datetime(pd.Series(t.to_pandas()), errors="coerce", format="mixed", utc=True)
        out = pa.array(parsed, pa.timestamp("ns", tz="UTC"))
    if isinstance(out, pa.ChunkedArray):
        out = out.combine_chunks()
    if out.type.tz is not None:
        out = out.cast(pa.timestamp("ns", tz="UTC")).cast(pa.timestamp("ns"))
    return out


def _decode_head(head: bytes, complete: bool) -> tuple[str, str]:
    try:
        return "utf-8", head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not complete and exc.start >= len(head) - 3:  # a character cut by the head boundary
            return "utf-8", head[: exc.start].decode("utf-8")
    return "latin-1", head.decode("latin-1")


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def _mostly_numeric(col: pd.Series, decimal_comma: bool, frac: float = 0.5) -> bool:
    s = col.str.strip().str.strip('"')
    s = s[s != ""]
    if s.empty:
        return False
    if decimal_comma:
        s = s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    return bool(s.str.fullmatch(NUMBER[1:-1].replace(r"\s*", "")).mean() >= frac)


def _decimal_comma(sample: pd.DataFrame) -> bool:
    s = sample.stack().str.strip()
    return bool(s.str.fullmatch(r"-?[\d.]*\d,\d+").mean() > 0.3)


def _time_format(col: pd.Series, dayfirst: bool) -> str | None:
    s = col.str.strip()
    s = s[s != ""].head(500)
    formats = [f for f in TIME_FORMATS if not (dayfirst and f.startswith("%m/")) and
               not (not dayfirst and f.startswith("%d/"))]
    best, best_ok = None, 0.0
    for fmt in formats:
        ok = pd.to_datetime(s, format=fmt, errors="coerce", utc="%z" in fmt).notna().mean()
        if ok > best_ok:
            best, best_ok = fmt, ok
    return best if best_ok >= 0.9 else None


def _pick_time(raw: pd.DataFrame, time_col: str | None) -> str:
    if time_col:
        if time_col not in raw.columns:
            raise FileRejected("missing_column", f"time column {time_col!r} not in {list(raw.columns)}")
        return time_col
    named = [c for c in raw.columns if c.lower() in TIME_NAMES]
    if len(named) == 1:
        return named[0]
    parsed = [c for c in raw.columns
              if not raw[c].str.strip().str.fullmatch(r"[-+]?[\d.,]+").all()
              and pd.to_datetime(raw[c].head(50), errors="coerce", format="mixed", utc=True).notna().mean() >= 0.9]
    if len(parsed) == 1:
        return parsed[0]
    cands = named or parsed
    raise FileRejected("ambiguous_time" if cands else "no_time_column",
                       f"cannot tell the timestamp column (candidates: {cands or 'none'}); set --time-col")


def _pick_id(raw: pd.DataFrame, id_col: str | None, tcol: str, numeric: list[str]) -> str | None:
    if id_col:
        if id_col not in raw.columns:
            raise FileRejected("missing_column", f"id column {id_col!r} not in {list(raw.columns)}")
        return id_col
    named = [c for c in raw.columns if c.lower() in ID_NAMES and c != tcol]
    if len(named) == 1:
        return named[0]
    text = [c for c in raw.columns if c != tcol and c not in numeric]
    if len(text) == 1:
        return text[0]
    if len(text) > 1:
        raise FileRejected("ambiguous_id", f"several text columns could be the series id: {text}; set --id-col")
    return None


def _pick_value(value_col: str | None, cands: list[str]) -> str:
    if value_col:
        if value_col not in cands:
            raise FileRejected("missing_column", f"value column {value_col!r} is not a numeric column of {cands}")
        return value_col
    named = [c for c in cands if c.lower() in VALUE_NAMES]
    if len(named) == 1:
        return named[0]
    if len(cands) == 1:
        return cands[0]
    raise FileRejected("ambiguous_value" if cands else "no_value_column",
                       f"cannot tell the value column (candidates: {cands or 'none'}); set --value-col")


@dataclass
class ParsedFile:
    """A whole (small) file parsed in memory: good rows sorted, duplicates resolved (keep last)."""

    frame: pd.DataFrame  # unique_id, ds, y[, covariates]
    shape: str
    bad_rows: list[dict] = field(default_factory=list)
    duplicates: int = 0


def parse_csv(payload: bytes, name: str, time_col: str | None = None, value_col: str | None = None,
              id_col: str | None = None, dayfirst: bool = False) -> ParsedFile:
    """Parse an in-memory file (the streaming path, collected)."""
    layout = sniff(payload[:HEAD_BYTES], name, ColumnMapping(time_col, value_col, id_col, dayfirst=dayfirst))
    tables, bad = [], []
    for good, details, _ in iter_batches(io.BytesIO(payload), layout):
        tables.append(good)
        bad += details
    df = pa.concat_tables(tables).to_pandas() if tables else pd.DataFrame(columns=["unique_id", "ds", "y"])
    n = len(df)
    df = df.drop_duplicates(["unique_id", "ds"], keep="last").sort_values(["unique_id", "ds"], kind="stable")
    return ParsedFile(df.reset_index(drop=True), layout.shape, bad, duplicates=n - len(df))
