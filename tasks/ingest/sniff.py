"""The head of a CSV file -> its :class:`Layout`: encoding, delimiter, header, the shape (single
series, long or wide), the role of each column and the timestamp format."""

from __future__ import annotations

import csv
import io
import posixpath
import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from tasks.ingest.dateparts import date_parts, joined
from tasks.ingest.header import (
    NUMBER,
    decode_head,
    is_data,
    lines_of,
    preamble_lines,
    role_names,
    sniff_delimiter,
    stacked_header,
)
from tasks.ingest.months import calendar_columns, month_offsets, year_columns
from tasks.ingest.timestamps import (
    FISCAL_YEAR,
    QUARTER_NAMES,
    QUARTER_NUMBER,
    TIME_NAMES,
    date_and_clock,
    dated_columns,
    looks_like_time,
    parse_with,
    time_format,
)
from tasks.ingest.unnamed import describes_points, mostly_empty, name_unnamed, row_index

ID_NAMES = {"unique_id", "series_id", "id", "series", "item_id", "key", "sku", "name"}
VALUE_NAMES = {"y", "value", "target", "values"}
THOUSANDS = r"^\s*[-+]?\d{1,3}(,\d{3})+(\.\d+)?\s*$"  # 1,234.5: a comma-delimited file quotes it
NON_FINITE = r"^\s*[-+]?(nan|inf|infinity)\s*$"
CURRENCY = r"^([-+]?)\s*[$€£¥]\s*"  # $1,234.50, -€5: the sign kept, the symbol dropped
PERCENT = r"\s*%$"  # 5.3%: read as 5.3
BOOLEAN = r"(?i)true|false"  # a flag: 1 / 0
PARENS = r"^\((.*)\)$"  # (1,234.00): an accountant's negative
SPACED = "(\\d)[ \u00a0\u202f'\u2019](\\d\\d\\d)"  # 1 234,5, 1'234.5: a space (a no-break one, an apostrophe) between thousands
MINUS = "\u2212"  # the typographic minus sign a report or a web page writes: read as "-"
NA_TOKENS = ("na", "n/a", "n.a.", "#n/a", "null", "none", "-", "--", "\u2014", "?")
NA_TOKENS += (".", "..", "...")  # not available, as statistics offices and statistics packages mark it
NA_TOKENS += ("#value!", "#div/0!", "#ref!", "#num!")  # a spreadsheet's errors
ID_WORDS = re.compile(
    r"(?i)^(store|shop|item|product|dept|department|sku|location|site|region|customer|warehouse|branch|outlet)s?$"
    r"|(^|[_ .])(id|no|nr|num|number|code|key)$"
)
ID_CAMEL = re.compile(r"[a-z](Id|ID|No|Nr)$")  # storeId, itemNo (case matters: not "paid", "casino")
HEAD_BYTES = 1 << 20


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
    shape: str  # single | long | wide | by_date (one row per series, one column per timestamp)
    time_col: str
    id_col: str | None
    value_cols: list[str]  # single/long: [value]; wide: one per series
    covariates: list[str] = field(default_factory=list)
    time_format: str | None = None  # strptime format; None = flexible parsing
    decimal_comma: bool = False
    header: bool = True  # False: the first line is data, ``columns`` named by :func:`role_names`
    clock_col: str | None = None  # the time of day beside ``time_col``'s dates (``time_format`` reads both)
    more_id_cols: list[str] = field(default_factory=list)  # joined to ``id_col`` by "_": store 1, dept 2 -> 1_2
    preamble: int = 0  # lines above the header (a title, an export note, blank lines): skipped
    column_dates: dict[str, str] = field(
        default_factory=dict
    )  # by_date: value column -> its timestamp (its year: calendar_rows)
    named: bool = False  # ``columns`` name the header's unnamed cells (``column <k>``): read under these names
    left_out: list[str] = field(default_factory=list)  # unnamed columns holding a few values: no role
    column_months: dict[str, int] = field(default_factory=dict)  # calendar: value column -> months after January
    beside: list[str] = field(default_factory=list)  # calendar shapes: the columns neither month nor year (a total)
    date_parts: list[str] = field(default_factory=list)  # a month (or quarter) and a day beside ``time_col``'s years
    text: list[str] = field(default_factory=list)  # text columns with no role (a wind direction beside one series)
    derived: list[str] = field(default_factory=list)  # numbers named as parts of time (Year, Week) beside the dates

    def series_name(self, col: str) -> str:
        named_after_file = self.shape in ("single", "by_date", "calendar", "calendar_rows")  # by_date: one row
        return posixpath.splitext(posixpath.basename(self.name))[0] if named_after_file else col


