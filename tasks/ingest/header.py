"""The lines of a CSV head before its rows: encoding, delimiter, the lines above the header (a
title, an export note), a header over several lines (a pivot table's), and whether the first line
is data already (no header)."""

from __future__ import annotations

import csv
import io
import itertools
import re

from tasks.ingest.timestamps import is_date

NUMBER = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def preamble_lines(text: str, delimiter: str, most: int = 20) -> int:
    """How many lines come before the header: blank ones, or ones of a single non-empty field (a
    report's title, an export note), above a line of two or more; 0 when no such line follows."""
    for k, line in enumerate(lines_of(text, most)):
        if sum(bool(f.strip()) for f in next(csv.reader([line], delimiter=delimiter), [])) >= 2:
            return k
    return 0


def lines_of(text: str, most: int | None = None) -> list[str]:
    """The first ``most`` lines (all: None) as the CSV reader sees them, ends kept: split at \\n,
    \\r\\n and \\r only (str.splitlines also splits at form feeds and other control characters a
    Latin-1 header may hold)."""
    return list(itertools.islice(io.StringIO(text, newline=""), most))


def stacked_header(first: list[str], below: list[str], delimiter: str, most: int = 4) -> tuple[list[str], int]:
    """A header over several lines, as a pivot table writes one (the value's name above the series'
    names, the index's name below them: ``,y,y`` / ``unique_id,A,B`` / ``ds,,``): each column named
    by its lowest filled cell, when up to ``most`` lines that are not data follow ``first`` and data
    follows them; else ``first`` as it is. Returns the names and the lines below ``first`` they took."""
    rows = [first]
    for line in below:
        fields = [f.strip() for f in next(csv.reader([line], delimiter=delimiter), [])]
        if is_data(fields):
            break
        if len(rows) > most or not any(fields):
            return first, 0
        rows.append(fields)
    else:
        return first, 0
    width = max(map(len, rows))
    names = [next((r[j] for r in reversed(rows) if j < len(r) and r[j]), "") for j in range(width)]
    return (
        (names, len(rows) - 1)
        if len(rows) > 1 and len(set(names) - {""}) == len([n for n in names if n])
        else (first, 0)
    )


def is_number(field: str) -> bool:
    return re.fullmatch(NUMBER, field) is not None or re.fullmatch(r"-?[\d.]*\d,\d+", field) is not None


def is_data(fields: list[str]) -> bool:
    """A first line with no column names: a date, a number, nothing but ids besides."""
    fields = [f for f in fields if f.strip()]  # a trailing delimiter's empty field says nothing
    numbers = [is_number(f) for f in fields]
    rest = [f for f, number in zip(fields, numbers) if not number]
    if not any(numbers) or not any(c.isdigit() for f in rest for c in f):  # no number, or no date
        return False
    dates = sum(is_date(f) for f in rest)
    return dates >= 1 and len(rest) - dates <= 1


def role_names(fields: list[str]) -> list[str]:
    """Names for the columns of a file without a header, from their first values: ``ds`` for the
    date, ``unique_id`` for a text column, ``y`` for one number (``y1``, ``y2``, ... for several),
    no name for an empty one."""
    numbers = sum(not is_date(f) and is_number(f) for f in fields)
    names, k = [], 0
    for f in fields:
        if is_date(f):
            names.append("ds")
        elif is_number(f):
            k += 1
            names.append("y" if numbers == 1 else f"y{k}")
        else:
            names.append("unique_id" if f.strip() else "")
    return names


def decode_head(head: bytes, complete: bool) -> tuple[str, str]:
    try:
        return "utf-8", head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not complete and exc.start >= len(head) - 3:  # a character cut by the head boundary
            return "utf-8", head[: exc.start].decode("utf-8")
    return "latin-1", head.decode("latin-1")


def sniff_delimiter(text: str) -> str:
    sample = "".join(lines_of(text, 50))
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","
