"""Which column is which in the files demand planners export: numbered stores and items, flags."""

from __future__ import annotations

import pandas as pd
import pytest

from tasks.ingest.sniff import FileRejected, sniff
from tests.conftest import parse_csv


def _stores(columns: list[str], keys: list[tuple], months: int = 4) -> bytes:
    """One row per key and month; the value 100 x the first key + the month."""
    dates = pd.date_range("2020-01-01", periods=months, freq="MS").strftime("%Y-%m-%d")
    rows = []
    for key in keys:
        for m, d in enumerate(dates):
            cells = {"date": d, "sales": 100 * key[0] + m, **dict(zip(columns, key))}
            rows.append(",".join(str(cells[c]) for c in ["date", *columns, "sales"]))
    return (",".join(["date", *columns, "sales"]) + "\n" + "\n".join(rows) + "\n").encode()


def test_numbered_stores_are_series_not_a_series_of_store_numbers():
    p = parse_csv(_stores(["store"], [(1,), (2,), (3,)]), "stores.csv")
    assert p.shape == "long" and p.bad_rows == []
    assert sorted(set(p.frame["unique_id"])) == ["1", "2", "3"]
    assert p.frame.loc[p.frame["unique_id"] == "2", "y"].tolist() == [200.0, 201.0, 202.0, 203.0]


def test_store_and_item_numbers_make_one_id_together():
    p = parse_csv(_stores(["store", "item"], [(1, 1), (1, 2), (2, 1), (2, 2)]), "store_item.csv")
    assert p.shape == "long" and sorted(set(p.frame["unique_id"])) == ["1_1", "1_2", "2_1", "2_2"]
    assert len(p.frame) == 16 and p.bad_rows == []
    q = parse_csv(_stores(["store", "item"], [(1, 1), (2, 2)]), "given.csv", id_col="store,item")
    assert sorted(set(q.frame["unique_id"])) == ["1_1", "2_2"]


def test_a_long_file_sorted_by_store_is_long_from_its_first_rows():
    """The head may hold one store only: the integer column named like an id still is the id."""
    p = parse_csv(_stores(["store_id"], [(7,)], months=6), "one_store.csv")
    assert p.shape == "long" and set(p.frame["unique_id"]) == {"7"}


def test_a_flag_column_is_a_covariate_not_the_series_id():
    payload = b"date,sales,holiday\n2020-01-01,5,FALSE\n2020-01-02,6,TRUE\n2020-01-03,7,false\n"
    p = parse_csv(payload, "h.csv")
    assert p.shape == "single" and set(p.frame["unique_id"]) == {"h"}
    assert p.frame["holiday"].tolist() == [0.0, 1.0, 0.0]
    walmart = (
        b"Store,Dept,Date,Weekly_Sales,IsHoliday\n"
        b"1,1,2010-02-05,24924.5,FALSE\n1,1,2010-02-12,46039.49,TRUE\n"
        b"1,2,2010-02-05,50605.27,FALSE\n1,2,2010-02-12,44682.74,TRUE\n"
    )
    w = parse_csv(walmart, "train.csv")
    assert w.shape == "long" and sorted(set(w.frame["unique_id"])) == ["1_1", "1_2"]
    assert w.frame["y"].tolist() == [24924.5, 46039.49, 50605.27, 44682.74]
    assert w.frame["IsHoliday"].tolist() == [0.0, 1.0, 0.0, 1.0]


def test_stacked_series_with_nothing_to_tell_them_apart_are_refused():
    payload = b"date,a,b\n2020-01-01,1,2\n2020-01-01,3,4\n2020-01-02,1,2\n2020-01-02,3,4\n"
    with pytest.raises(FileRejected) as exc:
        parse_csv(payload, "stacked.csv")
    assert exc.value.code == "ambiguous_id" and "--id-col" in str(exc.value)


def test_integer_columns_not_named_like_ids_stay_values():
    payload = b"date,visitors,paid\n2020-01-01,10,2\n2020-01-02,12,3\n2020-01-03,9,1\n"
    p = parse_csv(payload, "shop.csv")
    assert p.shape == "wide" and sorted(set(p.frame["unique_id"])) == ["paid", "visitors"]
    camel = b"date,storeId,sales\n2020-01-01,1,2.5\n2020-01-01,2,3.5\n2020-01-02,1,4.5\n2020-01-02,2,5.5\n"
    assert sorted(set(parse_csv(camel, "c.csv").frame["unique_id"])) == ["1", "2"]


def _pivot_frame() -> pd.DataFrame:
    ds = pd.date_range("2020-01-01", periods=6, freq="MS")
    return pd.DataFrame({"unique_id": ["A"] * 6 + ["B"] * 6, "ds": list(ds) * 2, "y": [float(v) for v in range(12)]})


