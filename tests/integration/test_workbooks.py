"""Workbooks as people keep them: a cover or notes sheet in front of the data."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd

from tasks.adapters.curated import Curated
from tasks.adapters.settings import IngestSettings
from tasks.adapters.storage import Storage
from tasks.ingest.stage import ingest_files


def _book(path: Path, sheets: dict[str, list[list]], active: str) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.active = book.sheetnames.index(active)
    book.save(path)


def test_a_notes_sheet_in_front_is_passed_over_for_the_sheet_that_holds_the_table(tmp_path):
    notes = [["Sales by month"], ["Source: the ERP export"], ["Contact: planning"]]
    data = [["Month", "Sales"], *[[datetime(2020, m, 1), 10.0 + m] for m in range(1, 13)], ["Total", 198]]
    _book(tmp_path / "sales.xlsx", {"Notes": notes, "Data": data, "Chart data": [["x"], [1]]}, active="Notes")
    before = (tmp_path / "sales.xlsx").read_bytes()
    storage = Storage(str(tmp_path / "storage"))
    (report,) = ingest_files(str(tmp_path / "sales.xlsx"), storage, IngestSettings()).files
    assert report["status"] == "ingested" and report["rows"] == 12 and report["rows_bad"] == 1
    assert "read sheet 'Data' (sheet 'Notes' passed over: cannot tell the timestamp column" in report["reason"]
    assert Curated(storage).read()["y"].tolist() == [10.0 + m for m in range(1, 13)]
    quarantined = [json.loads(p.read_text()) for p in (Path(storage.root) / "quarantine").glob("*.json")]
    assert [(r["line"], r["code"]) for q in quarantined for r in q["rows"]] == [(14, "bad_timestamp")]  # Data's row 14
    assert (tmp_path / "sales.xlsx").read_bytes() == before


def test_the_active_sheet_is_read_when_it_holds_a_table_and_its_reason_given_when_none_does(tmp_path):
    data = [["Month", "Sales"], *[[datetime(2020, m, 1), 10.0 + m] for m in range(1, 13)]]
    other = [["Month", "Sales"], *[[datetime(2021, m, 1), 99.0] for m in range(1, 13)]]
    _book(tmp_path / "two.xlsx", {"Old": other, "Now": data}, active="Now")
    storage = Storage(str(tmp_path / "storage"))
    (report,) = ingest_files(str(tmp_path / "two.xlsx"), storage, IngestSettings()).files
    assert report["status"] == "ingested" and "read sheet" not in report["reason"]
    assert Curated(storage).read()["y"].tolist() == [10.0 + m for m in range(1, 13)]
    _book(tmp_path / "words.xlsx", {"A": [["just"], ["words"]], "B": [["more", "words"], ["x", "y"]]}, active="A")
    (report,) = ingest_files(str(tmp_path / "words.xlsx"), Storage(str(tmp_path / "s2")), IngestSettings()).files
    assert report["status"] == "rejected" and report["reason"].startswith("no_time_column")


def test_a_workbook_table_of_years_by_months_is_one_monthly_series_and_its_total_left_beside(tmp_path):
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    rows = [
        ["Year", *months, "Total"],
        *[[y, *[100.0 * k + m for m in range(12)], 0] for k, y in enumerate([2021, 2022])],
    ]
    _book(tmp_path / "sales.xlsx", {"Sales": rows}, active="Sales")
    storage = Storage(str(tmp_path / "storage"))
    (report,) = ingest_files(str(tmp_path / "sales.xlsx"), storage, IngestSettings()).files
    assert report["status"] == "ingested" and report["shape"] == "calendar" and report["series"] == 1
    assert "a table of months by years; left out beside it: Total" in report["reason"]
    df = Curated(storage).read().sort_values("ds")
    assert df["y"].tolist() == [100.0 * k + m for k in range(2) for m in range(12)]
    assert pd.DatetimeIndex(df["ds"]).strftime("%Y-%m").tolist()[11:13] == ["2021-12", "2022-01"]
