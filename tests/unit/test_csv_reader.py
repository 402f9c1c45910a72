"""CSV parsing (tasks.ingest.csv_reader.parse_csv) on tiny in-memory files: shapes, dialects, bad rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.ingest.sniff import FileRejected
from tests.conftest import parse_csv

ROOT = Path(__file__).resolve().parents[2]


def rows(parsed) -> list[tuple[str, str, float]]:
    """The frame as (unique_id, YYYY-MM-DD, y) tuples, in frame order."""
    f = parsed.frame
    return [
        (str(u), pd.Timestamp(d).strftime("%Y-%m-%d"), float(y)) for u, d, y in zip(f["unique_id"], f["ds"], f["y"])
    ]


def test_air_passengers_shape_is_a_single_series_named_after_the_file():
    payload = b"Month,#Passengers\n1949-01,112\n1949-02,118\n1949-03,132\n"
    p = parse_csv(payload, "some/folder/AirPassengers.csv")
    assert p.shape == "single"
    assert list(p.frame.columns[:3]) == ["unique_id", "ds", "y"]
    assert rows(p) == [
        ("AirPassengers", "1949-01-01", 112.0),
        ("AirPassengers", "1949-02-01", 118.0),
        ("AirPassengers", "1949-03-01", 132.0),
    ]
    assert p.frame["ds"].iloc[0] == pd.Timestamp("1949-01-01")
    assert str(p.frame["ds"].dtype) == "datetime64[ns]" and p.frame["y"].dtype == np.float64
    assert p.bad_rows == [] and p.duplicates == 0


def test_the_real_air_passengers_file():
    path = ROOT / "data" / "AirPassengers.csv"
    p = parse_csv(path.read_bytes(), path.name)
    assert p.shape == "single" and p.bad_rows == []
    assert len(p.frame) == 144 and set(p.frame["unique_id"]) == {"AirPassengers"}
    assert p.frame["ds"].iloc[0] == pd.Timestamp("1949-01-01") and p.frame["ds"].iloc[-1] == pd.Timestamp("1960-12-01")
    assert p.frame["y"].iloc[0] == 112.0


def test_long_file_with_two_series():
    payload = (
        b"series_id,timestamp,value\nb,2020-01-02,4\na,2020-01-01,1\nb,2020-01-01,3\na,2020-01-02,2\nb,2020-01-03,5\n"
    )
    p = parse_csv(payload, "long.csv")
    assert p.shape == "long"
    # sorted by (unique_id, ds) whatever the file order
    assert rows(p) == [
        ("a", "2020-01-01", 1.0),
        ("a", "2020-01-02", 2.0),
        ("b", "2020-01-01", 3.0),
        ("b", "2020-01-02", 4.0),
        ("b", "2020-01-03", 5.0),
    ]
    assert p.bad_rows == []


def test_wide_file_blank_cell_is_an_absent_point_not_an_error():
    payload = b"date,a,b\n2020-01-01,1,10\n2020-01-02,2,\n2020-01-03,3,30\n"
    p = parse_csv(payload, "wide.csv")
    assert p.shape == "wide"
    assert p.bad_rows == []
    assert rows(p) == [
        ("a", "2020-01-01", 1.0),
        ("a", "2020-01-02", 2.0),
        ("a", "2020-01-03", 3.0),
        ("b", "2020-01-01", 10.0),
        ("b", "2020-01-03", 30.0),
    ]
    assert p.frame.groupby("unique_id").size().to_dict() == {"a": 3, "b": 2}


def test_semicolon_delimiter_with_decimal_commas():
    payload = b"date;value\n2020-01-01;1,5\n2020-01-02;2,25\n2020-01-03;1.234,5\n"
    p = parse_csv(payload, "euro.csv")
    assert p.shape == "single" and p.bad_rows == []
    assert rows(p) == [("euro", "2020-01-01", 1.5), ("euro", "2020-01-02", 2.25), ("euro", "2020-01-03", 1234.5)]


def test_semicolon_long_file_with_decimal_commas():
    payload = b"id;ds;y\nx;2021-03-01;0,5\nx;2021-03-02;-1,75\ny;2021-03-01;10,0\n"
    p = parse_csv(payload, "l.csv")
    assert p.shape == "long"
    assert rows(p) == [("x", "2021-03-01", 0.5), ("x", "2021-03-02", -1.75), ("y", "2021-03-01", 10.0)]


def test_utf8_bom_is_not_part_of_the_first_column_name():
    payload = "\ufeffdate,value\n2020-01-01,1\n2020-01-02,2\n".encode("utf-8")
    assert payload.startswith(b"\xef\xbb\xbf")
    p = parse_csv(payload, "bom.csv")
    assert p.shape == "single" and p.bad_rows == []
    assert rows(p) == [("bom", "2020-01-01", 1.0), ("bom", "2020-01-02", 2.0)]


def test_utf8_bom_on_a_long_file_keeps_the_id_column():
    payload = "\ufeffunique_id,ds,y\na,2020-01-01,1\nb,2020-01-01,2\n".encode("utf-8")
    p = parse_csv(payload, "bom_long.csv")
    assert p.shape == "long"
    assert rows(p) == [("a", "2020-01-01", 1.0), ("b", "2020-01-01", 2.0)]


def test_bad_value_and_bad_timestamp_rows_are_set_aside_with_line_numbers():
    payload = (
        b"date,value\n"  # line 1: header
        b"2020-01-01,1\n"  # line 2
        b"2020-01-02,abc\n"  # line 3: bad value
        b"2020-01-03,3\n"  # line 4
        b"notadate,4\n"  # line 5: bad timestamp
        b"2020-01-05,5\n"
    )  # line 6
    p = parse_csv(payload, "dirty.csv")
    assert rows(p) == [("dirty", "2020-01-01", 1.0), ("dirty", "2020-01-03", 3.0), ("dirty", "2020-01-05", 5.0)]
    got = sorted((r["line"], r["code"], r["column"]) for r in p.bad_rows)
    assert got == [(3, "bad_value", "value"), (5, "bad_timestamp", "date")]
    by_line = {r["line"]: r for r in p.bad_rows}
    assert "abc" in by_line[3]["raw"] and "notadate" in by_line[5]["raw"]
    assert all(r["message"] for r in p.bad_rows)


def test_bad_rows_in_a_long_file():
    payload = b"series_id,timestamp,value\na,2020-01-01,1\na,2020-13-45,2\nb,2020-01-01,x1\nb,2020-01-02,4\n"
    p = parse_csv(payload, "long_dirty.csv")
    assert rows(p) == [("a", "2020-01-01", 1.0), ("b", "2020-01-02", 4.0)]
    assert sorted((r["line"], r["code"]) for r in p.bad_rows) == [(3, "bad_timestamp"), (4, "bad_value")]


def test_missing_and_non_finite_cells_have_their_own_codes():
    payload = b"date,value\n2020-01-01,1\n2020-01-02,nan\n2020-01-03,inf\n2020-01-04,\n,5\n2020-01-06,6\n"
    p = parse_csv(payload, "holes.csv")
    assert rows(p) == [("holes", "2020-01-01", 1.0), ("holes", "2020-01-06", 6.0)]
    assert sorted((r["line"], r["code"]) for r in p.bad_rows) == [
        (3, "non_finite"),
        (4, "non_finite"),
        (5, "missing_value"),
        (6, "missing_timestamp"),
    ]


def test_wide_file_bad_cell_names_its_column_and_keeps_the_other_series():
    payload = b"date,a,b\n2020-01-01,1,x\n2020-01-02,2,3\n"
    p = parse_csv(payload, "wide_dirty.csv")
    assert rows(p) == [("a", "2020-01-01", 1.0), ("a", "2020-01-02", 2.0), ("b", "2020-01-02", 3.0)]
    assert [(r["line"], r["column"], r["code"]) for r in p.bad_rows] == [(2, "b", "bad_value")]


def test_crlf_line_endings():
    p = parse_csv(b"date,value\r\n2020-01-01,1\r\n2020-01-02,2\r\n", "crlf.csv")
    assert rows(p) == [("crlf", "2020-01-01", 1.0), ("crlf", "2020-01-02", 2.0)] and p.bad_rows == []


def test_duplicates_keep_the_last_row():
    payload = b"id,ds,y\na,2020-01-01,1\na,2020-01-02,2\na,2020-01-01,9\nb,2020-01-01,5\n"
    p = parse_csv(payload, "dups.csv")
    assert p.duplicates == 1
    assert rows(p) == [("a", "2020-01-01", 9.0), ("a", "2020-01-02", 2.0), ("b", "2020-01-01", 5.0)]


@pytest.mark.parametrize("payload", [b"", b"\n", b"  \n\n"])
def test_empty_file_is_rejected(payload):
    with pytest.raises(FileRejected) as exc:
        parse_csv(payload, "empty.csv")
    assert exc.value.code == "empty_file"
    assert isinstance(exc.value, ValueError)


def test_header_only_file_is_rejected():
    with pytest.raises(FileRejected) as exc:
        parse_csv(b"date,value\n", "header.csv")
    assert exc.value.code == "header_only"


def test_two_numeric_non_standard_columns_are_ambiguous_until_value_col_is_given():
    payload = b"item,ds,price,qty\na,2020-01-01,1,5\na,2020-01-02,2,6\nb,2020-01-01,3,7\n"
    with pytest.raises(FileRejected) as exc:
        parse_csv(payload, "shop.csv")
    assert exc.value.code == "ambiguous_value"
    assert "price" in str(exc.value) and "qty" in str(exc.value)
    p = parse_csv(payload, "shop.csv", value_col="qty")
    assert p.shape == "long"
    assert rows(p) == [("a", "2020-01-01", 5.0), ("a", "2020-01-02", 6.0), ("b", "2020-01-01", 7.0)]
    q = parse_csv(payload, "shop.csv", value_col="price")
    assert [y for _, _, y in rows(q)] == [1.0, 2.0, 3.0]


def test_a_year_column_of_integers_is_the_timestamp():
    payload = b"year,flow\n1871,1120\n1872,1160\n1873,963\n"
    p = parse_csv(payload, "nile.csv")
    assert p.shape == "single"
    assert rows(p) == [("nile", "1871-01-01", 1120.0), ("nile", "1872-01-01", 1160.0), ("nile", "1873-01-01", 963.0)]


def test_day_first_dotted_dates_under_any_name_with_decimal_commas():
    payload = b"Datum;Wert\n01.01.2015;102,5\n01.02.2015;105,25\n01.03.2015;1.001,5\n"
    p = parse_csv(payload, "umsatz.csv")
    assert p.shape == "single" and p.bad_rows == []
    assert rows(p) == [
        ("umsatz", "2015-01-01", 102.5),
        ("umsatz", "2015-02-01", 105.25),
        ("umsatz", "2015-03-01", 1001.5),
    ]


def test_a_column_of_plain_numbers_is_never_taken_for_dates():
    payload = b"t,value\n1,101.5\n2,104.6\n3,99.0\n"
    with pytest.raises(FileRejected) as exc:
        parse_csv(payload, "steps.csv")
    assert exc.value.code == "no_time_column"


def test_quoted_thousands_separators_in_a_comma_delimited_file():
    payload = b'date,sales\r\n2020-01-01,"5,000.3"\r\n2020-02-01,"12,345"\r\n2020-03-01,987.5\r\n2020-04-01,"1,2"\r\n'
    p = parse_csv(payload, "sales.csv")
    assert p.shape == "single"
    assert rows(p) == [
        ("sales", "2020-01-01", 5000.3),
        ("sales", "2020-02-01", 12345.0),
        ("sales", "2020-03-01", 987.5),
    ]
    assert [(r["line"], r["code"], r["column"]) for r in p.bad_rows] == [(5, "bad_value", "sales")]


@pytest.mark.parametrize("name", ["", "Unnamed: 0", "index"])
def test_the_row_numbers_pandas_writes_first_are_no_series_and_no_covariate(name):
    single = f"{name},ds,y\n0,2020-01-01,1.5\n1,2020-02-01,2.5\n2,2020-03-01,3.5\n".encode()
    p = parse_csv(single, "x.csv")
    assert p.shape == "single"
    assert rows(p) == [("x", "2020-01-01", 1.5), ("x", "2020-02-01", 2.5), ("x", "2020-03-01", 3.5)]
    long = f"{name},unique_id,ds,y\n0,a,2020-01-01,1.5\n1,a,2020-02-01,2.5\n2,b,2020-01-01,3.5\n".encode()
    q = parse_csv(long, "l.csv")
    assert q.shape == "long" and list(q.frame.columns) == ["unique_id", "ds", "y"]
    assert rows(q) == [("a", "2020-01-01", 1.5), ("a", "2020-02-01", 2.5), ("b", "2020-01-01", 3.5)]


def test_a_first_column_of_values_is_not_taken_for_row_numbers():
    payload = b",north,south\n2020-01-01,1,2\n2020-02-01,3,4\n"  # unnamed, but dates: the time column
    assert parse_csv(payload, "w.csv").shape == "wide"
    stock = b"index,ds\n100,2020-01-01\n250,2020-01-02\n"  # a column named index that is the value
    assert rows(parse_csv(stock, "s.csv")) == [("s", "2020-01-01", 100.0), ("s", "2020-01-02", 250.0)]


def _dated(fmt: str, dates: pd.DatetimeIndex) -> bytes:
    return ("date,sales\n" + "".join(f"{d.strftime(fmt)},{k}\n" for k, d in enumerate(dates))).encode()


def test_slashed_dates_with_a_day_over_12_in_front_are_read_day_first():
    days = pd.date_range("2021-01-01", periods=40, freq="D")
    p = parse_csv(_dated("%d/%m/%Y", days), "eu.csv")
    assert p.bad_rows == [] and list(pd.DatetimeIndex(p.frame["ds"])) == list(days)


@pytest.mark.parametrize(("fmt", "freq"), [("%d/%m/%Y", "MS"), ("%m/%d/%Y", "MS"), ("%m/%d/%Y", "D")])
def test_slashed_dates_both_readings_fit_take_the_regular_one(fmt, freq):
    """01/02/2020, 01/03/2020, ...: the first of each month, not January's 2nd, 3rd, ...; month first
    when both readings are regular (ten days of 01/01 - 01/10)."""
    dates = pd.date_range("2018-01-01", periods=36 if freq == "MS" else 10, freq=freq)
    p = parse_csv(_dated(fmt, dates), "x.csv")
    assert list(pd.DatetimeIndex(p.frame["ds"])) == list(dates)


def test_dayfirst_set_by_the_user_still_wins():
    payload = b"date,v\n01/02/2020,1\n01/03/2020,2\n01/04/2020,3\n"
    assert rows(parse_csv(payload, "x.csv", dayfirst=True))[0][1] == "2020-02-01"


def test_a_delimiter_at_the_end_of_every_line_makes_no_column():
    payload = b"date,sales,\n2020-01-01,1.5,\n2020-02-01,2.5,\n2020-03-01,3.5,\n"
    p = parse_csv(payload, "excel.csv")
    assert p.shape == "single" and p.bad_rows == []
    assert rows(p) == [("excel", "2020-01-01", 1.5), ("excel", "2020-02-01", 2.5), ("excel", "2020-03-01", 3.5)]


def test_a_file_without_a_header_keeps_its_first_row():
    p = parse_csv(b"2020-01-01,1.5\n2020-02-01,2.5\n2020-03-01,oops\n2020-04-01,4.5\n", "bare.csv")
    assert rows(p) == [("bare", "2020-01-01", 1.5), ("bare", "2020-02-01", 2.5), ("bare", "2020-04-01", 4.5)]
    assert [(r["line"], r["code"], r["column"]) for r in p.bad_rows] == [(3, "bad_value", "y")]  # the 3rd line
    q = parse_csv(b"a,2020-01-01,1\na,2020-02-01,2\nb,2020-01-01,3\n", "bare_long.csv")
    assert q.shape == "long" and rows(q) == [
        ("a", "2020-01-01", 1.0),
        ("a", "2020-02-01", 2.0),
        ("b", "2020-01-01", 3.0),
    ]
    r = parse_csv(b"2020-01-01,1,10\n2020-02-01,2,20\n", "bare_wide.csv")
    assert r.shape == "wide" and sorted(set(r.frame["unique_id"])) == ["y1", "y2"]


def test_a_header_of_names_is_never_taken_for_data():
    p = parse_csv(b"2019,2020\n2020-01-01,5\n2020-02-01,6\n", "odd.csv", time_col="2019")  # numbers, no date
    assert rows(p) == [("odd", "2020-01-01", 5.0), ("odd", "2020-02-01", 6.0)]


def test_currency_signs_and_percent_signs_around_numbers():
    payload = (
        'date,revenue\n2020-01-01,"$1,234.50"\n2020-02-01,-$5\n2020-03-01,€ 7.25\n2020-04-01,12%\n2020-05-01,$abc\n'
    )
    p = parse_csv(payload.encode(), "rev.csv")
    assert [y for _, _, y in rows(p)] == [1234.5, -5.0, 7.25, 12.0]
    assert [(r["line"], r["code"]) for r in p.bad_rows] == [(6, "bad_value")]
    eu = "Datum;Umsatz\n01.01.2020;€ 1.234,50\n01.02.2020;3,5 %\n".encode()
    assert [y for _, _, y in rows(parse_csv(eu, "eu.csv"))] == [1234.5, 3.5]


def test_a_date_column_and_a_time_of_day_column_make_one_timestamp():
    payload = (
        b"Date;Time;Global_active_power\n"
        b"16/12/2006;17:24:00;4.216\n16/12/2006;17:25:00;5.360\n16/12/2006;17:26:00;?\n17/12/2006;00:00:00;1.5\n"
    )
    p = parse_csv(payload, "household.csv")
    assert p.shape == "single"
    stamps = [str(pd.Timestamp(t)) for t in p.frame["ds"]]
    assert stamps == ["2006-12-16 17:24:00", "2006-12-16 17:25:00", "2006-12-17 00:00:00"]
    assert [(r["line"], r["code"]) for r in p.bad_rows] == [(4, "missing_value")]  # "?" marks a missing value
    hm = parse_csv(b"date,time,load\n2022-01-01,00:00,1\n2022-01-01,01:00,2\n2022-01-01,2:00,3\n", "h.csv")
    assert [str(pd.Timestamp(t)) for t in hm.frame["ds"]][-1] == "2022-01-01 02:00:00"
    lines = [f"2022-01-01,{h:02d}:00,{h}" for h in range(12)]
    lines[2] = "2022-13-01,02:00,2"
    bad = parse_csv(("date,time,load\n" + "\n".join(lines) + "\n").encode(), "b.csv")
    assert bad.shape == "single" and len(bad.frame) == 11
    assert [(r["line"], r["code"], r["column"]) for r in bad.bad_rows] == [(4, "bad_timestamp", "date")]


def test_accounting_negatives_spaced_thousands_and_missing_value_marks():
    money = b'date,profit\n2020-01-01,"1,234.00"\n2020-02-01,"(1,234.00)"\n2020-03-01,(5.5)\n2020-04-01,"($2.50)"\n'
    assert [y for _, _, y in rows(parse_csv(money, "p.csv"))] == [1234.0, -1234.0, -5.5, -2.5]
    spaced = "date;ventes\n2020-01-01;1 234,5\n2020-02-01;2\u00a0345\u202f678,5\n2020-03-01;345,25\n".encode()
    assert [y for _, _, y in rows(parse_csv(spaced, "v.csv"))] == [1234.5, 2345678.5, 345.25]
    wide = b"date,a,b\n2020-01-01,1,2\n2020-02-01,#N/A,3\n2020-03-01,N/A,4\n2020-04-01,null,5\n2020-05-01,-,6\n2020-06-01,8,9\n"
    p = parse_csv(wide, "w.csv")  # a column of mostly missing marks is still a series, never the id
    assert p.shape == "wide" and p.bad_rows == [] and sorted(set(p.frame["unique_id"])) == ["a", "b"]
    assert p.frame.loc[p.frame["unique_id"] == "a", "y"].tolist() == [1.0, 8.0]
    single = parse_csv(b"date,v\n2020-01-01,1\n2020-02-01,#N/A\n2020-03-01,3\n", "s.csv")
    assert [(r["line"], r["code"]) for r in single.bad_rows] == [(3, "missing_value")]


def test_a_title_and_an_export_note_above_the_header_are_skipped():
    payload = b"Monthly sales report,,\nExported 2021-01-05,,\n\ndate,sales,region\n2020-01-01,5,A\n2020-02-01,x,A\n"
    p = parse_csv(payload, "report.csv")
    assert p.shape == "long" and rows(p) == [("A", "2020-01-01", 5.0)]
    assert [(r["line"], r["code"], r["column"]) for r in p.bad_rows] == [(6, "bad_value", "sales")]


def test_iso_weeks_are_read_as_their_mondays_and_a_week_that_does_not_exist_is_set_aside():
    weeks = [f"2020-W{w:02d}" for w in range(1, 11)] + ["2020W11", "2020-W12-3", "2021-W53"]
    payload = ("week,units\n" + "".join(f"{w},{k}\n" for k, w in enumerate(weeks))).encode()
    p = parse_csv(payload, "units.csv")
    got = rows(p)
    assert got[0] == ("units", "2019-12-30", 0.0)  # ISO week 1 of 2020 starts on 30 December 2019
    assert got[9] == ("units", "2020-03-02", 9.0)
    assert got[10:] == [("units", "2020-03-09", 10.0), ("units", "2020-03-18", 11.0)]  # W11, W12's Wednesday
    assert [(r["line"], r["code"], r["column"]) for r in p.bad_rows] == [(14, "bad_timestamp", "week")]


def test_spreadsheet_serial_dates_under_a_date_name():
    payload = b"Date,Sales\n43831,10\n43832,11\n43833.5,12\n43834,x\n"
    p = parse_csv(payload, "sales.csv")
    assert p.shape == "single" and rows(p) == [
        ("sales", "2020-01-01", 10.0),
        ("sales", "2020-01-02", 11.0),
        ("sales", "2020-01-03", 12.0),
    ]
    assert pd.Timestamp(p.frame["ds"].iloc[2]) == pd.Timestamp("2020-01-03 12:00")
    assert [(r["line"], r["code"]) for r in p.bad_rows] == [(5, "bad_value")]


def test_years_and_compact_dates_are_not_taken_for_spreadsheet_serials():
    assert rows(parse_csv(b"year,flow\n1990,5\n1991,6\n", "flow.csv"))[0] == ("flow", "1990-01-01", 5.0)
    assert rows(parse_csv(b"date,flow\n20200105,5\n20200106,6\n", "flow.csv"))[0] == ("flow", "2020-01-05", 5.0)


@pytest.mark.parametrize(
    ("stamps", "first"),
    [
        (["2020-W02", "2020-W03"], "2020-01-06"),
        (["43831", "43832"], "2020-01-01"),
        (["13/01/2020", "14/01/2020"], "2020-01-13"),
    ],
)
def test_a_future_values_file_reads_the_formats_the_ingest_reads(tmp_path, stamps, first):
    from tasks.forecast.future import check_future

    path = tmp_path / "future.csv"
    pd.DataFrame({"unique_id": "a", "ds": stamps, "promo": [0, 1]}).to_csv(path, index=False)
    good, _ = check_future(str(path), ["promo"])
    assert pd.Timestamp(good["ds"].min()) == pd.Timestamp(first) and len(good) == 2


@pytest.mark.parametrize(
    ("header", "stamps", "first", "second"),
    [
        ("quarter", ["Q1 2020", "Q2 2020", "Q3 2020"], "2020-01-01", "2020-04-01"),
        ("period", ["2020q4", "2021-Q1", "2021 Q2"], "2020-10-01", "2021-01-01"),
        ("TIME", ["2020M01", "2020M02", "2020M03"], "2020-01-01", "2020-02-01"),
        ("month", ["Jan-20", "Feb-20", "Mar-20"], "2020-01-01", "2020-02-01"),
        ("timestamp", ["1577836800", "1577923200", "1578009600"], "2020-01-01", "2020-01-02"),
        ("time", ["1577836800000", "1577923200000", "1578009600000"], "2020-01-01", "2020-01-02"),
    ],
)
def test_quarters_statistical_months_month_abbreviations_and_unix_time(header, stamps, first, second):
    payload = (f"{header},value\n" + "".join(f"{s},{k}\n" for k, s in enumerate(stamps))).encode()
    p = parse_csv(payload, "v.csv")
    assert p.bad_rows == [] and [r[1] for r in rows(p)[:2]] == [first, second]


def test_a_timestamp_no_nanosecond_clock_holds_is_a_bad_row_not_an_unreadable_file():
    payload = b"date,value\n2020-01-05,1\nFeb 9 2020,2\n0010-01-01,3\n2020-03-01 10:00,4\n"
    p = parse_csv(payload, "v.csv")
    assert len(rows(p)) == 3 and [(r["line"], r["code"]) for r in p.bad_rows] == [(4, "bad_timestamp")]


def test_one_row_per_series_and_one_column_per_month_as_a_planning_sheet_exports():
    payload = (
        b"Product,Region,Price,Jan 2021,Feb 2021,Mar 2021,Apr 2021\n"
        b"Widget,North,9.99,10,11,,13\n"  # a blank month: an absent point
        b"Gadget,South,4.50,20,x,22,23\n"  # a bad cell: that point set aside with its line and column
    )
    p = parse_csv(payload, "plan.csv")
    assert p.shape == "by_date"
    assert rows(p) == [
        ("Gadget_South", "2021-01-01", 20.0),
        ("Gadget_South", "2021-03-01", 22.0),
        ("Gadget_South", "2021-04-01", 23.0),
        ("Widget_North", "2021-01-01", 10.0),
        ("Widget_North", "2021-02-01", 11.0),
        ("Widget_North", "2021-04-01", 13.0),
    ]
    assert [(r["line"], r["code"], r["column"]) for r in p.bad_rows] == [(3, "bad_value", "Feb 2021")]


@pytest.mark.parametrize(
    ("payload", "ids", "first"),
    [
        (
            b"Country Name,Country Code,1990,1991,1992\nAruba,ABW,1.5,,2\nChad,TCD,3,4,5\n",
            {"Aruba_ABW", "Chad_TCD"},
            "1990-01-01",
        ),
        (b"item,2021-01-04,2021-01-11,2021-01-18\n7,1,2,3\n8,4,5,6\n", {"7", "8"}, "2021-01-04"),
        (b"2020-01,2020-02,2020-03\n1,2,3\n", {"sheet"}, "2020-01-01"),  # one row: named after the file
    ],
)
def test_files_with_a_column_per_period(payload, ids, first):
    p = parse_csv(payload, "sheet.csv")
    assert p.shape == "by_date" and set(p.frame["unique_id"]) == ids and rows(p)[0][1] == first


def test_a_column_per_period_with_several_rows_and_nothing_to_name_them_is_refused():
    with pytest.raises(FileRejected) as exc:
        parse_csv(b"2020-01,2020-02,2020-03\n1,2,3\n4,5,6\n", "sheet.csv")
    assert exc.value.code == "ambiguous_id"


def test_numbered_columns_are_not_periods():
    with pytest.raises(FileRejected) as exc:
        parse_csv(b"store,1,2,3\na,1,2,3\n", "s.csv")
    assert exc.value.code == "no_time_column"


def test_decimal_commas_are_found_among_whole_numbers_and_told_from_decimal_points():
    whole_and_comma = "month;units;returns;stock;price\n" + "".join(
        f"2020-{m:02d};{m};1;{9 * m};{m},5\n" for m in range(1, 13)
    )
    p = parse_csv(whole_and_comma.encode(), "eu.csv", value_col="price")
    assert p.bad_rows == [] and p.frame["y"].tolist() == [m + 0.5 for m in range(1, 13)]
    points = "month;price\n" + "".join(f"2020-{m:02d};{m}.5\n" for m in range(1, 13))  # 1.5 in a ; file
    assert parse_csv(points.encode(), "pt.csv").frame["y"].tolist() == [m + 0.5 for m in range(1, 13)]