@pytest.mark.parametrize(
    "export",
    [
        lambda df: df.pivot_table(index="ds", columns="unique_id", values=["y"]),  # ,y,y / unique_id,A,B / ds,,
        lambda df: df.groupby(["ds", "unique_id"]).agg({"y": ["sum"]}).unstack(),  # four header lines
    ],
)
def test_a_pivot_tables_header_over_several_lines_names_the_series(export):
    payload = export(_pivot_frame()).to_csv().encode()
    assert payload.count(b"\n") == 6 + len(payload.split(b"2020-01-01")[0].splitlines())  # the header is stacked
    p = parse_csv(payload, "pivot.csv")
    assert p.shape == "wide" and p.bad_rows == []
    assert p.frame.groupby("unique_id")["y"].apply(list).to_dict() == {
        "A": [0.0, 1, 2, 3, 4, 5],
        "B": [6.0, 7, 8, 9, 10, 11],
    }


def test_a_spreadsheet_pivot_reads_its_labels_row_and_quarantines_the_total_row_by_line():
    lines = ["Sum of sales,Column Labels,,", "Row Labels,Store A,Store B,Grand Total"]
    lines += [f"2020-{m:02d},{m},{10 * m},{11 * m}" for m in range(1, 13)] + ["Grand Total,78,780,858"]
    p = parse_csv(("\n".join(lines) + "\n").encode(), "pivot.csv")
    assert p.shape == "wide" and sorted(set(p.frame["unique_id"])) == ["Grand Total", "Store A", "Store B"]
    assert p.frame.loc[p.frame["unique_id"] == "Store B", "y"].tolist() == [10.0 * m for m in range(1, 13)]
    assert {(b["line"], b["code"]) for b in p.bad_rows} == {(15, "bad_timestamp")}


def test_a_header_with_one_line_keeps_its_rows_below_as_rows():
    """Only a header that cannot stand alone (empty or repeated names) takes the lines below it."""
    p = parse_csv(b",A,B\n2020-01-01,1,2\n2020-02-01,3,4\n", "index.csv")  # pandas' unnamed index
    assert p.shape == "wide" and sorted(set(p.frame["unique_id"])) == ["A", "B"] and p.bad_rows == []
    p = parse_csv(b"date,load,temp\n,MW,C\n2020-01-01,1,2\n2020-02-01,3,4\n", "units.csv")  # a units line
    assert p.shape == "wide" and sorted(set(p.frame["unique_id"])) == ["load", "temp"]
    assert {b["line"] for b in p.bad_rows} == {2}  # its cells, one per series: bad rows


