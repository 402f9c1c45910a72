"""A user's side file (future values of covariates, static covariates) read as the ingest reads
its inputs: a CSV in any delimiter and encoding the ingest reads (compressed too), a workbook's
active sheet, or Parquet; header names trimmed and matched to the names asked for whatever their
case (``ds`` and ``unique_id`` also under the names the ingest knows them by: ``date``,
``series_id``, ...); numbers as the ingest reads them (decimal commas, thousands separators,
currency and percent signs, TRUE / FALSE) with its reason codes. The file is never modified."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from tasks.ingest.csv_reader import parse_numbers
from tasks.ingest.header import decode_head, sniff_delimiter
from tasks.ingest.sniff import ID_CAMEL, ID_NAMES, ID_WORDS, FileRejected, _decimal_comma
from tasks.ingest.sources import Source
from tasks.ingest.timestamps import TIME_NAMES
from tasks.series.static import StaticSummary

PARQUET = (".parquet", ".pq")
ROLES = {  # the names the ingest reads as a role, most certain first
    "ds": (lambda c: c.casefold() in TIME_NAMES,),
    "unique_id": (lambda c: c.casefold() in ID_NAMES, lambda c: bool(ID_WORDS.search(c) or ID_CAMEL.search(c))),
}


@dataclass
class SideFile:
    """The rows of a side file: text cells (typed ones from Parquet) under the names asked for."""

    path: str
    frame: pd.DataFrame  # (rows, columns): CSV and workbook cells as trimmed text
    lines: np.ndarray  # (rows,): each row's line in the file (header = line 1), a Parquet row's number from 1
    delimiter: str = ","
    decimal_comma: bool = False


def read_side_file(path: str, names: list[str], what: str) -> SideFile:
    """``path`` with its columns renamed to ``names`` where they match (case, spaces, aliases); a
    clear error for a file that is missing, empty, unreadable or repeats a column."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: no such {what} file")
    if path.lower().endswith(PARQUET):
        frame = pd.read_parquet(path)
        side = SideFile(path, frame, np.arange(1, len(frame) + 1))
    else:
        side = _read_text(path, names)
    side.frame.columns = _matched([str(c).strip() for c in side.frame.columns], names)
    if side.frame.columns.duplicated().any():
        raise FileRejected("duplicate_columns", f"{path}: the header repeats column names: {list(side.frame.columns)}")
    cells = side.frame.drop(columns=[c for c in ("ds", "unique_id") if c in side.frame.columns])
    digits = cells.astype("string").stack() if cells.shape[1] else pd.Series([], dtype="string")
    digits = digits[digits.str.contains(r"\d", na=False)]  # the cells that may be numbers
    side.decimal_comma = side.delimiter != "," and len(digits) > 0 and _decimal_comma(digits.to_frame())  # 0,5
    return side


def numbers(col: pd.Series, decimal_comma: bool) -> tuple[np.ndarray, np.ndarray]:
    """A column -> (float64 values, NaN where unusable; the ingest's reason code per row or None):
    ``missing_value``, ``non_finite``, ``bad_value``."""
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        codes = np.where(np.isnan(values), "missing_value", np.where(np.isinf(values), "non_finite", None))
        return np.where(np.isfinite(values), values, np.nan), codes.astype(object)
    text = col.astype("string").fillna("").to_numpy(dtype=object).astype(str)
    values, codes = parse_numbers(pa.chunked_array([pa.array(text, pa.string())]), decimal_comma)
    out = values.to_numpy(zero_copy_only=False).astype(np.float64)
    return out, np.asarray(codes.to_pylist(), dtype=object)


