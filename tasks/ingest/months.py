"""Month names in the languages spreadsheets most often export them in (French, German, Spanish,
Italian, Portuguese, Dutch; full or abbreviated, with or without the abbreviation's dot), read as
the English abbreviations the date formats know: ``janv.-20`` -> ``Jan-20``, ``März 2021`` ->
``Mar 2021``, ``dic-19`` -> ``Dec-19``. Names English shares (``mar``, ``jun``, ``nov``, ...) are
left as they are, without the dot a French export puts after them (``oct.`` -> ``Oct``)."""

from __future__ import annotations

import re

import pandas as pd

_NAMES = {
    "Jan": "janv janvier januar enero ene gennaio gen janeiro januari",
    "Feb": "févr fevr février fevrier februar febrero febbraio fevereiro fev februari",
    "Mar": "mars märz marz mär mrz marzo março marco maart mrt",
    "Apr": "avr avril abril abr aprile",
    "May": "mai mayo maggio mag maio mei",
    "Jun": "juin juni junio giugno giu junho",
    "Jul": "juil juillet juli julio luglio lug julho",
    "Aug": "août aout agosto ago augustus",
    "Sep": "sept septembre septiembre settembre setembro set",
    "Oct": "octobre oktober okt octubre ottobre ott outubro out",
    "Nov": "novembre noviembre novembro",
    "Dec": "déc décembre decembre dezember dez diciembre dic dicembre dezembro",
}
FOREIGN = {name: english for english, names in _NAMES.items() for name in names.split()}
ENGLISH_IN_FULL = ("january", "february", "march", "april", "june", "july", "august", "september", "october")
ENGLISH_IN_FULL += ("november", "december")
FOREIGN |= {full: full[:3].title() for full in ENGLISH_IN_FULL}  # "%b" reads the abbreviations only
FOREIGN |= {english.lower(): english for english in _NAMES}  # oct., nov.: the English ones, with a dot
_OTHERS = "|".join(sorted(map(re.escape, set(FOREIGN) - {e.lower() for e in _NAMES}), key=len, reverse=True))
_ENGLISH = "|".join(_NAMES).lower()
_PATTERN = re.compile(rf"(?i)\b(?:({_OTHERS})\b\.?|({_ENGLISH})\.)")  # group 1 or 2: the name
_ANY = re.compile(rf"(?i)\b(?:(?:{_OTHERS})\b|(?:{_ENGLISH})\.)")


def in_english(text: pd.Series) -> pd.Series:
    """``text`` with each month name of another language replaced by its English abbreviation
    (``text`` itself when it holds none: the common case costs one vectorised search)."""
    if text.empty or not text.astype("string").str.contains(_ANY, na=False).any():
        return text
    return text.astype("string").str.replace(
        _PATTERN, lambda m: FOREIGN[(m.group(1) or m.group(2)).lower()], regex=True
    )


_OFFSETS = {name.lower(): k for k, name in enumerate(_NAMES)} | {f"q{q}": 3 * (q - 1) for q in range(1, 5)}


def calendar_columns(columns: list[str]) -> dict[str, int]:
    """The columns of a year's table named by its months (``Jan`` ... ``Dec``, full or abbreviated,
    in any language read above) or its quarters (``Q1`` ... ``Q4``): name -> months after January;
    {} unless at least 4 columns are such, each month once."""
    names = in_english(pd.Series(columns, dtype="string").str.strip()).str.lower().str.rstrip(".")
    found = {c: _OFFSETS[n] for c, n in zip(columns, names) if n in _OFFSETS}
    return found if len(found) >= 4 and len(set(found.values())) == len(found) else {}


def month_offsets(labels: pd.Series) -> pd.Series:
    """Row labels -> months after January (``Jan`` 0 ... ``Dec`` 11, ``Q3`` 6), NaN where a label is
    no month (a ``Total`` row)."""
    names = in_english(labels.astype("string").str.strip()).str.lower().str.rstrip(".")
    return names.map(_OFFSETS).astype(float)


def year_columns(columns: list[str]) -> dict[str, str]:
    """The columns named by a year (``2019``): name -> its first day."""
    return {c: f"{c.strip()}-01-01" for c in columns if re.fullmatch(r"(1[89]|2[01])\d\d", c.strip())}
