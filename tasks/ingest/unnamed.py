"""Columns with no role: header cells with no name (an export's empty columns, a note written beside
the table), the row numbers pandas writes first, a text column that describes each point. The
reader reads unnamed ones under position names."""

from __future__ import annotations

import pandas as pd

ROW_NUMBERS = {"unnamed: 0", "index", "no", "no.", "nr", "nr.", "#", "row", "n°"}  # a first column of row numbers
UNNAMED = "column "  # the name of an unnamed header cell, with its position from 1: "column 5"


def name_unnamed(columns: list[str]) -> tuple[list[str], set[str]]:
    """The header with each empty cell named after its position (``column 5``, unless a named
    column already has that name), and the set of those names."""
    taken = set(columns)
    named = [
        c or next(n for n in (f"{UNNAMED}{k}", f"{UNNAMED}{k}_") if n not in taken) for k, c in enumerate(columns, 1)
    ]
    return named, {n for n, c in zip(named, columns) if not c}


def mostly_empty(sample: pd.DataFrame, unnamed: set[str]) -> tuple[list[str], list[str]]:
    """The ``unnamed`` columns that hold a value in fewer than half the rows: what a delimiter at
    the end of every line makes, or a note written beside the table. Returns them all, and those
    of them that hold a value (the ones worth telling the user about)."""
    out, noted = [], []
    for c in sample.columns:
        filled = float(sample[c].str.strip().ne("").mean()) if len(sample) else 0.0
        if c in unnamed and filled < 0.5:
            out.append(c)
            noted += [c] if filled > 0 else []
    return out, noted


def row_index(sample: pd.DataFrame, unnamed: set[str]) -> str | None:
    """The first column when it is a row number: no name (or pandas' ``Unnamed: 0``, ``index``, or
    ``No``, ``#``, ``row``) and consecutive integers."""
    first = sample.columns[0]
    if first not in unnamed and first.strip().casefold() not in ROW_NUMBERS:
        return None
    s = sample[first].str.strip()
    if not s.str.fullmatch(r"\d{1,18}").all():
        return None
    return first if s.astype("int64").diff().iloc[1:].eq(1).all() else None


def describes_points(raw: pd.DataFrame, tcol: str, col: str) -> bool:
    """Whether a text column describes each point rather than naming its series (a wind direction, a
    weather type): the timestamps never repeat, and its value changes more often than a series
    id would (at most once per series in a file sorted by series)."""
    values = raw[col].str.strip()
    changes = int((values != values.shift()).sum())
    return not raw[tcol].str.strip().duplicated().any() and changes > 2 * values.nunique()