def sniff(head: bytes, name: str, mapping: ColumnMapping = ColumnMapping()) -> Layout:
    """Decide encoding, delimiter, shape, roles and timestamp format from the first bytes of a file."""
    if not head.strip():
        raise FileRejected("empty_file", "the file is empty")
    encoding, text = decode_head(head, complete=len(head) < HEAD_BYTES)
    text = text.lstrip("\ufeff")
    if len(head) >= HEAD_BYTES:  # keep whole lines only
        text = text[: text.rfind("\n") + 1] or text
    delimiter = sniff_delimiter(text)
    preamble = preamble_lines(text, delimiter)  # a title or an export note above the header
    text = "".join(lines_of(text)[preamble:])
    columns = [c.strip() for c in next(csv.reader(io.StringIO(text), delimiter=delimiter))]
    header = not is_data(columns)
    if not header:  # the first line is already data: the columns are named after their roles
        columns = role_names(columns)
    stacked = 0  # header lines below the first (a pivot table's), skipped like a preamble
    if header and ("" in columns or len(set(columns)) != len(columns)):
        columns, stacked = stacked_header(columns, lines_of(text, 8)[1:], delimiter)
        text = "".join((lines := lines_of(text))[:1] + lines[1 + stacked :])
        preamble += stacked
    named = stacked > 0 or columns.count("") > 1 or (not header and "" in columns)  # an export's empty columns
    unnamed = {""}  # the names of the header's empty cells
    if named:
        columns, unnamed = name_unnamed(columns)
    if len(set(columns)) != len(columns):
        raise FileRejected("duplicate_columns", f"the header repeats column names: {columns}")
    sample = pd.read_csv(
        io.StringIO(text),
        sep=delimiter,
        dtype=str,
        keep_default_na=False,
        nrows=2000,
        skipinitialspace=True,
        on_bad_lines="skip",
        header=0 if header else None,
    )
    sample.columns = columns
    sample = sample[~sample.apply(lambda c: c.str.strip().eq("")).all(axis=1)]  # blank rows: no data, no role
    if sample.empty:
        raise FileRejected("header_only", "the file has a header but no data rows")
    index = row_index(sample, unnamed)
    if index is not None:  # pandas' to_csv writes its row numbers first: no role
        sample = sample.drop(columns=[index])
    left_out, noted = mostly_empty(sample, unnamed)
    sample = sample.drop(columns=left_out)  # a trailing delimiter's column, a stray note: no role
    split = None if mapping.time_col else date_and_clock(sample)  # a date and a time of day, side by side
    if split is not None:
        sample = sample.drop(columns=[split[1]])
    parts = None if mapping.time_col or split else date_parts(sample)  # Year,Month,Sales: 2020,1
    if parts is not None:  # the roles are told on the joined dates
        sample = sample.assign(**{parts[0]: joined(sample[parts[0]], [sample[c] for c in parts[1]], parts[1])})
        sample = sample.drop(columns=parts[1]).fillna({parts[0]: ""})
    try:
        tcol = split[0] if split else parts[0] if parts else _pick_time(sample, mapping.time_col)
    except FileRejected as exc:  # no time column: one column per period instead?
        if exc.code != "no_time_column":
            raise
        years = year_columns(list(sample.columns))
        rest = sample.drop(columns=list(years))
        rows = _month_rows(rest, years)
        if rows is not None:  # a month per row, a year per column: one series
            layout = Layout(name, encoding, delimiter, columns, "calendar_rows", rows, None, sorted(years))
            layout.column_dates, layout.beside = years, [c for c in rest.columns if c != rows]  # a Total column
        else:
            dates = dated_columns(list(sample.columns))
            if not dates:
                raise
            ids = _by_date_ids(sample.drop(columns=list(dates)), mapping.id_col)
            layout = Layout(name, encoding, delimiter, columns, "by_date", "", ids[0] if ids else None, list(dates))
            layout.more_id_cols, layout.column_dates = ids[1:], {c: t.isoformat() for c, t in dates.items()}
        return replace(
            layout, header=header, preamble=preamble, named=named, left_out=[c or "(unnamed)" for c in noted]
        )
    decimal_comma = delimiter != "," and _decimal_comma(sample.drop(columns=[tcol]))
    flags = _flags(sample.drop(columns=[tcol]))  # TRUE / FALSE: a covariate (1 / 0), never an id
    numeric = _mostly_numeric(sample.drop(columns=[tcol, *flags]), decimal_comma)
    derived = [c for c in numeric if c.strip().casefold() in TIME_NAMES and c != mapping.value_col]  # Year, Week
    numeric = [c for c in numeric if c not in derived]
    ids = _pick_ids(sample, mapping.id_col, tcol, [*numeric, *derived], flags)
    text = [c for c in sample.columns if c not in (tcol, *ids, *numeric, *flags, *derived)]  # no role: reported
    numeric = [c for c in numeric if c not in ids]
    if ids:
        vcol = _pick_value(mapping.value_col, numeric)
        covs = list(mapping.covariates) if mapping.covariates is not None else [*numeric, *flags]
        covs.remove(vcol) if vcol in covs else None
        shape, values = "long", [vcol]
    elif mapping.value_col:
        _pick_value(mapping.value_col, numeric)
        shape, values = "single", [mapping.value_col]
        covs = list(mapping.covariates) if mapping.covariates is not None else flags
    else:
        if not numeric:
            raise FileRejected("no_value_column", f"no numeric value column among {columns}")
        _check_not_stacked(sample, tcol, numeric)
        shape, values = ("single" if len(numeric) == 1 else "wide"), numeric
        covs = flags if shape == "single" else []
    missing = [c for c in covs if c not in columns]
    if missing:
        raise FileRejected("missing_column", f"covariate columns {missing} not in {columns}")
    fmt = split[2] if split else parts[2] if parts else time_format(sample[tcol], mapping.dayfirst)
    if tcol.strip().lower() in QUARTER_NAMES and parse_with(sample[tcol], QUARTER_NUMBER).notna().mean() >= 0.9:
        fmt = QUARTER_NUMBER  # 2020-1 under "quarter": the first quarter, not January
    months = (
        calendar_columns(values) if shape == "wide" and fmt in ("%Y", FISCAL_YEAR) and not mapping.value_col else {}
    )
    start = next(iter(months.values()), 0) if fmt == FISCAL_YEAR else 0  # Jul ... Jun under 2019-20
    months = {c: m - 12 if m >= start > 0 else m for c, m in months.items()}  # July 2019 ... June 2020
    beside = [c for c in values if c not in months] if months else []  # a Total column beside the months
    if months:  # a year per row, a month (or quarter) per column: one series
        shape, values = "calendar", sorted(months, key=months.__getitem__)
    years = year_columns(values) if shape == "wide" and fmt is None else {}
    if years and _month_rows(sample[[tcol]], years) is not None:  # a month per row, a year per column
        shape, beside, values = "calendar_rows", [c for c in values if c not in years], sorted(years)
    clock = split[1] if split else None
    icol, more = (ids[0], ids[1:]) if ids else (None, [])
    return Layout(
        name,
        encoding,
        delimiter,
        columns,
        shape,
        tcol,
        icol,
        values,
        covs,
        fmt,
        decimal_comma,
        header,
        clock,
        more,
        preamble,
        named=named,
        left_out=[c or "(unnamed)" for c in noted],
        column_months=months,
        beside=beside,
        column_dates=years if shape == "calendar_rows" else {},
        date_parts=parts[1] if parts else [],
        text=text,
        derived=derived,
    )


