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
