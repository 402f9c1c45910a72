"""Timestamps in a CSV column: the strict format that reads them, and whether a column holds any."""

from __future__ import annotations

import calendar
import re

import numpy as np
import pandas as pd

from tasks.ingest.months import in_english

TIME_NAMES = {
    *("ds", "date", "time", "timestamp", "datetime", "month", "period", "week", "day", "dt"),
    *("year", "quarter", "dates", "date_time", "time_stamp", "yearmonth"),
    # the same in the languages of the month names read (months.py)
    *("datum", "monat", "jahr", "zeit", "zeitstempel", "woche", "quartal", "mois", "année", "annee", "jour"),
    *("semaine", "trimestre", "période", "periode", "fecha", "mes", "año", "semana", "periodo", "período"),
    *("mese", "anno", "giorno", "settimana", "mês", "ano", "maand", "jaar", "kwartaal", "tijd"),
    *("fy", "fiscal year", "fiscal_year", "financial year", "financial_year"),
}
TIME_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%z",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m-%d-%Y",
    "%d-%m-%Y",
    "%d.%m.%Y",
    "%m/%d/%y",
    "%d/%m/%y",
    "%m-%d-%y",
    "%d-%m-%y",
    "%d.%m.%y",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%m-%d-%Y %H:%M",
    "%d-%m-%Y %H:%M",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%YM%m",
    "%b-%y",
    "%Y%m%d",
    "%m.%Y",  # 01.2020: a month, as German exports write it (under a time column's name only: 3.1415 is a number)
    "%Y",
)
ISO_WEEK = "%G-W%V-%u"  # 2020-W02 (its Monday), 2020-W02-3, 2020W02
QUARTER = "quarter"  # 2020Q1, 2020-Q1, Q1 2020, Q1-2020: the quarter's first day
QUARTER_NUMBER = "year-quarter"  # 2020-1 ... 2020-4, under a quarter column's name only (else a month)
QUARTER_NAMES = {"quarter", "qtr", "quarterly", "trimestre", "quartal", "kwartaal"}
FISCAL_YEAR = "fiscal-year"  # 2019-20, 2019/2020, FY2020, FY 20: the calendar year it ends in (each 2020-01-01)
YEAR_MONTH = "year-month"  # 202001: a month as statistics offices and databases write it (years 1800-2199)
EXCEL_SERIAL = "excel-serial"  # days since 1899-12-30, how a spreadsheet stores a date as a number
EPOCH_SECONDS, EPOCH_MILLIS = "epoch-s", "epoch-ms"  # Unix time, as logs and sensors export it
NUMERIC_DATES = {  # format -> (the numbers taken for dates: from, to), seconds per unit, day 0
    EXCEL_SERIAL: ((20_000, 80_000), 86_400.0, "1899-12-30"),  # 1954-10-03 to 2119-01-11
    EPOCH_SECONDS: ((1e8, 1e10), 1.0, "1970-01-01"),  # 1973-03-03 to 2286-11-20
    EPOCH_MILLIS: ((1e11, 1e13), 1e-3, "1970-01-01"),
}
SPECIAL_FORMATS = (
    ISO_WEEK,
    QUARTER,
    QUARTER_NUMBER,
    FISCAL_YEAR,
    YEAR_MONTH,
    *NUMERIC_DATES,
)  # read by :func:`parse_with`, not arrow's strptime
FISCAL = r"(?i)(?:FY\s?)?(\d{4})\s?[-/\u2013]\s?(\d{4}|\d{2})|FY\s?'?(\d{4}|\d{2})"  # 2019-20 | FY2020
HINTS = {ISO_WEEK: r".*\d-?[Ww]\d.*", QUARTER: r".*[Qq][1-4].*", YEAR_MONTH: r"\d{6}", FISCAL_YEAR: FISCAL}
HINTS |= dict.fromkeys(NUMERIC_DATES, r"\d+(\.\d*)?")
TIME_FORMATS = (*TIME_FORMATS, ISO_WEEK, QUARTER, FISCAL_YEAR, YEAR_MONTH, *NUMERIC_DATES)
DATED_FORMATS = tuple(
    f for f in TIME_FORMATS if f not in ("%Y", "%Y%m%d", "%m.%Y", YEAR_MONTH, *NUMERIC_DATES)
)  # never a plain number
MONTH_FIRST = re.compile(r"^%m([/.-])%d")  # 01/31/2020, 01-31-20: read day first where the values say so
CLOCK = r"\d{1,2}:\d{2}(:\d{2})?"  # a time of day in a column of its own: 10:00, 10:00:00