def _month_rows(rest: pd.DataFrame, years: dict) -> str | None:
    """The one column beside two or more year columns whose rows are months (``Jan`` ... ``Dec``,
    ``Q1`` ... ``Q4``; a ``Total`` row aside), if there is one."""
    if len(years) < 2:
        return None
    labels = {c: month_offsets(rest[c]) for c in rest.columns}
    found = [c for c, m in labels.items() if m.notna().mean() >= 0.8 and m.nunique() >= 4]
    return found[0] if len(found) == 1 else None


def _mostly_numeric(sample: pd.DataFrame, decimal_comma: bool, frac: float = 0.5) -> list[str]:
    """The columns at least ``frac`` of whose non-blank cells are numbers (every column at once)."""
    s = _bare(pd.Series(sample.to_numpy().ravel(order="F"), dtype=object))  # column after column
    column = pd.Series(np.repeat(np.arange(sample.shape[1]), len(sample)))
    if decimal_comma:
        s = s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        s = s.where(~s.str.fullmatch(THOUSANDS[1:-1]), s.str.replace(",", "", regex=False))
    blank = s == ""
    share = s.str.fullmatch(NUMBER[1:-1].replace(r"\s*", ""))[~blank].groupby(column[~blank]).mean()
    return [c for k, c in enumerate(sample.columns) if share.get(k, 0.0) >= frac]


