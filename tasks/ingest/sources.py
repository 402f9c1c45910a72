"""Where an input file's CSV text comes from: the file itself, decompressed (``.gz``, ``.bz2``,
``.xz``, ``.zip``, or gzip saved as ``.csv``), or a workbook's sheet written as CSV: the active
one, or the first that holds a table when it holds none (a cover or notes sheet)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import itertools
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, BinaryIO

import fsspec

from tasks.ingest.sniff import HEAD_BYTES, ColumnMapping, FileRejected, Layout, sniff

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class Source:
    """An input file as the CSV reader reads it (``open``): ``packed`` its compression, ``sheet`` a
    workbook's sheet as CSV text (one line per row of the sheet, so line numbers are row numbers),
    ``recode`` the encoding of a file read back as UTF-8 lines (UTF-16, bare-CR line ends)."""

    url: str
    packed: str | None = None
    sheet: bytes | None = None
    sheet_name: str | None = None  # a workbook's: the sheet ``sheet`` holds
    recode: str | None = None

    @classmethod
    def of(cls, url: str) -> Source:
        if url.lower().endswith(WORKBOOK_SUFFIXES):
            name, text = sheet_as_csv(url)
            return cls(url, sheet=text, sheet_name=name)
        packed = compression(url)
        with fsspec.open(url, "rb", compression=packed) as f:
            return cls(url, packed=packed, recode=recoding(f.read(1 << 16)))

    def other_sheets(self) -> Iterator[Source]:
        """A workbook's sheets after the active one, in their order (read one at a time, as asked)."""
        if self.sheet_name is None:
            return
        for title in sheet_titles(self.url):
            if title != self.sheet_name:
                yield Source(self.url, sheet=sheet_as_csv(self.url, title)[1], sheet_name=title)

    def open(self) -> AbstractContextManager[BinaryIO]:
        if self.sheet is not None:
            return contextlib.nullcontext(io.BytesIO(self.sheet))
        if self.recode is not None:
            return self._recoded()
        return fsspec.open(self.url, "rb", compression=self.packed)

    @contextlib.contextmanager
    def _recoded(self) -> Iterator[BinaryIO]:
        with fsspec.open(self.url, "rb", compression=self.packed) as raw:
            text = io.TextIOWrapper(raw, encoding=self.recode, errors="replace", newline=None)  # \r, \r\n -> \n
            yield io.BufferedReader(_Utf8(text), 1 << 16)


def recoding(head: bytes) -> str | None:
    """The encoding to read a file by as UTF-8 with \n line ends, from its first bytes: UTF-16 (the
    byte order mark, or every other byte zero: Excel's "Unicode text", Windows PowerShell's files),
    or the file's own for lines that end in a bare \r (a classic Mac export); None: read as it is."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if len(head) >= 4 and head[1::2].count(0) > 0.4 * len(head[1::2]) and not head[::2].count(0):
        return "utf-16-le"
    if b"\r" in head and b"\n" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            return "utf-8" if exc.start >= len(head) - 3 and len(head) == 1 << 16 else "latin-1"
        return "utf-8"
    return None


class _Utf8(io.RawIOBase):
    """A text stream read back as UTF-8 bytes, a chunk at a time."""

    def __init__(self, text: io.TextIOBase) -> None:
        self._text, self._pending = text, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = self._text.read(1 << 15)
            if not chunk:
                return 0
            self._pending = chunk.encode("utf-8")
        n = min(len(buffer), len(self._pending))
        buffer[:n], self._pending = self._pending[:n], self._pending[n:]
        return n


def compression(url: str) -> str | None:
    """How the file is compressed: by its name (``.gz``, ``.bz2``, ``.xz``, ``.zip``), else gzip when
    its first bytes say so (a gzipped export saved as ``.csv``), else None."""
    by_name = fsspec.utils.infer_compression(url)
    if by_name is not None:
        return by_name
    with fsspec.open(url, "rb") as f:
        return "gzip" if f.read(2) == b"\x1f\x8b" else None


def sheet_as_csv(url: str, title: str | None = None) -> tuple[str, bytes]:
    """A sheet of an Excel workbook (the active one unless ``title`` names another), its title and
    its cells as UTF-8 CSV: dates as ISO text, whole numbers without a decimal point, formulas as
    their last computed values, the empty rows below the data dropped."""
    with _workbook(url) as book:
        sheet = book[title] if title is not None else book.active
        rows = [[_cell(v) for v in row] for row in sheet.iter_rows(min_row=1, values_only=True)]
    while rows and not any(rows[-1]):
        rows.pop()
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return sheet.title, out.getvalue().encode()


def sheet_titles(url: str) -> list[str]:
    with _workbook(url) as book:
        return list(book.sheetnames)


@contextlib.contextmanager
def _workbook(url: str) -> Iterator[Any]:
    import openpyxl  # only for workbooks

    with fsspec.open(url, "rb") as f:
        data = f.read()
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # not a workbook, or a damaged one: openpyxl and zipfile raise many kinds
        raise FileRejected("unreadable", f"cannot read the workbook: {type(exc).__name__}: {exc}") from exc
    try:
        yield book
    except FileRejected:
        raise
    except Exception as exc:  # a damaged sheet
        raise FileRejected("unreadable", f"cannot read the workbook: {type(exc).__name__}: {exc}") from exc
    finally:
        book.close()


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


def sniffed(source: Source, mapping: ColumnMapping) -> tuple[Source, Layout, str]:
    """The source and its layout: a workbook whose active sheet holds no table it can read (a cover
    or notes sheet) is read from its first sheet that does, with what the sheets passed over said;
    when none does, the active sheet's reason."""
    passed: list[str] = []
    first: FileRejected | None = None
    for candidate in itertools.chain([source], source.other_sheets()):
        with candidate.open() as f:
            head = f.read(HEAD_BYTES)
        try:
            return candidate, sniff(head, source.url, mapping), "; ".join(passed)
        except FileRejected as exc:
            if candidate.sheet_name is None:
                raise
            first = first or exc
            passed.append(f"sheet {candidate.sheet_name!r} passed over: {exc}")
    assert first is not None
    raise first