def time_format(col: pd.Series, dayfirst: bool, formats: tuple[str, ...] = TIME_FORMATS) -> str | None:
    """The strict format that reads at least 90 % of the column's first 500 values, the first of
    TIME_FORMATS on a tie. Slashed or dashed dates are month first unless ``dayfirst`` says otherwise, or
    the values say so: a day over 12 in front (31/01/2021), or, where both readings fit every value,
    day-first dates that fall at a regular frequency where month-first ones do not (01/02/2020,
    01/03/2020, ...: the first of each month, not January's 2nd, 3rd, ...)."""
    s = col.str.strip()
    s = s[s != ""].head(500)
    first = s.iloc[0] if len(s) else ""
    formats = tuple(
        f
        for f in formats
        if not (dayfirst and MONTH_FIRST.match(f)) and (f not in HINTS or re.fullmatch(HINTS[f], first))
    )  # a special format only where the first value has its mark: the cost of a sniff stays
    parsed = {f: parse_with(s, f) for f in formats}
    share = {f: float(v.notna().mean()) for f, v in parsed.items()}
    best = max(share, key=share.__getitem__, default=None)  # the first of the best
    if best is None or share[best] < 0.9:
        return None
    day_first = MONTH_FIRST.sub(r"%d\1%m", best)
    both_fit = day_first != best and share[day_first] == share[best]
    if both_fit and regular(parsed[day_first]) and not regular(parsed[best]):  # the regular reading
        return day_first
    fiscal = best != FISCAL_YEAR and share.get(FISCAL_YEAR) == share[best] and regular(parsed[FISCAL_YEAR])
    return FISCAL_YEAR if fiscal else best  # 2009-10, 2010-11, 2011-12: years, not October, November, December


def parse_with(text: pd.Series, fmt: str) -> pd.Series:
    """Text -> timestamps in the strict format ``fmt`` (NaT where it does not fit): a strptime format
    or one of :data:`SPECIAL_FORMATS` (an ISO week is its Monday unless a weekday follows)."""
    if fmt == ISO_WEEK:
        parts = text.str.strip().str.extract(r"^(\d{4})-?[Ww](\d{1,2})(?:-?([1-7]))?$")
        iso = parts[0] + "-W" + parts[1].str.zfill(2) + "-" + parts[2].fillna("1")
        return pd.to_datetime(iso, format=ISO_WEEK, errors="coerce")
    if fmt == QUARTER:
        parts = text.str.strip().str.extract(r"^(?:(\d{4})[-/ ]?[Qq]([1-4])|[Qq]([1-4])[-/ ]?(\d{4}))$")
        year, quarter = parts[0].fillna(parts[3]), parts[1].fillna(parts[2])
        return pd.to_datetime(
            year + "-" + (quarter.astype(float) * 3 - 2).map("{:02.0f}".format), format="%Y-%m", errors="coerce"
        )
    if fmt == QUARTER_NUMBER:
        parts = text.str.strip().str.extract(r"^(\d{4})[-/. ]0?([1-4])$")
        months = (parts[1].astype(float) * 3 - 2).map("{:02.0f}".format)
        return pd.to_datetime(parts[0] + "-" + months, format="%Y-%m", errors="coerce")
    if fmt == FISCAL_YEAR:
        return _fiscal_years(text)
    if fmt == YEAR_MONTH:
        months = text.str.strip()
        return pd.to_datetime(months.where(months.str.fullmatch(r"(1[89]|2[01])\d\d(0[1-9]|1[0-2])")), format="%Y%m")
    if fmt in NUMERIC_DATES:
        (low, high), unit, day0 = NUMERIC_DATES[fmt]
        v = np.array(pd.to_numeric(text.str.strip(), errors="coerce"), dtype=np.float64)
        v[(v < low) | (v >= high)] = np.nan
        return pd.Series(np.datetime64(day0, "ms") + np.round(v * unit * 1000).astype("timedelta64[ms]"), text.index)
    if "%b" in fmt or "%B" in fmt:
        text = in_english(text)
    return pd.to_datetime(text, format=fmt, errors="coerce", utc="%z" in fmt)


