"""Hostile input files: each either ingests correctly or is rejected with a precise reason code,
no valid row is lost, nothing is duplicated, and the input files are never modified."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks.adapters.curated import Curated
from tasks.adapters.settings import IngestSettings
from tasks.adapters.storage import Storage
from tasks.ingest.stage import ingest_files


class Run:
    def __init__(self, tmp_path: Path) -> None:
        self.raw = tmp_path / "raw"
        self.raw.mkdir(exist_ok=True)
        self.storage = Storage(str(tmp_path / "storage"))

    def ingest(self, name: str, content: bytes | str, **cfg) -> dict:
        path = self.raw / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        before = path.read_bytes()
        summary = ingest_files(str(path), self.storage, IngestSettings(**cfg))
        assert path.read_bytes() == before, "the input file was modified"
        (report,) = summary.files
        return report

    def curated(self) -> pd.DataFrame:
        return Curated(self.storage).read()

    def quarantine(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted((Path(self.storage.root) / "quarantine").glob("*.json"))]

    def bad_codes(self) -> list[str]:
        return sorted(r["code"] for q in self.quarantine() for r in q["rows"])


@pytest.fixture
def run(tmp_path) -> Run:
    return Run(tmp_path)


def monthly(n: int, start: str = "2020-01") -> list[str]:
    return list(pd.period_range(start, periods=n, freq="M").astype(str))


def single(n: int = 20) -> str:
    return "month,value\n" + "".join(f"{m},{i + 1}\n" for i, m in enumerate(monthly(n)))


# -- files rejected whole -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, code",
    [
        (b"", "empty_file"),
        (b"   \n\n  ", "empty_file"),
        (b"month,value\n", "header_only"),
        (b"a_label,b_label\nx,y\nz,w\n", "no_time_column"),
        (b"start,end,value\n2020-01-01,2020-02-01,1\n2020-02-01,2020-03-01,2\n", "ambiguous_time"),
        (b"date,id,a1,w\n2020-01-01,a,1,2\n", "ambiguous_value"),
        (b"date,shop,item,y\n2020-01-01,s1,i1,1\n", "ambiguous_id"),
        (b"date,value,value\n2020-01-01,1,2\n", "duplicate_columns"),
        (b"date,value\n2020-01-01,abc\n2020-02-01,def\n", "no_value_column"),
    ],
)
def test_rejected_files(run, content, code):
    report = run.ingest("f.csv", content)
    assert report["status"] == "rejected"
    assert report["reason"].startswith(code + ":"), report["reason"]
    assert run.curated().empty
    assert run.quarantine()[0]["code"] == code


def test_binary_garbage_is_rejected(run):
    rng = np.random.default_rng(0)
    report = run.ingest("garbage.csv", rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    assert report["status"] == "rejected" and run.curated().empty


def test_too_many_bad_rows_rejects_the_file(run):
    lines = ["month,value"] + [f"{m},{'x' if i % 3 == 0 else i}" for i, m in enumerate(monthly(30))]
    report = run.ingest("f.csv", "\n".join(lines) + "\n")
    assert report["status"] == "rejected" and report["reason"].startswith("too_many_bad_rows")
    assert run.curated().empty
    assert len(run.quarantine()[0]["rows"]) == 10  # every bad row is still described


@pytest.mark.parametrize("gaps", ["leave", "fill"])
def test_points_marked_missing_are_gaps_however_many_not_a_reason_to_reject_the_file(run, gaps):
    marks = ["", "NA", "n/a", "-", "..", ".", "#N/A"]  # a third of the points, as statistics publish them
    lines = ["month,value"] + [f"{m},{marks[i % 7] if i % 3 == 1 else i}" for i, m in enumerate(monthly(30))]
    report = run.ingest("sparse.csv", "\n".join(lines) + "\n", gaps=gaps)
    assert report["status"] == "ingested" and report["rows"] == (30 if gaps == "fill" else 20)
    assert report["reason"].startswith("10 bad rows quarantined (10 without a value)")
    assert run.bad_codes() == ["missing_value"] * 10
    df = run.curated()
    assert df["y"].dropna().tolist() == [float(i) for i in range(30) if i % 3 != 1]


def test_duplicates_rejected_when_asked(run):
    report = run.ingest("f.csv", single(5) + "2020-05,99\n", duplicates="reject")
    assert report["status"] == "rejected" and report["reason"].startswith("duplicate_rows")
    assert run.curated().empty


def test_ambiguous_value_resolved_by_mapping(run):
    report = run.ingest("f.csv", b"date,id,y1,w\n2020-01-01,a,1,2\n2020-02-01,a,3,4\n", value_col="y1")
    assert report["status"] == "ingested"
    df = run.curated()
    assert list(df["y"]) == [1.0, 3.0] and list(df["w"]) == [2.0, 4.0]  # the other numeric column: covariate


# -- encodings, delimiters, formats ---------------------------------------------------------------


def test_bom_and_air_passengers_months(run):
    report = run.ingest("AirPassengers.csv", "\ufeffMonth,#Passengers\n1949-01,112\n1949-02,118\n".encode())
    assert report["status"] == "ingested" and report["shape"] == "single"
    df = run.curated()
    assert list(df["unique_id"]) == ["AirPassengers"] * 2
    assert list(df["ds"]) == [pd.Timestamp("1949-01-01"), pd.Timestamp("1949-02-01")]


def test_latin1(run):
    content = "date,store,value\n2020-01-01,Málaga,1\n2020-01-02,Málaga,2\n".encode("latin-1")
    assert run.ingest("f.csv", content)["status"] == "ingested"
    assert set(run.curated()["unique_id"]) == {"Málaga"}


def test_semicolon_and_decimal_comma(run):
    run.ingest("f.csv", "date;value\n2020-01-01;1,5\n2020-01-02;1.234,25\n")
    assert list(run.curated()["y"]) == [1.5, 1234.25]


def test_tab_delimited(run):
    run.ingest("f.tsv.csv", "date\tid\tvalue\n2020-01-01\ta\t1\n2020-01-02\ta\t2\n")
    assert list(run.curated()["y"]) == [1.0, 2.0]


def test_quoted_fields(run):
    run.ingest("f.csv", 'date,id,value\n2020-01-01,"shop, north",1\n2020-01-02,"shop, north","2"\n')
    df = run.curated()
    assert list(df["unique_id"]) == ["shop, north"] * 2 and list(df["y"]) == [1.0, 2.0]


def test_time_zones_normalised_to_utc(run):
    run.ingest("f.csv", "ts,value\n2020-01-01T02:00:00+02:00,1\n2020-01-01T01:00:00Z,2\n2020-01-01T02:00:00+00:00,3\n")
    assert list(run.curated()["ds"]) == [
        pd.Timestamp("2020-01-01 00:00"),
        pd.Timestamp("2020-01-01 01:00"),
        pd.Timestamp("2020-01-01 02:00"),
    ]


def test_us_dates(run):
    run.ingest("f.csv", "date,value\n01/30/2020,1\n01/31/2020,2\n02/01/2020,3\n")
    assert list(run.curated()["ds"].dt.strftime("%Y-%m-%d")) == ["2020-01-30", "2020-01-31", "2020-02-01"]


def test_day_first_dates(run):
    run.ingest("f.csv", "date,value\n30/01/2020,1\n31/01/2020,2\n01/02/2020,3\n", dayfirst=True)
    assert list(run.curated()["ds"].dt.strftime("%Y-%m-%d")) == ["2020-01-30", "2020-01-31", "2020-02-01"]


# -- row-level problems: quarantined, the rest kept -----------------------------------------------


@pytest.mark.parametrize(
    "bad_line, code",
    [
        ("2020-13-45,7", "bad_timestamp"),
        (",7", "missing_timestamp"),
        ("2020-06-01,seven", "bad_value"),
        ("2020-06-01,", "missing_value"),
        ("2020-06-01,NaN", "non_finite"),
        ("2020-06-01,-inf", "non_finite"),
        ("2020-06-01,1" + "0" * 400, "non_finite"),  # overflows float64: never stored as inf
        ("2020-06-01,-2e999", "non_finite"),
    ],
)
def test_bad_row_quarantined_rest_kept(run, bad_line, code):
    good = [f"2020-01-{d:02d},{d}" for d in range(1, 21)]
    lines = ["date,value"] + good[:10] + [bad_line] + good[10:]
    report = run.ingest("f.csv", "\n".join(lines) + "\n")
    assert report["status"] == "ingested" and report["rows"] == 20 and report["rows_bad"] == 1
    assert list(run.curated()["y"]) == [float(d) for d in range(1, 21)]
    (row,) = run.quarantine()[0]["rows"]
    assert (row["line"], row["code"]) == (12, code) and row["raw"] == bad_line


def test_missing_id_and_malformed_rows(run):
    report = run.ingest(
        "f.csv",
        "date,id,value\n2020-01-01,a,1\n2020-01-02,,2\n2020-01-03,a,3,extra\n"
        "2020-01-04,a,4\n" + "".join(f"2020-02-{d:02d},a,{d}\n" for d in range(1, 20)),
    )
    assert report["rows"] == 21 and report["rows_bad"] == 2
    assert run.bad_codes() == ["malformed_row", "missing_id"]


def test_duplicates_keep_last(run):
    report = run.ingest("f.csv", single(5) + "2020-03,99\n")
    assert report["status"] == "ingested" and report["duplicates"] == 1
    df = run.curated()
    assert len(df) == 5 and df.loc[df["ds"] == "2020-03-01", "y"].item() == 99.0


def test_unsorted_input_is_sorted(run):
    lines = single(12).splitlines()
    report = run.ingest("f.csv", "\n".join([lines[0]] + lines[1:][::-1]) + "\n")
    assert report["sorted_input"] is False
    df = run.curated()
    assert df["ds"].is_monotonic_increasing and list(df["y"]) == [float(i) for i in range(1, 13)]


def test_mixed_frequency_series_quarantined(run):
    ok = "".join(f"a,{m}-01,{i}\n" for i, m in enumerate(monthly(12)))
    mixed = "b,2020-01-01,1\nb,2020-02-01,2\nb,2020-02-15,3\nb,2020-03-01,4\n"  # monthly + one mid-month
    report = run.ingest("f.csv", "id,date,value\n" + ok + mixed)
    assert report["status"] == "ingested" and "mixed frequency" in report["reason"]
    assert set(run.curated()["unique_id"]) == {"a"} and len(run.curated()) == 12
    assert "mixed_frequency" in run.bad_codes()


def test_gaps_reported_not_filled(run):
    months = monthly(12)
    del months[4:7]
    report = run.ingest("f.csv", "month,value\n" + "".join(f"{m},{i}\n" for i, m in enumerate(months)))
    assert report["gaps"] == 3 and "3 missing steps" in report["reason"]
    assert len(run.curated()) == 9  # never interpolated


def test_wide_with_blanks(run):
    report = run.ingest("f.csv", "date,a,b\n2020-01-01,1,\n2020-01-02,2,5\n2020-01-03,3,6\n")
    assert report["shape"] == "wide" and report["rows_bad"] == 0 and report["rows"] == 5
    assert run.curated().groupby("unique_id").size().to_dict() == {"a": 3, "b": 2}


def test_series_ids_are_data_not_paths(run, tmp_path):
    rows = "".join(f"{sid},2020-01-{d:02d},{d}\n" for sid in ("../../etc", "a/b", "/abs") for d in range(1, 4))
    run.ingest("f.csv", "id,date,value\n" + rows)
    assert set(run.curated()["unique_id"]) == {"../../etc", "a/b", "/abs"}
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert all(str(p).startswith(("raw/", "storage/")) for p in written)


# -- incremental and idempotent -------------------------------------------------------------------


def test_same_file_twice_adds_nothing(run):
    run.ingest("f.csv", single(10))
    report = run.ingest("f.csv", single(10))
    assert report["status"] == "unchanged" and len(run.curated()) == 10


def test_later_rows_append(run):
    rows = [f"s,{m},{i}\n" for i, m in enumerate(monthly(14))]
    run.ingest("a.csv", "id,month,value\n" + "".join(rows[:10]))
    report = run.ingest("b.csv", "id,month,value\n" + "".join(rows[10:]))
    assert report["status"] == "ingested" and report["replaced"] == 0 and report["rows"] == 4
    df = run.curated()
    assert len(df) == 14 and list(df["y"]) == [float(i) for i in range(14)]


def test_cumulative_export_with_unchanged_history(run):
    run.ingest("export.csv", single(10))
    report = run.ingest("export.csv", single(12))  # same history + 2 new rows
    assert report["status"] == "ingested" and report["replaced"] == 0 and len(run.curated()) == 12


def test_rewritten_history_replaces_by_default(run):
    run.ingest("f.csv", single(10))
    report = run.ingest("f.csv", single(10).replace("2020-03,3", "2020-03,30"))
    assert report["replaced"] == 1
    df = run.curated()
    assert len(df) == 10 and df.loc[df["ds"] == "2020-03-01", "y"].item() == 30.0


def test_rewritten_history_rejected_when_asked(run):
    run.ingest("f.csv", single(10))
    report = run.ingest("f.csv", single(10).replace("2020-03,3", "2020-03,30"), on_overlap="reject")
    assert report["status"] == "rejected" and report["reason"].startswith("rewrites_history")
    assert run.curated().loc[run.curated()["ds"] == "2020-03-01", "y"].item() == 3.0


def test_new_covariate_column_is_a_schema_change(run):
    run.ingest("a.csv", "date,id,value\n2020-01-01,a,1\n2020-01-02,a,2\n")
    bad = run.ingest("b.csv", "date,id,value,price\n2020-01-03,a,3,9\n2020-01-04,a,4,9\n")
    assert bad["status"] == "rejected" and bad["reason"].startswith("schema_mismatch")
    ok = run.ingest("c.csv", "date,id,value,price\n2020-01-05,a,3,9\n2020-01-06,a,4,9\n", allow_schema_change=True)
    assert ok["status"] == "ingested" and len(run.curated()) == 4


def test_rejected_file_keeps_dataset_intact(run):
    run.ingest("a.csv", single(10))
    before = run.curated()
    run.ingest("b.csv", b"month,value\n")
    pd.testing.assert_frame_equal(run.curated(), before)


def test_gaps_are_read_on_each_series_calendar(run):
    days = pd.bdate_range("2022-01-03", periods=60)
    full = run.ingest("weekdays.csv", "date,value\n" + "".join(f"{d.date()},{i}\n" for i, d in enumerate(days)))
    assert full["gaps"] == 0 and "missing" not in full["reason"]  # Mon-Fri data miss no weekend
    holidays = days.delete([7, 30])
    report = run.ingest(
        "stock.csv", "date,close\n" + "".join(f"{d.date()},{i}\n" for i, d in enumerate(holidays)), gaps="fill"
    )
    assert report["gaps"] == 2
    ends = pd.date_range("2020-01-31", periods=24, freq="ME").delete(9)
    report = run.ingest(
        "ends.csv", "date,value\n" + "".join(f"{d.date()},{i}\n" for i, d in enumerate(ends)), gaps="fill"
    )
    assert report["gaps"] == 1
    df = run.curated()
    assert df.loc[df["unique_id"] == "weekdays", "y"].notna().all()
    nan_rows = df.loc[df["y"].isna()].sort_values("ds")
    assert list(nan_rows["ds"]) == [pd.Timestamp("2020-10-31"), *days[[7, 30]]]
    assert list(nan_rows["unique_id"]) == ["ends", "stock", "stock"]
    assert len(df) == 60 + 60 + 24  # every real row kept, one NaN row per missing step, no bogus one


def test_gaps_filled_with_nan_rows_when_asked(run):
    months = monthly(12)
    del months[4:7]
    report = run.ingest("f.csv", "month,value\n" + "".join(f"{m},{i}\n" for i, m in enumerate(months)), gaps="fill")
    df = run.curated()
    assert report["gaps"] == 3 and len(df) == 12 and df["y"].isna().sum() == 3
    assert list(df.loc[df["y"].isna(), "ds"].dt.strftime("%Y-%m")) == ["2020-05", "2020-06", "2020-07"]


# -- files that cannot be read: that file rejected, the others committed --------------------------


def test_io_error_on_one_file_rejects_only_that_file(run):
    (run.raw / "a.csv").write_text(single(12))
    (run.raw / "c.csv").write_text("month,other\n" + "".join(f"{m},{i}\n" for i, m in enumerate(monthly(12))))
    (run.raw / "b.csv").symlink_to("/proc/self/mem")  # reading it fails with a real EIO from the kernel
    summary = ingest_files(str(run.raw), run.storage, IngestSettings())
    status = {Path(r["file"]).name: (r["status"], r["reason"].split(":")[0]) for r in summary.files}
    assert status == {"a.csv": ("ingested", ""), "b.csv": ("rejected", "io_error"), "c.csv": ("ingested", "")}
    assert len(run.curated()) == 24 and summary.files_rejected == 1
    assert [q["code"] for q in run.quarantine()] == ["io_error"]


def test_a_file_that_vanished_after_discovery_is_rejected_with_its_reason(run):
    from tasks.adapters.curated import Curated
    from tasks.ingest.stage import commit_files, ingest_file

    gone, kept = run.raw / "gone.csv", run.raw / "kept.csv"
    kept.write_text(single(12))
    results = [ingest_file(str(p), run.storage.url, IngestSettings(), set(), None) for p in (gone, kept)]
    reports = commit_files(Curated(run.storage), results, IngestSettings())
    assert [(r.status, r.reason.split(":")[0]) for r in reports] == [("rejected", "file_missing"), ("ingested", "")]
    assert len(run.curated()) == 12


# -- compressed files, other delimiters -----------------------------------------------------------


def test_compressed_tab_and_pipe_files_in_a_folder_are_found_and_read(run):
    import bz2
    import gzip

    text = single(12)
    (run.raw / "a.csv.gz").write_bytes(gzip.compress(text.encode()))
    (run.raw / "b.CSV.BZ2").write_bytes(bz2.compress(text.encode()))
    (run.raw / "c.tsv").write_text(text.replace(",", "\t"))
    (run.raw / "d.csv").write_text(text.replace(",", "|"))
    (run.raw / "e.csv").write_bytes(gzip.compress(text.replace("value", "sales").encode()))  # gzipped, as .csv
    (run.raw / "notes.txt").write_text("not data\n")
    summary = ingest_files(str(run.raw), run.storage, IngestSettings())
    assert sorted(Path(r["file"]).name for r in summary.files) == ["a.csv.gz", "b.CSV.BZ2", "c.tsv", "d.csv", "e.csv"]
    assert {r["status"] for r in summary.files} == {"ingested"}
    df = run.curated()
    assert len(df) == 60 and df.groupby("unique_id")["y"].sum().eq(78.0).all()


def test_a_truncated_gzip_file_is_rejected_and_the_others_kept(run):
    import gzip

    (run.raw / "a.csv").write_text(single(12))
    (run.raw / "b.csv.gz").write_bytes(gzip.compress(single(400).encode())[:300])
    summary = ingest_files(str(run.raw), run.storage, IngestSettings())
    status = {Path(r["file"]).name: r["status"] for r in summary.files}
    assert status == {"a.csv": "ingested", "b.csv.gz": "rejected"} and len(run.curated()) == 12


def test_a_header_the_csv_module_cannot_split_rejects_that_file(run):
    report = run.ingest("f.csv", b"month,val\rue\n2020-01,1\n")
    assert report["status"] == "rejected" and report["reason"].split(":")[0] in ("unreadable", "no_time_column")


@pytest.mark.parametrize("control", [b"\x0c", b"\x1c", b"\x85", b"\x0b"])
def test_control_characters_in_a_latin1_header_are_no_line_breaks(run, control):
    content = b"mon\xe9" + control + b"th,value\n" + "".join(f"{m},{i}\n" for i, m in enumerate(monthly(12))).encode()
    report = run.ingest("f.csv", content)
    assert report["status"] == "ingested" and len(run.curated()) == 12


# -- spreadsheets ---------------------------------------------------------------------------------


def _workbook(path: Path, rows: list[list], formatted_below: int = 0) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    for r in range(len(rows) + 5, len(rows) + 5 + formatted_below):  # empty cells with a format only
        book.active.cell(r, 1).number_format = "0.00"
    book.create_sheet("notes").append(["not this sheet"])
    book.save(path)


def test_a_workbook_is_read_from_its_active_sheet_with_row_numbers_as_line_numbers(run):
    from datetime import datetime

    rows = [["Monthly sales"], [], ["Month", "Sales", "Promo"]]
    rows += [[datetime(2020 + k // 12, k % 12 + 1, 1), 10.5 + k, k % 3 == 0] for k in range(24)]
    rows += [["Total", 999, None]]  # row 28
    _workbook(run.raw / "sales.xlsx", rows, formatted_below=20)
    (run.raw / "other.csv").write_text(single(12))
    (run.raw / "broken.xlsx").write_bytes(b"PK\x03\x04 not a workbook")
    summary = ingest_files(str(run.raw), run.storage, IngestSettings())
    status = {Path(r["file"]).name: (r["status"], r["reason"].split(":")[0]) for r in summary.files}
    assert status["broken.xlsx"] == ("rejected", "unreadable") and status["other.csv"][0] == "ingested"
    assert status["sales.xlsx"][0] == "ingested"
    df = run.curated()
    sales = df[df["unique_id"] == "sales"].sort_values("ds")
    assert len(sales) == 24 and sales["y"].iloc[0] == 10.5 and sales["Promo"].tolist()[:4] == [1, 0, 0, 1]
    assert str(sales["ds"].iloc[-1])[:10] == "2021-12-01"
    rows_bad = [r for q in run.quarantine() if q["code"] == "bad_rows" for r in q["rows"]]
    assert [(r["line"], r["code"]) for r in rows_bad] == [(28, "bad_timestamp")]


def test_a_workbook_with_one_column_per_month(run):
    from datetime import datetime

    months = [datetime(2021, m, 1) for m in range(1, 13)]
    _workbook(run.raw / "plan.xlsx", [["Product", *months], ["Widget", *range(12)], ["Gadget", *range(5, 17)]])
    summary = ingest_files(str(run.raw / "plan.xlsx"), run.storage, IngestSettings())
    assert summary.files[0]["shape"] == "by_date"
    df = run.curated()
    assert sorted(df["unique_id"].unique()) == ["Gadget", "Widget"] and len(df) == 24


# -- columns with no name: an export's empty columns, a note beside the table ---------------------


def _months(extra: str = ",,") -> str:
    return "month,a,b" + extra + "\n" + "".join(f"{m},{i},{2 * i}{extra}\n" for i, m in enumerate(monthly(12), 1))


def test_several_empty_unnamed_columns_are_left_out_silently(run):
    report = run.ingest("export.csv", _months(",,,"))
    assert report["status"] == "ingested" and report["shape"] == "wide" and report["rows"] == 24
    assert "left out" not in report["reason"]
    assert sorted(run.curated()["unique_id"].unique()) == ["a", "b"]


def test_a_note_beside_the_table_is_left_out_and_named_bad_rows_keep_their_lines(run):
    text = (
        _months(",,").replace("2020-03,3,6,,", "2020-03,3,6,,checked by Ann").replace("2020-05,5,10,,", "2020-05,5,x,,")
    )
    report = run.ingest("notes.csv", text)
    assert report["status"] == "ingested" and report["rows"] == 23
    assert "left out, unnamed and mostly empty: column 5" in report["reason"]
    assert [(r["line"], r["column"], r["code"]) for q in run.quarantine() for r in q["rows"]] == [(6, "b", "bad_value")]


def test_one_unnamed_column_holding_a_note_is_left_out(run):
    text = _months(",").replace("2020-03,3,6,", "2020-03,3,6,see below")
    report = run.ingest("note.csv", text)
    assert report["status"] == "ingested" and report["rows"] == 24  # before: ambiguous_value (the note an id)
    assert "(unnamed)" in report["reason"]


def test_a_workbook_with_a_remark_to_the_right_of_its_table(run):
    from datetime import datetime

    rows = [["Month", "Sales"], *[[datetime(2020, m, 1), 10.0 + m] for m in range(1, 13)]]
    _workbook(run.raw / "sales.xlsx", rows)
    import openpyxl

    book = openpyxl.load_workbook(run.raw / "sales.xlsx")
    book.active["E6"] = "price change"
    book.active["F9"] = 3
    book.save(run.raw / "sales.xlsx")
    summary = ingest_files(str(run.raw / "sales.xlsx"), run.storage, IngestSettings())
    (report,) = summary.files
    assert report["status"] == "ingested" and report["rows"] == 12  # before: duplicate_columns
    assert "column 5, column 6" in report["reason"]


# -- rows of nothing but delimiters: a spreadsheet's blank rows -----------------------------------


def test_blank_rows_of_delimiters_are_skipped_not_bad_and_later_lines_keep_their_numbers(run):
    lines = [f"{m},{i}" for i, m in enumerate(monthly(12), 1)]
    lines[5] = lines[5].split(",")[0] + ",x"  # line 10 once the 3 blank rows are counted
    text = "month,value\n" + "\n".join(lines[:4]) + "\n,\n , \n,\n" + "\n".join(lines[4:]) + "\n"
    report = run.ingest("blank.csv", text)
    assert report["status"] == "ingested" and report["rows"] == 11 and report["rows_bad"] == 1  # before: 4 of 15 bad
    assert [(r["line"], r["code"]) for q in run.quarantine() for r in q["rows"]] == [(10, "bad_value")]


def test_a_wide_file_with_a_block_of_blank_rows(run):
    lines = [f"{m},{i},{2 * i}" for i, m in enumerate(monthly(4), 1)]
    text = "month,a,b\n" + "\n".join(lines[:2]) + "\n" + ",,\n" * 10 + "\n".join(lines[2:]) + "\n"
    report = run.ingest("wide.csv", text)
    assert report["status"] == "ingested" and report["shape"] == "wide"  # before: ambiguous_id
    assert report["rows"] == 8 and report["rows_bad"] == 0


@pytest.mark.parametrize(
    ("line", "shape", "rows"),
    [("{m},{i},,", "single", 12), ("s{p},{m},{i},", "long", 12), ("{m},{i},{j},", "wide", 24)],
)
def test_a_file_without_a_header_whose_lines_end_in_delimiters(run, line, shape, rows):
    text = "".join(line.format(m=m, i=i, j=2 * i, p=i % 2) + "\n" for i, m in enumerate(monthly(12), 1))
    report = run.ingest("plain.csv", text)
    assert (report["status"], report["shape"], report["rows"]) == ("ingested", shape, rows)  # before: duplicate_columns


def test_values_without_a_timestamp_are_bad_rows_not_a_sign_of_stacked_series(run):
    lines = [f"{m},{i},{2 * i}" for i, m in enumerate(monthly(4), 1)]
    report = run.ingest("sums.csv", "month,a,b\n" + "\n".join(lines) + "\n,10,\n,,20\n,1,\n,2,\n")
    assert report["status"] == "rejected" and report["reason"].startswith("too_many_bad_rows")  # before: ambiguous_id
    lines = [f"{m},{i},{2 * i}" for i, m in enumerate(monthly(24), 1)]
    report = run.ingest("sum.csv", "month,a,b\n" + "\n".join(lines[:12]) + "\n,78,156\n" + "\n".join(lines[12:]) + "\n")
    assert report["status"] == "ingested" and report["rows"] == 48
    rows = {(r["line"], r["code"]) for q in run.quarantine() if q["file"].endswith("/sum.csv") for r in q["rows"]}
    assert rows == {(14, "missing_timestamp")}  # the total typed between the years
