"""The ordinary files of ``bench/ordinary.py``: each case a generator of data (names, date and
number formats, lengths, seasons, magnitudes, gaps; nothing from a packaged data set) and the
writer of the file a user would have."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd


def _wave(
    rng: np.random.Generator, n: int, m: int, amp: float = 10, lvl: float = 100, trend: float = 0.1
) -> np.ndarray:
    t = np.arange(n)
    return lvl + trend * t + amp * np.sin(2 * np.pi * t / m) + rng.normal(0, 2, n)


def _long(parts: dict[str, tuple[pd.DatetimeIndex, np.ndarray]]) -> pd.DataFrame:
    return pd.concat(
        [pd.DataFrame({"unique_id": k, "ds": d.strftime("%Y-%m-%d %H:%M:%S"), "y": y}) for k, (d, y) in parts.items()]
    )


# name -> (horizon, season, the whole data as (unique_id, label, y) rows, how to write the input file)
Case = tuple[int, int, Callable[[np.random.Generator], pd.DataFrame], Callable[[pd.DataFrame, Path], None] | None]


def _months(n: int, start: str = "2005-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="MS")


def _single(
    name_t: str, name_y: str, labels: Callable[[pd.DatetimeIndex], list[str]], sep: str = ",", decimal: str = "."
):
    def write(df: pd.DataFrame, path: Path) -> None:
        out = pd.DataFrame({name_t: labels(pd.DatetimeIndex(df["ds"])), name_y: df["y"].to_numpy()})
        out.to_csv(path, index=False, sep=sep, decimal=decimal)

    return write


def _thousands(df: pd.DataFrame, path: Path) -> None:
    """Excel's US export: quoted "5,000.3", CRLF, one NA cell, a blank line at the end."""
    lines = ["date,sales", *(f'{d:%Y-%m-%d},"{y:,.1f}"' for d, y in zip(pd.DatetimeIndex(df["ds"]), df["y"]))]
    lines[30] = lines[30].split(",")[0] + ",NA"
    path.write_text("\r\n".join(lines) + "\r\n\r\n")


def _lines(header: str | None, row: Callable[[pd.Timestamp, float], str], end: str = "\n") -> Callable:
    """A writer of one line per point (after ``header``, if any)."""

    def write(df: pd.DataFrame, path: Path) -> None:
        rows = [row(d, y) for d, y in zip(pd.DatetimeIndex(df["ds"]), df["y"])]
        path.write_text(end.join(([header] if header else []) + rows) + end)

    return write


def _stores(df: pd.DataFrame, path: Path) -> None:
    """A store-department sales export: numbered ids, a TRUE / FALSE holiday flag, sorted by store."""
    sd = df["unique_id"].str.split("_", expand=True)
    flag = pd.DatetimeIndex(df["ds"]).isocalendar().week.isin([47, 52]).map({True: "TRUE", False: "FALSE"})
    out = pd.DataFrame({"Store": sd[0], "Dept": sd[1], "Date": pd.DatetimeIndex(df["ds"]).strftime("%Y-%m-%d")})
    out.assign(Weekly_Sales=df["y"].round(2).to_numpy(), IsHoliday=flag.to_numpy()).to_csv(path, index=False)


def _report(df: pd.DataFrame, path: Path) -> None:
    """An accounting export: a title and a note above the header, negatives in brackets, one #N/A."""
    cells = [f'"({-y:,.2f})"' if y < 0 else f'"{y:,.2f}"' for y in df["y"]]
    cells[20] = "#N/A"
    lines = [f"{d:%Y-%m},{c}," for d, c in zip(pd.DatetimeIndex(df["ds"]), cells)]
    path.write_text(
        "\n".join(["Monthly profit report,,", "Exported by the ledger,,", "", "Month,Profit,", *lines]) + "\n"
    )


def _sheet(df: pd.DataFrame, path: Path) -> None:
    """A planning sheet: one row per product, one column per month (`Jan 2021`), a price column."""
    out = df.assign(ds=pd.DatetimeIndex(df["ds"]).strftime("%b %Y")).pivot(index="unique_id", columns="ds", values="y")
    out[sorted(out.columns, key=lambda c: pd.Timestamp(c))].round(1).assign(Price=1.5).to_csv(
        path, index_label="Product"
    )