@pytest.mark.parametrize(
    ("columns", "step"),
    [
        (["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1),
        (
            [
                "janvier",
                "février",
                "mars",
                "avril",
                "mai",
                "juin",
                "juillet",
                "août",
                "septembre",
                "octobre",
                "novembre",
                "décembre",
            ],
            1,
        ),
        (["Q1", "Q2", "Q3", "Q4"], 3),
    ],
)
def test_a_year_per_row_and_a_month_per_column_is_one_series_in_time_order(columns, step):
    """The table statistics offices and spreadsheets print (AirPassengers' own layout), not one
    yearly series per month."""
    years = [2018, 2019, 2020]
    lines = ["Year," + ",".join(columns)]
    lines += [f"{y}," + ",".join(str(10 * k + j) for j in range(len(columns))) for k, y in enumerate(years)]
    p = parse_csv(("\n".join(lines) + "\n").encode(), "table.csv")
    assert p.shape == "calendar" and set(p.frame["unique_id"]) == {"table"} and p.bad_rows == []
    ds = pd.DatetimeIndex(p.frame["ds"])
    assert ds[0] == pd.Timestamp("2018-01-01") and len(ds) == 3 * len(columns)
    assert (ds.to_period("M").astype(int).to_numpy()[1:] - ds.to_period("M").astype(int).to_numpy()[:-1] == step).all()
    assert p.frame["y"].tolist() == [float(10 * k + j) for k in range(3) for j in range(len(columns))]


def test_the_months_still_to_come_are_absent_points_and_a_total_column_is_left_beside():
    lines = ["Year,Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec,Total"]
    lines += ["2019," + ",".join(str(m) for m in range(1, 13)) + ",78", "2020,13,14,15,16,,,,,,,,,58"]
    p = parse_csv(("\n".join(lines) + "\n").encode(), "sales.csv")
    assert p.shape == "calendar" and p.bad_rows == [] and p.frame["y"].tolist() == [float(v) for v in range(1, 17)]
    assert pd.Timestamp(p.frame["ds"].max()) == pd.Timestamp("2020-04-01")


@pytest.mark.parametrize("head", ["Month", "mois", "", "Sales"])
def test_a_month_per_row_and_a_year_per_column_is_one_series_in_time_order(head):
    labels = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    lines = [f"{head},2019,2020"] + [f"{m},{k},{'' if k >= 8 else 12 + k}" for k, m in enumerate(labels)]
    p = parse_csv(("\n".join([*lines, "Total,66,50"]) + "\n").encode(), "table.csv")
    assert p.shape == "calendar_rows" and set(p.frame["unique_id"]) == {"table"}
    assert p.frame["y"].tolist() == [float(v) for v in range(20)]  # Sep-Dec 2020 still to come: absent
    assert pd.Timestamp(p.frame["ds"].max()) == pd.Timestamp("2020-08-01")
    assert {(b["line"], b["code"]) for b in p.bad_rows} == {(14, "bad_timestamp")}  # the Total row
    products = parse_csv(b"Product,2018,2019,2020\nWidget,1,2,3\nGadget,4,5,6\n", "plan.csv")
    assert products.shape == "by_date" and sorted(set(products.frame["unique_id"])) == ["Gadget", "Widget"]


@pytest.mark.parametrize("head", ["Month", ""])
def test_a_turned_table_with_a_total_column_and_row_keeps_the_months_alone(head):
    labels = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    lines = [f"{head},2018,2019,2020,Total"] + [f"{m},{k},{12 + k},{24 + k},{36 + 3 * k}" for k, m in enumerate(labels)]
    p = parse_csv(("\n".join([*lines, "Total,66,210,354,630"]) + "\n").encode(), "table.csv")
    assert p.shape == "calendar_rows" and p.frame["y"].tolist() == [float(v) for v in range(36)]
    assert {(b["line"], b["code"]) for b in p.bad_rows} == {(14, "bad_timestamp")}


def test_a_text_column_that_describes_each_hour_is_no_series_id_and_a_row_number_no_value():
    directions = ["NW", "SE", "cv", "NE", "NW", "NW", "SE"]
    stamps = pd.date_range("2010-01-01", periods=48, freq="h")
    rows = [f"{k + 1},{t:%Y-%m-%d %H:%M},{k}.5,{directions[k % 7]},{k % 5}" for k, t in enumerate(stamps)]
    p = parse_csv(("No,date,pm2.5,cbwd,Iws\n" + "\n".join(rows) + "\n").encode(), "air.csv", value_col="pm2.5")
    assert p.frame["unique_id"].nunique() == 1 and len(p.frame) == 48  # before: one series per wind direction
    assert p.frame["y"].tolist() == [k + 0.5 for k in range(48)]


def test_a_first_column_of_row_numbers_named_no_has_no_role_and_a_series_id_still_is_one():
    rows = [f"{k + 1},2020-{k % 12 + 1:02d}-01,{k}" for k in range(12)]
    p = parse_csv(("No,month,sales\n" + "\n".join(rows) + "\n").encode(), "one.csv")
    assert p.frame["unique_id"].nunique() == 1 and len(p.frame) == 12  # before: 12 series of one point
    stores = [f"{s},2020-{m:02d}-01,{m}" for s in (1, 2) for m in range(1, 13)]
    p = parse_csv(("store_no,month,sales\n" + "\n".join(stores) + "\n").encode(), "two.csv")
    assert sorted(p.frame["unique_id"].unique()) == ["1", "2"] and len(p.frame) == 24
    regions = [f"{r},2020-{m:02d}-01,{m}" for r in ("North", "South") for m in range(1, 13)]
    p = parse_csv(("area,month,sales\n" + "\n".join(regions) + "\n").encode(), "regions.csv")
    assert sorted(p.frame["unique_id"].unique()) == ["North", "South"]


@pytest.mark.parametrize(
    ("header", "row", "left_out"),
    [
        ("Year,Date,Sales", "{y},{d},{v}", ["Year"]),
        ("Date,Year,Week,Units", "{d},{y},{w},{v}", ["Year", "Week"]),
        ("date,month,sales", "{d},{m},{v}", ["month"]),
    ],
)
def test_numbers_named_as_parts_of_time_beside_the_dates_are_no_series(header, row, left_out):
    stamps = pd.date_range("2020-01-01", periods=24, freq="MS")
    lines = [row.format(y=t.year, d=f"{t:%Y-%m-%d}", w=k % 52 + 1, m=t.month, v=k) for k, t in enumerate(stamps)]
    text = (header + "\n" + "\n".join(lines) + "\n").encode()
    layout = sniff(text, "sales.csv")
    assert (layout.shape, layout.derived) == ("single", left_out)  # before: wide, Year (or Week) a series
    p = parse_csv(text, "sales.csv")
    assert p.frame["unique_id"].nunique() == 1 and p.frame["y"].tolist() == [float(k) for k in range(24)]