def _bare(col: pd.Series) -> pd.Series:
    """Cells as bare numbers: without the spaces, quotes, currency and percent signs around them,
    an accountant's brackets as a minus, spaced thousands joined, the missing-value marks of
    spreadsheets and databases (``#N/A``, ``null``, ``-``, ...) blank."""
    s = col.str.strip().str.strip('"')
    s = s.where(~s.str.lower().isin(NA_TOKENS), "")
    if not s.str.contains(
        "[$€£¥%()\u00a0\u202f '\u2019\u2212]", regex=True
    ).any():  # the common case: nothing to take off
        return s
    s = s.str.replace(MINUS, "-", regex=False)
    s = s.str.replace(PARENS, r"-\1", regex=True).str.replace(CURRENCY, r"\1", regex=True)
    s = s.str.replace(PERCENT, "", regex=True)
    return s.str.replace(SPACED, r"\1\2", regex=True).str.replace(SPACED, r"\1\2", regex=True)


def _decimal_comma(sample: pd.DataFrame) -> bool:
    """Whether the numbers put their decimals after a comma (``1,5``, ``1.234,5``): at least one
    does, and at least as many as after a point (``1.5``; ``1.234`` counts for neither). Integers
    and text say nothing: a column of whole numbers beside one of ``12,5`` is still decimal commas."""
    s = _bare(sample.stack())
    comma = int(s.str.fullmatch(r"-?[\d.]*\d,\d+").sum())
    point = int((s.str.fullmatch(r"-?\d*\.\d+") & ~s.str.fullmatch(r"-?\d{1,3}(\.\d{3})+")).sum())
    return comma > 0 and comma >= point


def _pick_time(raw: pd.DataFrame, time_col: str | None) -> str:
    if time_col:
        if time_col not in raw.columns:
            raise FileRejected("missing_column", f"time column {time_col!r} not in {list(raw.columns)}")
        return time_col
    named = [c for c in raw.columns if c.lower() in TIME_NAMES]
    if len(named) == 1:
        return named[0]
    parsed = [c for c in raw.columns if looks_like_time(raw[c].head(50))]
    if len(parsed) == 1:
        return parsed[0]
    cands = named or parsed
    raise FileRejected(
        "ambiguous_time" if cands else "no_time_column",
        f"cannot tell the timestamp column (candidates: {cands or 'none'}); set --time-col",
    )


