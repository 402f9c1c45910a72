"""A timestamp kept in parts, one column each: ``Year,Month,Sales`` (``2020,1`` or ``2020,January``),
``Year,Quarter`` (``2020,1`` or ``2020,Q1``), ``year,month,day`` (``2020,1,31``) and an ``hour``
(0-23) after them, as statistics tables and downloaded data sets often have it. The parts are joined
into one ISO date per row."""

from __future__ import annotations

import pandas as pd

from tasks.ingest.months import month_offsets
from tasks.ingest.timestamps import QUARTER_NAMES

YEAR_NAMES = ("year", "yr", "jahr", "année", "annee", "año", "anno", "ano", "jaar")  # in order of preference
MONTH_NAMES = ("month", "mon", "mnth", "monat", "mois", "mes", "mese", "mês", "maand")
DAY_NAMES = ("day", "dd", "tag", "jour", "día", "dia", "giorno", "dag")
HOUR_NAMES = ("hour", "hr", "hh", "stunde", "heure", "hora", "ora", "uur")


def date_parts(sample: pd.DataFrame) -> tuple[str, list[str], str] | None:
    """(the year column, the columns of its parts: a month or a quarter, then perhaps a day, the
    format of the joined dates) when the timestamp is split so: each part under its own name, at least
    90 % of the sample's rows a year, a month (a number or a name), a quarter or a day; None otherwise."""
    named = {c.strip().casefold(): c for c in sample.columns}
    year = next((named[n] for n in YEAR_NAMES if n in named), None)
    period = next((named[n] for n in (*MONTH_NAMES, *sorted(QUARTER_NAMES)) if n in named), None)
    if year is None or period is None:
        return None
    parts = [period]
    for names in (DAY_NAMES, HOUR_NAMES) if period.strip().casefold() in MONTH_NAMES else ():
        found = next((named[n] for n in names if n in named), None)
        if found is None:
            break
        parts.append(found)  # a day, then an hour of that day
    text = joined(sample[year], [sample[c] for c in parts], parts)
    if text.notna().mean() < 0.9:  # as for a timestamp column: the few others are bad rows
        return None
    return year, parts, ("%Y-%m", "%Y-%m-%d", "%Y-%m-%d %H:%M")[len(parts) - 1]


def joined(year: pd.Series, values: list[pd.Series], parts: list[str]) -> pd.Series:
    """Each row's parts -> ``2020-01``, ``2020-01-31``, ``2020-01-31 23:00`` (a quarter's first month;
    a day out of its month's range is left to the date parser), None where a part is no such part."""
    y = year.astype("string").str.strip()
    y = y.where(y.str.fullmatch(r"(1[89]|2[01])\d\d"))
    period = values[0].astype("string").str.strip()
    number = pd.to_numeric(period.str.replace(r"^[Qq]", "", regex=True), errors="coerce")
    if parts[0].strip().casefold() in QUARTER_NAMES:
        month = (number * 3 - 2).where(number.isin([1, 2, 3, 4]))
    else:
        month = number.where(number.isin(range(1, 13)), month_offsets(period) + 1)
    out = y + "-" + month.map("{:02.0f}".format, na_action="ignore").astype("string")
    for k, (sep, valid, end) in enumerate((("-", range(1, 32), ""), (" ", range(24), ":00")), 1):
        if len(values) > k:  # a day (1-31), an hour (0-23)
            v = pd.to_numeric(values[k].astype("string").str.strip(), errors="coerce")
            out = out + sep + v.where(v.isin(valid)).map("{:02.0f}".format, na_action="ignore").astype("string") + end
    return out.astype(object).where(out.notna(), None)
