"""Timestamps as ordinary exports write them: 202001 months, month names in other languages, 24:00."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import parse_csv

MONTH_STARTS = [f"2020-{m:02d}-01" for m in range(1, 13)]


def _months(parsed) -> list[str]:
    return [pd.Timestamp(d).strftime("%Y-%m-%d") for d in parsed.frame["ds"]]


def test_months_written_as_six_digits_are_months():
    p = parse_csv(("month,sales\n" + "".join(f"2020{m:02d},{m}\n" for m in range(1, 13))).encode(), "m.csv")
    assert _months(p) == MONTH_STARTS and p.bad_rows == [] and p.frame["y"].tolist() == list(range(1, 13))


def test_spreadsheet_serials_stay_serials_not_six_digit_months():
    p = parse_csv(b"date,flow\n43831,5\n43832,6\n43833,7\n", "serials.csv")
    assert _months(p) == ["2020-01-01", "2020-01-02", "2020-01-03"]


MONTH_NAMES = {
    "fr": "janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc.",
    "fr_full": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "de": "Jan Feb Mär Apr Mai Jun Jul Aug Sep Okt Nov Dez",
    "de_full": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "es": "ene feb mar abr may jun jul ago sept oct nov dic",
    "it": "gen feb mar apr mag giu lug ago set ott nov dic",
    "pt": "jan fev mar abr mai jun jul ago set out nov dez",
    "nl": "jan feb mrt apr mei jun jul aug sep okt nov dec",
}


@pytest.mark.parametrize("language", list(MONTH_NAMES))
@pytest.mark.parametrize("style", ["{m}-20", "{m} 2020"])
def test_month_names_in_the_languages_spreadsheets_export(language, style):
    months = MONTH_NAMES[language].split()
    text = "mois;ventes\n" + "".join(f"{style.format(m=m)};{k},5\n" for k, m in enumerate(months))
    p = parse_csv(text.encode(), f"{language}.csv")
    assert _months(p) == MONTH_STARTS and p.bad_rows == []
    assert p.frame["y"].tolist() == [k + 0.5 for k in range(12)]


def test_hour_ending_data_reads_24_00_as_the_next_days_midnight():
    text = "ds,load\n" + "".join(f"2020-01-{d:02d} {h:02d}:00,{h}\n" for d in (1, 2) for h in range(1, 25))
    p = parse_csv(text.encode(), "load.csv")
    assert p.bad_rows == [] and len(p.frame) == 48
    stamps = pd.DatetimeIndex(p.frame["ds"])
    assert (stamps[1:] - stamps[:-1] == pd.Timedelta(hours=1)).all()  # no gap, no repeat
    assert stamps[23] == pd.Timestamp("2020-01-02 00:00") and stamps[-1] == pd.Timestamp("2020-01-03 00:00")
    assert p.frame["y"].iloc[23] == 24.0


@pytest.mark.parametrize(
    ("name", "stamp"),
    [
        ("dashed, day first", "{d:02d}-01-2020"),
        ("two-digit year, day first", "{d:02d}/01/20"),
        ("two-digit year, German", "{d:02d}.01.20"),
        ("dotted with a time", "{d:02d}.01.2020 10:00"),
        ("slashed with seconds", "{d:02d}/01/2020 10:00:00"),
    ],
)
def test_day_first_dates_are_read_day_first_throughout_not_value_by_value(name, stamp):
    """Each value read on its own takes 05-01-2020 for May 1st and 13-01-2020 for January 13th:
    the column is read in one format, the one every value fits."""
    text = "date;y\n" + "".join(f"{stamp.format(d=d)};{d}\n" for d in range(1, 29))
    p = parse_csv(text.encode(), "days.csv")
    days = pd.DatetimeIndex(p.frame["ds"])
    assert p.bad_rows == [] and days.month.unique().tolist() == [1] and days.day.tolist() == list(range(1, 29))


def test_month_first_dashed_dates_stay_month_first():
    text = "date,y\n" + "".join(f"01-{d:02d}-2020,{d}\n" for d in range(1, 29))
    assert pd.DatetimeIndex(parse_csv(text.encode(), "us.csv").frame["ds"]).day.tolist() == list(range(1, 29))


def test_a_german_monthly_export_with_its_own_column_names():
    text = "Monat;Umsatz\n" + "".join(f"{m:02d}.2020;1.2{m:02d},5\n" for m in range(1, 13))
    p = parse_csv(text.encode(), "umsatz.csv")
    assert _months(p) == MONTH_STARTS and p.frame["y"].tolist() == [1200.5 + m for m in range(1, 13)]


def test_an_apostrophe_between_thousands_and_a_typographic_minus_are_numbers():
    text = "date,y\n" + "".join(f'2020-01-{d:02d},"1\'2{d:02d}.5",\u2212{d}\n' for d in range(1, 11))
    p = parse_csv(text.replace("date,y", "date,y,z").encode(), "swiss.csv", value_col="y")
    assert p.bad_rows == [] and p.frame["y"].tolist() == [1200.5 + d for d in range(1, 11)]
    text = "date,y\n" + "".join(f"2020-01-{d:02d},\u2212{d}\n" for d in range(1, 11))
    assert parse_csv(text.encode(), "minus.csv").frame["y"].tolist() == [-float(d) for d in range(1, 11)]


def test_dates_in_no_single_format_are_not_swapped_value_by_value():
    """AM / PM times fit none of the strict formats: each value is read on its own, but day first
    for all of them once one has a day over 12 in front."""
    text = "time,y\n" + "".join(
        f"{d:02d}/01/2020 {h % 12 or 12}:00 {'AM' if h < 12 else 'PM'},{d}\n" for d in range(1, 15) for h in (9, 15)
    )
    p = parse_csv(text.encode(), "ampm.csv")
    stamps = pd.DatetimeIndex(p.frame["ds"])
    assert p.bad_rows == [] and stamps.month.unique().tolist() == [1] and len(stamps) == 28
    assert stamps[0] == pd.Timestamp("2020-01-01 09:00") and stamps[-1] == pd.Timestamp("2020-01-14 15:00")


def test_year_and_quarter_number_under_a_quarter_column_are_quarters_under_a_month_column_months():
    rows = "".join(f"{y}-{q},{q}\n" for y in (2019, 2020) for q in (1, 2, 3, 4))
    quarters = pd.DatetimeIndex(parse_csv(("quarter,y\n" + rows).encode(), "q.csv").frame["ds"])
    assert quarters.strftime("%Y-%m").tolist()[:5] == ["2019-01", "2019-04", "2019-07", "2019-10", "2020-01"]
    months = pd.DatetimeIndex(parse_csv(("month,y\n" + rows).encode(), "m.csv").frame["ds"])
    assert months.strftime("%Y-%m").tolist()[:5] == ["2019-01", "2019-02", "2019-03", "2019-04", "2020-01"]


def _spans(first: int, last: int, style: str) -> list[str]:
    return [style.format(a=y, b=y + 1, b2=f"{(y + 1) % 100:02d}", a2=f"{y % 100:02d}") for y in range(first, last + 1)]


@pytest.mark.parametrize(
    ("column", "style"),
    [
        ("Year", "{a}-{b2}"),  # 2009-10: Australian and British statistics
        ("Financial year", "{a}/{b2}"),
        ("Period", "{a}-{b}"),
        ("Fiscal year", "FY{b}"),
        ("FY", "FY {b2}"),
        ("Year", "FY {a}/{b2}"),
    ],
)
@pytest.mark.parametrize("span", [(2001, 2023), (2001, 2010)])  # 2001-02 ... 2010-11 would also read as months
def test_fiscal_years_are_years_named_by_the_calendar_year_each_ends_in(column, style, span):
    labels = _spans(*span, style)
    text = f"{column},revenue\n" + "".join(f"{label},{k}.5\n" for k, label in enumerate(labels))
    p = parse_csv(text.encode(), "revenue.csv")
    assert p.bad_rows == [] and p.frame["y"].tolist() == [k + 0.5 for k in range(len(labels))]
    assert [pd.Timestamp(d) for d in p.frame["ds"]] == [pd.Timestamp(y + 1, 1, 1) for y in range(span[0], span[1] + 1)]


def test_a_span_that_is_no_fiscal_year_is_a_bad_timestamp_and_months_stay_months():
    p = parse_csv(
        b"year,x\n2017-18,1\n2018-19,2\n2019-21,3\n2020-21,4\n2021-22,5\n2022-23,6\n2023-24,7\n2024-25,8\n"
        b"2025-26,9\n2026-27,10\n2027-28,11\n",
        "fy.csv",
    )
    assert [b["line"] for b in p.bad_rows] == [4] and len(p.frame) == 10
    months = parse_csv(b"month,x\n2011-10,1\n2011-11,2\n2011-12,3\n2012-01,4\n", "m.csv")
    assert _months(months) == ["2011-10-01", "2011-11-01", "2011-12-01", "2012-01-01"]


def test_a_table_with_a_column_per_fiscal_year_reads_them_as_years():
    names = _spans(2001, 2010, "{a}-{b2}")
    text = (
        "Region," + ",".join(names) + "\n" + "".join(f"{r}," + ",".join(str(k) for k in range(10)) + "\n" for r in "NS")
    )
    p = parse_csv(text.encode(), "regions.csv")
    assert sorted({pd.Timestamp(d).year for d in p.frame["ds"]}) == list(range(2002, 2012))


def test_a_table_of_fiscal_years_by_months_from_july_puts_each_month_in_its_calendar_year():
    months = ["Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Jan", "Feb", "Mar", "Apr", "May", "Jun"]
    rows = [
        f"{y}-{(y + 1) % 100:02d}," + ",".join(str(12 * k + m) for m in range(12)) for k, y in enumerate((2018, 2019))
    ]
    p = parse_csv(("Year," + ",".join(months) + "\n" + "\n".join(rows) + "\n").encode(), "fy_months.csv")
    assert p.bad_rows == [] and p.frame["y"].tolist() == [float(v) for v in range(24)]
    assert _months(p)[0] == "2018-07-01" and _months(p)[-1] == "2020-06-01"
    assert (pd.DatetimeIndex(p.frame["ds"]) == pd.date_range("2018-07-01", periods=24, freq="MS")).all()


MONTH_ABBR = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


@pytest.mark.parametrize(
    ("header", "row", "first", "last"),
    [
        ("Year,Month,Sales", "{y},{m},{k}", "2019-01-01", "2020-12-01"),
        ("YEAR,MONTH,Sales", "{y},{name},{k}", "2019-01-01", "2020-12-01"),
        ("Jahr;Monat;Umsatz", "{y};{m:02d};{k},5", "2019-01-01", "2020-12-01"),
        ("Year,Quarter,GDP", "{y},Q{q},{k}", "2015-01-01", "2020-10-01"),
        ("year,quarter,gdp", "{y},{q},{k}", "2015-01-01", "2020-10-01"),
    ],
)
def test_a_timestamp_kept_as_a_year_and_a_month_or_a_quarter_column(header, row, first, last):
    quarterly = "uarter" in header
    stamps = pd.date_range(first, last, freq="QS" if quarterly else "MS")
    lines = [
        row.format(y=t.year, m=t.month, name=MONTH_ABBR[t.month - 1], q=(t.month + 2) // 3, k=k)
        for k, t in enumerate(stamps)
    ]
    p = parse_csv((header + "\n" + "\n".join(lines) + "\n").encode(), "parts.csv")
    assert p.bad_rows == [] and list(pd.DatetimeIndex(p.frame["ds"])) == list(stamps)
    assert p.frame["y"].tolist() == [k + (0.5 if ";" in header else 0) for k in range(len(stamps))]


def test_year_month_day_and_hour_columns_make_one_timestamp_and_a_bad_month_is_a_bad_row():
    stamps = pd.date_range("2010-01-01", periods=72, freq="h")
    rows = [f"{k + 1},{t.year},{t.month},{t.day},{t.hour},{k}.5,{k % 7}" for k, t in enumerate(stamps)]
    rows[5] = rows[5].replace(",2010,1,", ",2010,13,")
    p = parse_csv(
        ("No,year,month,day,hour,pm2.5,TEMP\n" + "\n".join(rows) + "\n").encode(), "air.csv", value_col="pm2.5"
    )
    assert [(b["line"], b["code"]) for b in p.bad_rows] == [(7, "bad_timestamp")]
    assert list(pd.DatetimeIndex(p.frame["ds"])) == list(stamps.delete(5))
    assert p.frame["y"].tolist() == [k + 0.5 for k in range(72) if k != 5]


def test_two_value_columns_beside_a_year_and_a_month_are_two_series_not_stacked_ones():
    text = "Year,Month,Passengers,Flights\n" + "".join(
        f"{2020 + k // 12},{k % 12 + 1},{k},{2 * k}\n" for k in range(24)
    )
    p = parse_csv(text.encode(), "airline.csv")
    assert p.bad_rows == [] and sorted(p.frame["unique_id"].unique()) == ["Flights", "Passengers"]
    assert len(p.frame) == 48 and pd.Timestamp(p.frame["ds"].max()) == pd.Timestamp("2021-12-01")
