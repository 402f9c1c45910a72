"""What the ingest report says about how a file was read: fiscal years as statistics offices and
finance teams label them (which calendar year stands for each), the columns left without a role."""

from __future__ import annotations

import pandas as pd

from tasks.adapters.curated import Curated
from tasks.adapters.settings import IngestSettings
from tasks.adapters.storage import Storage
from tasks.ingest.stage import ingest_files


def test_a_file_of_fiscal_years_is_ingested_as_a_yearly_series_and_the_report_says_how(tmp_path):
    path = tmp_path / "budget.csv"
    path.write_text(
        "Financial year,Spend\n" + "".join(f"{y}-{(y + 1) % 100:02d},{y - 1990}\n" for y in range(2005, 2024))
    )
    before = path.read_bytes()
    storage = Storage(str(tmp_path / "storage"))
    (report,) = ingest_files(str(path), storage, IngestSettings()).files
    assert report["status"] == "ingested" and report["rows"] == 19
    assert report["reason"] == "fiscal years read as the calendar year each ends in"
    df = Curated(storage).read()
    assert [pd.Timestamp(d).year for d in df["ds"]] == list(range(2006, 2025))
    assert pd.infer_freq(pd.DatetimeIndex(df["ds"])) is not None and path.read_bytes() == before


def test_a_table_of_months_by_fiscal_years_says_where_its_months_fall(tmp_path):
    months = ["Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Jan", "Feb", "Mar", "Apr", "May", "Jun"]
    path = tmp_path / "visitors.csv"
    path.write_text("Year," + ",".join(months) + "\n2022-23," + ",".join(map(str, range(12))) + "\n")
    (report,) = ingest_files(str(path), Storage(str(tmp_path / "storage")), IngestSettings()).files
    assert report["status"] == "ingested" and report["rows"] == 12 and report["first"].startswith("2022-07-01")
    assert (
        report["reason"]
        == "fiscal years read as the calendar year each ends in; its months from Jul in the year before"
    )


def test_a_year_month_day_hour_file_with_a_text_column_reads_one_series_and_names_what_it_left_out(tmp_path):
    stamps = pd.date_range("2010-01-01", periods=96, freq="h")
    wind = ["NW", "cv", "SE", "NW", "NE"]
    rows = [
        f"{k + 1},{t.year},{t.month},{t.day},{t.hour},{k if k % 9 else 'NA'},{wind[k % 5]}"
        for k, t in enumerate(stamps)
    ]
    path = tmp_path / "pm25.csv"
    path.write_text("No,year,month,day,hour,pm2.5,cbwd\n" + "\n".join(rows) + "\n")
    storage = Storage(str(tmp_path / "storage"))
    (report,) = ingest_files(str(path), storage, IngestSettings()).files
    assert (report["status"], report["shape"], report["series"]) == ("ingested", "single", 1)
    assert report["reason"].startswith(
        "11 bad rows quarantined (11 without a value); left out, text with no role: cbwd"
    )
    df = Curated(storage).read()
    assert list(pd.DatetimeIndex(df["ds"])) == [t for k, t in enumerate(stamps) if k % 9]


def test_a_year_column_beside_the_dates_is_left_out_and_named(tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text(
        "Year,Date,Sales\n" + "".join(f"{2020 + k // 12},{2020 + k // 12}-{k % 12 + 1:02d}-01,{k}\n" for k in range(24))
    )
    (report,) = ingest_files(str(path), Storage(str(tmp_path / "storage")), IngestSettings()).files
    assert (report["status"], report["shape"], report["series"], report["rows"]) == ("ingested", "single", 1, 24)
    assert report["reason"] == "left out, parts of the timestamp: Year"
