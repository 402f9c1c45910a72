"""Future-values and static-covariates files are read as the ingest reads its inputs."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from tasks.forecast.future import check_future
from tasks.ingest.sidefile import check_static
from tasks.ingest.sniff import FileRejected

PLAN = pd.DataFrame(
    {"unique_id": ["a", "a", "b"], "ds": ["2024-01-01", "2024-01-02", "2024-01-01"], "promo": [1, 0, 1]}
)


def _write(path, text: str):
    path.write_bytes(text.encode("utf-8"))
    return str(path)


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return [
        (u, d.strftime("%Y-%m-%d"), float(p)) for u, d, p in frame[["unique_id", "ds", "promo"]].itertuples(index=False)
    ]


EXPECTED = [("a", "2024-01-01", 1.0), ("a", "2024-01-02", 0.0), ("b", "2024-01-01", 1.0)]


def test_a_planners_workbook_gives_the_rows_of_the_same_csv(tmp_path):
    PLAN.to_excel(tmp_path / "plan.xlsx", index=False)
    good, summary = check_future(str(tmp_path / "plan.xlsx"), ["promo"], ["a", "b"])
    assert _rows(good) == EXPECTED and summary.rows == 3 and not summary.rejected


@pytest.mark.parametrize(
    "text",
    [
        "unique_id;ds;promo\na;2024-01-01;1\na;2024-01-02;0\nb;2024-01-01;1\n",  # a European export
        "unique_id\tds\tpromo\na\t2024-01-01\t1\na\t2024-01-02\t0\nb\t2024-01-01\t1\n",
        "unique_id, ds, promo\na, 2024-01-01, 1\na, 2024-01-02, 0\nb, 2024-01-01, 1\n",  # spaces after the commas
        "Store,Date,Promo\na,2024-01-01,1\na,2024-01-02,0\nb,2024-01-01,1\n",  # the names the ingest reads
        "\ufeffseries_id,month,promo,\r\na,2024-01-01,TRUE,\r\na,2024-01-02,FALSE,\r\nb,2024-01-01,true,\r\n",
    ],
)
def test_a_future_values_file_in_the_shapes_the_ingest_reads(tmp_path, text):
    good, summary = check_future(_write(tmp_path / "plan.csv", text), ["promo"])
    assert _rows(good) == EXPECTED and not summary.rejected


def test_numbers_are_read_as_the_ingest_reads_them(tmp_path):
    text = 'unique_id;ds;price\na;2024-01-01;"1.234,50"\na;2024-01-02;0,5\na;2024-01-03;12 %\n'
    good, _ = check_future(_write(tmp_path / "prices.csv", text), ["price"])
    assert good["price"].tolist() == [1234.5, 0.5, 12.0]
    text = 'unique_id,ds,price\na,2024-01-01,"1,234.50"\na,2024-01-02,$7\na,2024-01-03,(2)\n'
    good, _ = check_future(_write(tmp_path / "prices.csv", text), ["price"])
    assert good["price"].tolist() == [1234.5, 7.0, -2.0]


def test_each_bad_row_is_kept_out_with_its_line_and_the_ingests_reason(tmp_path):
    text = "unique_id,ds,promo\na,2024-01-01,1\n\na,2024-01-02,\n,,\na,2024-01-03,lots\na,2024-01-04,inf\n,2024-01-05,1\na,soon,1\nb,2024-01-01,0\n"
    path = _write(tmp_path / "plan.csv", text)
    before = hashlib.sha256(open(path, "rb").read()).hexdigest()
    good, summary = check_future(path, ["promo"])
    assert summary.rejected == {
        "missing_value": ["line 4: promo ''"],  # the blank line 3 and the row of delimiters on line 5 are nothing
        "bad_value": ["line 6: promo 'lots'"],
        "non_finite": ["line 7: promo 'inf'"],
        "missing_id": ["line 8: no unique_id"],
        "bad_timestamp": ["line 9: ds 'soon'"],
    }
    assert summary.rejected_rows == 5 and _rows(good) == [("a", "2024-01-01", 1.0), ("b", "2024-01-01", 0.0)]
    assert hashlib.sha256(open(path, "rb").read()).hexdigest() == before


@pytest.mark.parametrize(
    ("text", "why"), [("", "is empty"), ("\n , \n", "is empty"), ("unique_id,ds,ds\na,2024-01-01,1\n", "repeats")]
)
def test_an_empty_or_unreadable_file_is_a_clear_error_naming_it(tmp_path, text, why):
    with pytest.raises(FileRejected, match=f"plan.csv: .*{why}"):
        check_future(_write(tmp_path / "plan.csv", text), ["promo"])


def test_a_workbook_that_is_not_one_is_refused_by_name(tmp_path):
    (tmp_path / "plan.xlsx").write_bytes(b"not a zip at all")
    with pytest.raises(FileRejected, match="cannot read the workbook"):
        check_future(str(tmp_path / "plan.xlsx"), ["promo"])


def test_static_covariates_from_a_workbook_and_a_european_csv(tmp_path):
    stores = pd.DataFrame({"store": ["001", "002", "003"], "type": ["A", "B", None], "area": [1200.5, None, 80]})
    stores.to_excel(tmp_path / "stores.xlsx", index=False)
    book, summary = check_static(str(tmp_path / "stores.xlsx"))
    text = "Unique_ID;type;area\n001;A;1.200,5\n002;B;\n\n003;;80\n;C;1\n"
    csv, csv_summary = check_static(_write(tmp_path / "stores.csv", text))
    for frame in (book, csv):
        assert frame["unique_id"].tolist() == ["001", "002", "003"]
        assert frame["type"].tolist()[:2] == ["A", "B"] and pd.isna(frame["type"].iloc[2])  # text: a category
        np.testing.assert_array_equal(frame["area"].to_numpy(), [1200.5, np.nan, 80.0])  # numbers: numeric
    assert summary.columns == ["type", "area"] and not summary.rejected
    assert csv_summary.rejected == {"missing_id": ["line 6: no unique_id"]}


def test_a_file_without_the_covariate_column_is_refused_naming_what_it_lacks(tmp_path):
    for text in ("unique_id;ds\na;2024-01-01\n", "unique_id,ds\na,2024-01-01\n", "unique_id,ds\n"):
        with pytest.raises(ValueError, match=r"future values need the columns \['promo'\]"):
            check_future(_write(tmp_path / "plan.csv", text), ["promo"])


def test_a_year_the_tables_cannot_hold_is_a_bad_timestamp_not_a_crash(tmp_path):
    text = "unique_id,ds,promo\na,9024-01-13,1\na,2024-01-02,0\na,1024-01-06,1\n"  # a typo'd year
    good, summary = check_future(_write(tmp_path / "plan.csv", text), ["promo"])
    assert summary.rejected == {"bad_timestamp": ["line 2: ds '9024-01-13'", "line 4: ds '1024-01-06'"]}
    assert _rows(good) == [("a", "2024-01-02", 0.0)]


def test_a_title_above_the_header_is_skipped_as_the_ingest_skips_it(tmp_path):
    text = "Promotion plan, January\n\nunique_id,ds,promo\na,2024-01-01,1\na,2024-01-02,0\nb,2024-01-01,1\n"
    good, summary = check_future(
        _write(tmp_path / "plan.csv", text.replace("plan, January", "plan January")), ["promo"]
    )
    assert _rows(good) == EXPECTED
    text = "Promotion plan\nunique_id,ds,promo\na,2024-01-01,1\na,2024-01-02,0\nb,2024-01-01,\n"
    good, summary = check_future(_write(tmp_path / "plan.csv", text), ["promo"])
    assert summary.rejected == {"missing_value": ["line 5: promo ''"]}  # lines still count from the file's top


def test_a_workbook_with_a_notes_sheet_in_front_gives_the_sheet_with_the_columns(tmp_path):
    with pd.ExcelWriter(tmp_path / "plan.xlsx") as book:
        pd.DataFrame({"About": ["Promotions planned for January", "Owner: planning"]}).to_excel(
            book, sheet_name="Notes", index=False
        )
        pd.DataFrame({"x": [1]}).to_excel(book, sheet_name="Scratch", index=False)
        PLAN.to_excel(book, sheet_name="Plan", index=False)
    good, summary = check_future(str(tmp_path / "plan.xlsx"), ["promo"])
    assert _rows(good) == EXPECTED and not summary.rejected
    with pd.ExcelWriter(tmp_path / "none.xlsx") as book:
        pd.DataFrame({"About": ["nothing here"]}).to_excel(book, sheet_name="Notes", index=False)
    with pytest.raises(ValueError, match=r"none.xlsx: future values need the columns .*\(columns: \['About'\]\)"):
        check_future(str(tmp_path / "none.xlsx"), ["promo"])