def check_static(path: str) -> tuple[pd.DataFrame, StaticSummary]:
    """The rows of a static-covariates file (unique_id and every other column), the last row of an
    id repeated; rows without an id are kept out with their line. A column whose every filled cell
    is a number (as the ingest reads numbers) is numeric, NaN where empty; any other is text, a
    category (None where empty)."""
    side = read_side_file(path, ["unique_id"], "static-covariates")
    raw = side.frame
    if "unique_id" not in raw.columns or raw.shape[1] < 2:
        raise ValueError(
            f"{path}: static covariates need a unique_id column and at least one other (columns: {list(raw.columns)})"
        )
    ids = raw["unique_id"].astype("string").str.strip().replace("", pd.NA)
    no_id = ids.isna().to_numpy()
    rejected = {"missing_id": [f"line {n}: no unique_id" for n in side.lines[no_id][:5]]} if no_id.any() else {}
    good = pd.DataFrame({"unique_id": ids[~no_id].astype(str).to_numpy()})
    for c in [c for c in raw.columns if c != "unique_id"]:
        col = raw[c][~no_id].reset_index(drop=True)
        if col.dtype != object and not pd.api.types.is_string_dtype(col):  # typed already (Parquet)
            good[c] = col.to_numpy()
            continue
        values, codes = numbers(col, side.decimal_comma)
        numeric = not np.isin(codes, ["bad_value", "non_finite"]).any() and np.isfinite(values).any()
        good[c] = values if numeric else col.astype("string").str.strip().replace("", pd.NA).to_numpy(dtype=object)
    good = good.drop_duplicates("unique_id", keep="last").reset_index(drop=True)
    return good, StaticSummary(path, len(good), [c for c in good.columns if c != "unique_id"], rejected)


def _read_text(path: str, names: list[str]) -> SideFile:
    """A CSV, or the first sheet of a workbook (the active one first) that has the columns ``names``
    (else the active sheet: its columns go into the error)."""
    source = Source.of(path)
    first = _read_source(source)
    if _has(first, names):
        return first
    for sheet in source.other_sheets():  # a notes or cover sheet in front
        try:
            side = _read_source(sheet)
        except FileRejected:  # an empty sheet
            continue
        if _has(side, names):
            return side
    return first


def _has(side: SideFile, names: list[str]) -> bool:
    return set(names) <= set(_matched([str(c).strip() for c in side.frame.columns], names))


def _read_source(source: Source) -> SideFile:
    path = source.url
    with source.open() as f:
        data = f.read()
    if not data.strip():
        raise FileRejected("empty_file", f"{path}: the file is empty")
    text = decode_head(data, complete=True)[1].lstrip("\ufeff")
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, lines = [], []
    for row in reader:
        if any(cell.strip() for cell in row):  # a blank line, a row of delimiters: nothing
            rows.append([cell.strip() for cell in row])
            lines.append(reader.line_num)
    if not rows:
        raise FileRejected("empty_file", f"{path}: the file is empty")
    title = next((k for k, r in enumerate(rows[:20]) if sum(map(bool, r)) >= 2), 0)  # a title above the header
    header, body, lines = rows[title], rows[title + 1 :], lines[title:]
    width = len(header)
    body = [(r + [""] * width)[:width] for r in body]  # short rows padded, cells past the header dropped
    # an unnamed column (a trailing delimiter, a note beside the table): no name to ask it by
    named = [k for k, h in enumerate(header) if h]
    frame = pd.DataFrame([[r[k] for k in named] for r in body], columns=[header[k] for k in named], dtype=object)
    return SideFile(path, frame, np.asarray(lines[1:], dtype=np.int64), delimiter)


def _matched(columns: list[str], names: list[str]) -> list[str]:
    """Each column under the asked name it matches: the same name whatever its case, else (for
    ``ds`` and ``unique_id``) the one column named as the ingest would take for that role: ``date``,
    ``month``, ...; ``series_id``, ``sku``, ..., else ``store``, ``item_no``, ``storeId``, ..."""
    folded = {n.casefold(): n for n in names}
    out = [folded.get(c.casefold(), c) for c in columns]
    for name, tests in ROLES.items():
        if name not in names or name in out:
            continue
        for test in tests:
            cands = [k for k, c in enumerate(out) if c not in names and test(c)]
            if len(cands) == 1:
                out[cands[0]] = name
            if cands:
                break
    return out