def _export(df: pd.DataFrame, path: Path) -> None:
    """A sheet saved as CSV: two empty columns after the data, a blank row after each December, a
    remark typed beside one value."""
    lines = ["month,sales,,"]
    for k, (d, y) in enumerate(zip(pd.DatetimeIndex(df["ds"]), df["y"])):
        lines += [f"{d:%Y-%m},{y:.1f},," + ("checked" if k == 5 else "")] + ([",,,"] if d.month == 12 else [])
    path.write_text("\n".join(lines) + "\n")


def _pandas_index(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path)  # pandas' row numbers first, under no name


def _pivot(df: pd.DataFrame, path: Path) -> None:
    """pandas' pivot table of a value list: a header over three lines (``,y,y`` / ``unique_id,a,b`` / ``ds,,``)."""
    df.pivot_table(index="ds", columns="unique_id", values=["y"]).to_csv(path)


FRENCH_MONTHS = ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."]


def _hour_ending(d: pd.Timestamp) -> str:
    """Hour-ending data's label: midnight is the previous day's 24:00."""
    return f"{d - pd.Timedelta(days=1):%Y-%m-%d} 24:00" if d.hour == 0 else f"{d:%Y-%m-%d %H:%M}"


def _daily_and_weekly(name: str, start: str, freq: str, n: int, day: int, levels: tuple[float, ...]) -> Callable:
    """A load curve: a level, a daily and a weekly wave (``day`` steps a day), noise."""
    level, daily, weekly, noise = levels
    t = np.arange(n)

    def make(r: np.random.Generator) -> pd.DataFrame:
        y = (
            level
            + daily * np.sin(2 * np.pi * t / day)
            + weekly * np.sin(2 * np.pi * t / (7 * day))
            + r.normal(0, noise, n)
        )
        return _long({name: (pd.date_range(start, periods=n, freq=freq), y)})

    return make


def _marked_missing(df: pd.DataFrame, path: Path) -> None:
    """A statistics office's table: every fourth point not available (``..``)."""
    lines = [
        "Period,Value",
        *(
            f"{d:%Y-%m},{'..' if k % 4 == 3 else f'{y:.2f}'}"
            for k, (d, y) in enumerate(zip(pd.DatetimeIndex(df["ds"]), df["y"]))
        ),
    ]
    path.write_text("\n".join(lines) + "\n")


def _three_missing(df: pd.DataFrame, path: Path) -> None:
    """A monthly export with three cells ``NA`` at random (never among the first or last five)."""
    rng = np.random.default_rng(len(df))
    gone = set(rng.choice(np.arange(5, len(df) - 5), 3, replace=False).tolist())
    rows = zip(pd.DatetimeIndex(df["ds"]), df["y"])
    lines = ["date,sales", *(f"{d:%Y-%m-%d},{'NA' if k in gone else f'{y:.2f}'}" for k, (d, y) in enumerate(rows))]
    path.write_text("\n".join(lines) + "\n")


def _hour_parts(df: pd.DataFrame, path: Path) -> None:
    """A downloaded sensor file: row numbers, the timestamp in four columns, a wind direction."""
    wind = ("NW", "cv", "SE", "NE", "NW")
    rows = [
        f"{k + 1},{d.year},{d.month},{d.day},{d.hour},{y:.1f},{wind[k % 5]}"
        for k, (d, y) in enumerate(zip(pd.DatetimeIndex(df["ds"]), df["y"]))
    ]
    path.write_text("No,year,month,day,hour,pm2.5,cbwd\n" + "\n".join(rows) + "\n")