def _fiscal_years(text: pd.Series) -> pd.Series:
    """FY2020, FY20, 2019-20, 2019/2020 -> 2020-01-01, the calendar year the fiscal year ends in; NaT
    where the two years of a span do not follow each other (2019-21) or the text is no fiscal year."""
    text = text.str.strip()
    parts = text.where(text.str.fullmatch(FISCAL)).str.extract(FISCAL).astype(float)
    start, end, named = parts[0], parts[1], parts[2]
    named = named.where(named >= 100, named + np.where(named < 69, 2000, 1900))  # FY20: 2020, FY99: 1999
    end = end.where(end >= 100, start // 100 * 100 + end)
    end = end.where((end >= start) | end.isna(), end + 100)  # 1999-00: 2000
    end = end.where(end == start + 1)
    year = named.fillna(end)
    return pd.to_datetime(year.map("{:.0f}".format, na_action="ignore"), format="%Y", errors="coerce")


def fiscal_note(fmt: str | None, column_months: dict[str, int]) -> list[str]:
    """What the ingest report says of a file read in fiscal years (nothing for any other format)."""
    if fmt != FISCAL_YEAR:
        return []
    first = min(column_months.values(), default=0)  # Jul ... Jun columns: -6, July in the year before
    early = f"; its months from {calendar.month_abbr[first + 13]} in the year before" if first < 0 else ""
    return [f"fiscal years read as the calendar year each ends in{early}"]


def read_timestamps(col: pd.Series) -> pd.Series:
    """A column of another input (a future-values file) -> naive timestamps, NaT where unreadable:
    as it is when typed already, else in the strict format the ingest would find, else flexibly;
    NaT too for a year the tables' nanosecond timestamps cannot hold (before 1677, after 2262)."""
    if pd.api.types.is_datetime64_any_dtype(col):
        out = col
    else:
        text = col.astype("string").fillna("")
        fmt = time_format(text, dayfirst=False)
        out = parse_with(text, fmt) if fmt else flexible(text)
    out = out.dt.tz_convert(None) if getattr(out.dt, "tz", None) is not None else out
    return out.where(out.between(pd.Timestamp.min, pd.Timestamp.max))


def flexible(text: pd.Series) -> pd.Series:
    """Text in no single format -> UTC timestamps (slower: each value on its own); NaT where
    unreadable or outside the years a nanosecond timestamp holds (``Jan-10`` read as the year 10).
    Numeric dates (``05-01-2020 7:30``) are read day first throughout when one of them has a day
    over 12 in front, month first otherwise; a value only the other reading fits is NaT, never
    read the other way round on its own."""
    parts = text.astype("string").str.extract(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}\b").astype(float)
    numeric = parts[0].notna()
    dayfirst = bool((parts[0][numeric] > 12).any())
    out = pd.to_datetime(in_english(text), errors="coerce", format="mixed", utc=True)
    if dayfirst:  # only those: dateutil would read 2020-01-05 as May 1st day first
        out[numeric] = pd.to_datetime(text[numeric], errors="coerce", format="mixed", dayfirst=True, utc=True)
    swapped = numeric & (out.dt.day != parts[0 if dayfirst else 1])
    return out.where((out.dt.year > 1677) & (out.dt.year < 2262) & ~swapped)


def dated_columns(columns: list[str], least: int = 3) -> dict[str, pd.Timestamp]:
    """The columns named by dates, as a planning sheet or a pivot table exports one row per series
    and one column per period (``item,2021-01,2021-02,...``; ``Country,1960,1961,...``): name ->
    timestamp, read in the one strict format that reads the most names (at least ``least``, all
    distinct), else flexibly (``Jan 2021``); {} when there are fewer."""
    names = pd.Series(columns, dtype="string").str.strip()
    years = names.where(names.str.fullmatch(r"\d{4}"), "")  # "%Y" only for 4-digit names: never "1", "2"
    tries = [parse_with(names, f) for f in DATED_FORMATS] + [parse_with(years, "%Y")]
    wordy = names.str.contains(r"\d") & names.str.contains(r"[A-Za-z]") & ~names.str.contains(r"[_]")
    tries.append(flexible(names.where(wordy, "")).dt.tz_convert(None))
    best = max(tries, key=lambda t: int(t.notna().sum()))
    fiscal = tries[DATED_FORMATS.index(FISCAL_YEAR)]
    best = fiscal if fiscal.notna().sum() == best.notna().sum() and regular(fiscal) else best  # 2010-11: a year
    found = {c: t for c, t in zip(columns, best) if pd.notna(t)}
    return found if len(found) >= least and len(set(found.values())) == len(found) else {}


def regular(ts: pd.Series) -> bool:
    """Whether the distinct timestamps fall at one frequency pandas can name."""
    t = pd.DatetimeIndex(ts.dropna().unique()).sort_values()
    return len(t) >= 3 and pd.infer_freq(t) is not None


def is_date(field: str) -> bool:
    return bool(field.strip()) and time_format(pd.Series([field]), False, DATED_FORMATS) is not None


def looks_like_time(col: pd.Series) -> bool:
    """Dates under a name that does not say so: a strict format that is not a plain number ("%Y" and
    "%Y%m%d" would read counts as years), or flexible parsing of text that is not number-like."""
    s = col.str.strip()
    if time_format(s, dayfirst=False, formats=DATED_FORMATS) or time_format(s, dayfirst=True, formats=DATED_FORMATS):
        return True
    return not s.str.fullmatch(r"[-+]?[\d.,]+").all() and flexible(s).notna().mean() >= 0.9


def date_and_clock(sample: pd.DataFrame) -> tuple[str, str, str] | None:
    """(the date column, the time-of-day column, the format of the two joined by a space) when the
    timestamp is split in two: one column of dates without a time, one of nothing but times of day."""
    first = sample.iloc[0].astype(str)
    clocks = [c for c in sample.columns if ":" in first[c] and sample[c].str.strip().str.fullmatch(CLOCK).all()]
    dates = [c for c in sample.columns if c not in clocks and re.search(r"\d[-/.]\d", first[c])]
    if len(clocks) != 1 or not dates:
        return None
    formats = {c: time_format(sample[c], False, DATED_FORMATS) for c in dates}
    dated = [c for c, f in formats.items() if f is not None and "%H" not in f]
    if len(dated) != 1:
        return None
    seconds = sample[clocks[0]].str.strip().str.count(":").max() == 2
    return dated[0], clocks[0], f"{formats[dated[0]]} {'%H:%M:%S' if seconds else '%H:%M'}"
