"""Where an input file's CSV text comes from: the file itself, decompressed (``.gz``, ``.bz2``,
``.xz``, ``.zip``, or gzip saved as ``.csv``), or a workbook's active sheet written as CSV."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO

import fsspec

from tasks.ingest.sniff import FileRejected

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class Source:
    """An input file as the CSV reader reads it (``open``): ``packed`` its compression, ``sheet`` a
    workbook's active sheet as CSV text (one line per row of the sheet, so line numbers are row numbers)."""

    url: str
    packed: str | None = None
    sheet: bytes | None = None

    @classmethod
    def of(cls, url: str) -> Source:
        if url.lower().endswith(WORKBOOK_SUFFIXES):
            return cls(url, sheet=sheet_as_csv(url))
        return cls(url, packed=compression(url))

    def open(self) -> AbstractContextManager[BinaryIO]:
        if self.sheet is not None:
            return contextlib.nullcontext(io.BytesIO(self.sheet))
        return fsspec.open(self.url, "rb", compression=self.packed)


def compression(url: str) -> str | None:
    """How the file is compressed: by its name (``.gz``, ``.bz2``, ``.xz``, ``.zip``), else gzip when
    its first bytes say so (a gzipped export saved as ``.csv``), else None."""
    by_name = fsspec.utils.infer_compression(url)
    if by_name is not None:
        return by_name
    with fsspec.open(url, "rb") as f:
        return "gzip" if f.read(2) == b"\x1f\x8b" else None


def sheet_as_csv(url: str) -> bytes:
    """The active sheet of an Excel workbook as UTF-8 CSV: dates as ISO text, whole numbers without
    a decimal point, formulas as their last computed values, the empty rows below the data dropped."""
    import openpyxl  # only for workbooks

    with fsspec.open(url, "rb") as f:
        data = f.read()
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            rows = [[_cell(v) for v in row] for row in book.active.iter_rows(min_row=1, values_only=True)]
        finally:
            book.close()
    except Exception as exc:  # not a workbook, or a damaged one: openpyxl and zipfile raise many kinds
        raise FileRejected("unreadable", f"cannot read the workbook: {type(exc).__name__}: {exc}") from exc
    while rows and not any(rows[-1]):
        rows.pop()
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, dt.datetime):
        return v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    return str(v)