def _pick_ids(raw: pd.DataFrame, id_col: str | None, tcol: str, numeric: list[str], flags: list[str]) -> list[str]:
    """The series id column(s) of a long file ([] for a single or wide one): ``id_col`` (several
    joined by commas), a column named so, the one text column, or integer columns named like ids."""
    if id_col:
        names = [c.strip() for c in id_col.split(",")]
        missing = [c for c in names if c not in raw.columns]
        if missing:
            raise FileRejected("missing_column", f"id column(s) {missing} not in {list(raw.columns)}")
        return names
    named = [c for c in raw.columns if c.lower() in ID_NAMES and c != tcol]
    if len(named) == 1:
        return named
    text = [c for c in raw.columns if c != tcol and c not in numeric and c not in flags]
    if len(text) == 1 and not describes_points(raw, tcol, text[0]):
        return text
    if len(text) > 1:
        raise FileRejected("ambiguous_id", f"several text columns could be the series id: {text}; set --id-col")
    return _numeric_ids(raw, numeric)


def _by_date_ids(rest: pd.DataFrame, id_col: str | None) -> list[str]:
    """The id column(s) of a file with one column per timestamp: ``id_col``, a column named so, the
    text columns (several joined by "_"), or the integer columns named like ids; [] for a one-row
    file (the series is named after the file). Other numeric columns have no role."""
    if id_col:
        return _pick_ids(rest, id_col, "", [], [])
    numeric = _mostly_numeric(rest, False)
    text = [c for c in rest.columns if c not in numeric]
    ids = [c for c in text if c.lower() in ID_NAMES][:1] or text or _numeric_ids(rest, numeric)
    if not ids and len(rest) > 1:
        raise FileRejected("ambiguous_id", "one column per timestamp, but no column names the series; set --id-col")
    return ids


def _numeric_ids(raw: pd.DataFrame, numeric: list[str]) -> list[str]:
    """The integer columns named like ids (``store``, ``item``, ``dept``, ``shop_no``, ``sku_id``, ...)."""
    named = [c for c in numeric if ID_WORDS.search(c) or ID_CAMEL.search(c)]
    return [c for c in named if raw[c].str.strip().str.fullmatch(r"\d{1,18}").all()]


def _check_not_stacked(raw: pd.DataFrame, tcol: str, numeric: list[str]) -> None:
    """A file read as one series per numeric column must not hold its timestamps over and over (series
    stacked with nothing to tell them apart): that is refused rather than read as duplicates."""
    stamps = raw[tcol].str.strip()
    stamps = stamps[stamps != ""]  # a row with no timestamp is a bad row, not a repeat
    repeated = float(stamps.duplicated().mean()) if len(stamps) else 0.0
    if len(numeric) > 1 and repeated >= 0.5:
        raise FileRejected(
            "ambiguous_id",
            f"{repeated:.0%} of the rows repeat a timestamp but no column tells their series apart; set "
            "--id-col (several columns: --id-col store,item)",
        )


def _flags(raw: pd.DataFrame) -> list[str]:
    """Columns of nothing but TRUE / FALSE (any case), blanks and missing-value marks aside."""
    s = pd.Series(raw.to_numpy().ravel(order="F"), dtype=object).str.strip()  # column after column
    column = np.repeat(np.arange(raw.shape[1]), len(raw))
    keep = ((s != "") & ~s.str.lower().isin(NA_TOKENS)).to_numpy()
    share = s[keep].str.fullmatch(BOOLEAN).groupby(column[keep]).mean()
    return [c for k, c in enumerate(raw.columns) if share.get(k, 0.0) == 1.0]


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
    raise FileRejected(
        "ambiguous_value" if cands else "no_value_column",
        f"cannot tell the value column (candidates: {cands or 'none'}); set --value-col",
    )