CASES: dict[str, Case] = {
    "weekly": (
        13,
        52,
        lambda r: _long({"w": (pd.date_range("2020-01-05", periods=160, freq="W-SUN"), _wave(r, 160, 52))}),
        None,
    ),
    "year_integers": (
        10,
        1,
        lambda r: _long({"flow": (pd.date_range("1900", periods=90, freq="YS"), _wave(r, 90, 10, amp=0))}),
        _single("year", "flow", lambda d: [str(x.year) for x in d]),
    ),
    "quarter_strings": (
        8,
        4,
        lambda r: _long({"q": (pd.date_range("1990", periods=80, freq="QS"), _wave(r, 80, 4))}),
        _single("date", "sales", lambda d: [str(p) for p in d.to_period("Q")]),
    ),
    "month_names": (
        12,
        12,
        lambda r: _long({"m": (_months(120), _wave(r, 120, 12))}),
        _single("time", "value", lambda d: list(d.strftime("%b %Y"))),
    ),
    "european": (
        12,
        12,
        lambda r: _long({"e": (_months(72, "2015-01-01"), _wave(r, 72, 12))}),
        _single("Datum", "Wert", lambda d: list(d.strftime("%d.%m.%Y")), sep=";", decimal=","),
    ),
    "thousands": (12, 12, lambda r: _long({"t": (_months(120), _wave(r, 120, 12, amp=800, lvl=5000))}), _thousands),
    "pandas_index": (
        12,
        12,
        lambda r: _long({"a": (_months(96), _wave(r, 96, 12)), "b": (_months(96), _wave(r, 96, 12, lvl=40))}),
        _pandas_index,
    ),
    "eu_slashes": (
        14,
        7,
        lambda r: _long({"d": (pd.date_range("2021-01-01", periods=200, freq="D"), _wave(r, 200, 7))}),
        _lines("date,value", lambda d, y: f"{d:%d/%m/%Y},{y:.2f}"),
    ),
    "iso_weeks": (
        13,
        52,
        lambda r: _long({"w": (pd.date_range("2020-01-06", periods=160, freq="W-MON"), _wave(r, 160, 52))}),
        _lines("week,units", lambda d, y: f"{d:%G-W%V},{y:.1f}"),
    ),
    "excel_serials": (
        14,
        7,
        lambda r: _long({"x": (pd.date_range("2021-01-01", periods=200, freq="D"), _wave(r, 200, 7))}),
        _lines("Date,Sales", lambda d, y: f"{(d - pd.Timestamp('1899-12-30')).days},{y:.2f}"),
    ),
    "date_and_time": (
        24,
        24,
        lambda r: _long({"h": (pd.date_range("2022-01-03", periods=504, freq="h"), _wave(r, 504, 24, amp=30))}),
        _lines("Date;Time;Load", lambda d, y: f"{d:%d/%m/%Y};{d:%H:%M:%S};{y:.3f}"),
    ),
    "no_header": (
        12,
        12,
        lambda r: _long({"n": (_months(72), _wave(r, 72, 12))}),
        _lines(None, lambda d, y: f"{d:%Y-%m-%d},{y:.2f}"),
    ),
    "money": (
        12,
        12,
        lambda r: _long({"m": (_months(84), _wave(r, 84, 12, amp=900, lvl=12000))}),
        _lines("Month,Revenue,", lambda d, y: f'{d:%Y-%m},"${y:,.2f}",', end="\r\n"),
    ),
    "sheet": (
        12,
        12,
        lambda r: _long({k: (_months(60), _wave(r, 60, 12, lvl=v)) for k, v in (("A", 80), ("B", 30))}),
        _sheet,
    ),
    "export": (12, 12, lambda r: _long({"e": (_months(72), _wave(r, 72, 12, lvl=200))}), _export),
    "pivot": (
        12,
        12,
        lambda r: _long({"a": (_months(84), _wave(r, 84, 12)), "b": (_months(84), _wave(r, 84, 12, lvl=60))}),
        _pivot,
    ),
    "french_months": (
        12,
        12,
        lambda r: _long({"f": (_months(84), _wave(r, 84, 12, lvl=900, amp=90))}),
        _single("mois", "ventes", lambda d: [f"{FRENCH_MONTHS[x.month - 1]}-{x:%y}" for x in d], sep=";", decimal=","),
    ),
    "hour_ending": (
        24,
        24,
        _daily_and_weekly("load", "2023-01-01 01:00", "h", 24 * 14, 24, (100, 30, 10, 3)),
        _lines("datetime,load", lambda d, y: f"{_hour_ending(d)},{y:.2f}"),
    ),
    "report": (12, 12, lambda r: _long({"p": (_months(96), _wave(r, 96, 12, amp=3000, lvl=500))}), _report),
    "stores": (
        13,
        52,
        lambda r: _long(
            {
                f"{st}_{dp}": (
                    pd.date_range("2010-02-05", periods=150, freq="W-FRI"),
                    _wave(r, 150, 52, lvl=50 * st + dp),
                )
                for st in (1, 2)
                for dp in (1, 2)
            }
        ),
        _stores,
    ),
    "magnitudes": (
        12,
        12,
        lambda r: _long(
            {
                "huge": (_months(100, "2010-01-01"), _wave(r, 100, 12) * 1e10),
                "tiny": (_months(100, "2010-01-01"), _wave(r, 100, 12) * 1e-8),
                "const": (_months(100, "2010-01-01"), np.full(100, 5.0)),
                "negative": (_months(100, "2010-01-01"), -_wave(r, 100, 12)),
            }
        ),
        None,
    ),
    "spike": (
        12,
        12,
        lambda r: _long({"s": (_months(120), _wave(r, 120, 12) * np.where(np.arange(120) == 48, 50.0, 1.0))}),
        None,
    ),
    "ragged": (
        12,
        12,
        lambda r: _long(
            {
                f"s{i}": (pd.date_range(end="2023-12-01", periods=n, freq="MS"), _wave(r, n, 12, lvl=50 + 10 * i))
                for i, n in enumerate([120, 60, 30, 10, 4])
            }
        ),
        None,
    ),
    "hours_with_offsets": (
        24,
        24,
        lambda r: pd.DataFrame(
            {
                "unique_id": "h",
                "ds": pd.date_range("2022-03-20", periods=504, freq="h", tz="Europe/Berlin").map(
                    lambda x: x.isoformat()
                ),
                "y": _wave(r, 504, 24, amp=30),
            }
        ),
        None,
    ),
    "intermittent": (
        12,
        12,
        lambda r: _long({"c": (_months(100, "2015-01-01"), r.poisson(0.4, 100).astype(float))}),
        None,
    ),
    "short_yearly": (
        4,
        1,
        lambda r: _long(
            {"s": (pd.date_range("1947", periods=16, freq="YS"), 60000 + 1500 * np.arange(16) + r.normal(0, 800, 16))}
        ),
        None,
    ),
    "fiscal_years": (
        5,
        1,
        lambda r: _long({"f": (pd.date_range("1981", periods=44, freq="YS"), _wave(r, 44, 10, amp=0, trend=2))}),
        _single("Financial year", "Spend", lambda d: [f"{x.year - 1}-{x.year % 100:02d}" for x in d]),
    ),
    "year_month_columns": (
        12,
        12,
        lambda r: _long({"c": (_months(96, "2012-01-01"), _wave(r, 96, 12, lvl=300, amp=40))}),
        _lines("Year,Month,Sales", lambda d, y: f"{d.year},{d:%B},{y:.2f}"),
    ),
    "marked_missing": (12, 12, lambda r: _long({"k": (_months(120), _wave(r, 120, 12))}), _marked_missing),
    "three_missing": (12, 12, lambda r: _long({"k": (_months(120), _wave(r, 120, 12, amp=15))}), _three_missing),
    "hour_columns": (
        24,
        24,
        _daily_and_weekly("pm", "2014-01-01", "h", 24 * 28, 24, (80, 25, 8, 2)),
        _hour_parts,
    ),
    "no_longer_than_h": (
        12,
        12,
        lambda r: _long(
            {"s": (_months(24, "2020-01-01"), 50 + 10 * np.sin(np.arange(24) * np.pi / 6) + r.normal(0, 1, 24))}
        ),
        None,
    ),
}


LONG: dict[str, Case] = {
    "hourly_year": (24, 24, _daily_and_weekly("load", "2023-01-01", "h", 8760, 24, (100, 30, 10, 3)), None),
    "half_hours": (
        48,
        48,
        _daily_and_weekly("demand", "2000-06-05", "30min", 4032, 48, (30000, 5000, 2000, 300)),
        None,
    ),
}

MANY_SERIES = ("pandas_index", "stores", "sheet", "pivot")  # the cases whose files name several series
