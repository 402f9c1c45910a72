"""CSV -> long frame (unique_id, ds, y): shape and column roles inferred, bad rows kept aside.

Three shapes are accepted: single series (a time column and one value column), long
(id, time, value) and wide (a time column and one value column per series). A row whose
timestamp or value cannot be parsed is returned as a bad row with its line number, column and
a reason code; the good rows are kept.
"""
from __future__ import annotations

import csv
import io
import posixpath
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

TIME_NAMES = {"ds", "date", "time", "timestamp", "datetime", "month", "period", "week", "day", "dt"}
ID_NAMES = {"unique_id", "series_id", "id", "series", "item_id", "key", "sku", "name"}
VALUE_NAMES = {"y", "value", "target", "values"}


class FileRejected(ValueError):
    """The whole file cannot be ingested; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class ParsedFile:
    frame: pd.DataFrame  # unique_id, ds, y
    shape: str  # single | long | wide
    bad_rows: list[dict] = field(default_factory=list)  # {line, column, code, message, raw}
    duplicates: int = 0


def decode(payload: bytes) -> str:
    for enc in ("utf-8-sig", "latin-1"):
        try:
            return payload.decode(enc)
        except UnicodeDecodeError:
            continue
    raise FileRejected("encoding", "cannot decode the file as UTF-8 or Latin-1")


def sniff_delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        return ","


def parse_csv(
    payload: bytes,
    name: str,
    time_col: str | None = None,
    value_col: str | None = None,
    id_col: str | None = None,
) -> ParsedFile:
    text = decode(payload)
    if not text.strip():
        raise FileRejected("empty_file", "the file is empty")
    raw = pd.read_csv(io.StringIO(text), sep=sniff_delimiter(text), dtype=str, keep_default_na=False,
                      skipinitialspace=True)
    raw.columns = [str(c).strip() for c in raw.columns]
    if raw.empty:
        raise FileRejected("header_only", "the file has a header but no data rows")
    tcol = _pick_time(raw, time_col)
    numeric = {c: pd.to_numeric(raw[c].str.replace(",", ".", regex=False) if _decimal_comma(raw[c]) else raw[c],
                                 errors="coerce") for c in raw.columns if c != tcol}
    num_cols = [c for c, v in numeric.items() if _mostly(v.notna(), raw[c])]
    icol = _pick_id(raw, id_col, tcol, num_cols)
    ds = pd.to_datetime(raw[tcol].str.strip(), errors="coerce", format="mixed", utc=True).dt.tz_localize(None)
    line = np.arange(len(raw)) + 2  # header is line 1
    if icol is not None:
        vcol = _pick_value(value_col, [c for c in num_cols if c != icol])
        frame = pd.DataFrame({"unique_id": raw[icol].astype(str), "ds": ds, "y": numeric[vcol], "_line": line})
        shape, value_cols = "long", [vcol]
    else:
        value_cols = [value_col] if value_col else num_cols
        if not value_cols:
            raise FileRejected("no_value_column", f"no numeric value column found among {list(raw.columns)}")
        shape = "single" if len(value_cols) == 1 else "wide"
        stem = posixpath.splitext(posixpath.basename(name))[0]
        parts = [
            pd.DataFrame({"unique_id": stem if shape == "single" else c, "ds": ds, "y": numeric[c], "_line": line,
                          "_raw": raw[c]})
            for c in value_cols
        ]
        frame = pd.concat(parts, ignore_index=True)
        if shape == "wide":  # blank cells in a wide file: that series has no point there
            frame = frame[frame["_raw"].str.strip() != ""]
        frame = frame.drop(columns="_raw")
    bad = _bad_rows(frame, tcol, value_cols[0] if len(value_cols) == 1 else "value", raw)
    good = frame[frame["ds"].notna() & np.isfinite(frame["y"].to_numpy(dtype=float))]
    n_before = len(good)
    good = good.drop_duplicates(["unique_id", "ds"], keep="last").drop(columns="_line")
    good = good.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    good["y"] = good["y"].astype("float64")
    return ParsedFile(good, shape, bad, duplicates=n_before - len(good))


def _mostly(ok: pd.Series, raw: pd.Series, frac: float = 0.5) -> bool:
    filled = raw.str.strip() != ""
    return bool(filled.any()) and ok[filled].mean() >= frac


def _decimal_comma(col: pd.Series) -> bool:
    s = col.str.strip()
    return bool(s.str.fullmatch(r"-?\d+,\d+").mean() > 0.5)


def _pick_time(raw: pd.DataFrame, time_col: str | None) -> str:
    if time_col:
        if time_col not in raw.columns:
            raise FileRejected("missing_column", f"time column {time_col!r} not in {list(raw.columns)}")
        return time_col
    named = [c for c in raw.columns if c.lower() in TIME_NAMES]
    if len(named) == 1:
        return named[0]
    parsed = [c for c in raw.columns
              if pd.to_numeric(raw[c], errors="coerce").isna().all()
              and pd.to_datetime(raw[c].head(50), errors="coerce", format="mixed").notna().mean() >= 0.9]
    if len(parsed) == 1:
        return parsed[0]
    cands = named or parsed
    raise FileRejected(
        "ambiguous_time" if cands else "no_time_column",
        f"cannot tell the timestamp column (candidates: {cands or 'none'}); set --time-col",
    )


def _pick_id(raw: pd.DataFrame, id_col: str | None, tcol: str, num_cols: list[str]) -> str | None:
    if id_col:
        if id_col not in raw.columns:
            raise FileRejected("missing_column", f"id column {id_col!r} not in {list(raw.columns)}")
        return id_col
    named = [c for c in raw.columns if c.lower() in ID_NAMES and c != tcol]
    if len(named) == 1:
        return named[0]
    text = [c for c in raw.columns if c != tcol and c not in num_cols]
    if len(text) == 1:
        return text[0]
    if len(text) > 1:
        raise FileRejected("ambiguous_id", f"several text columns could be the series id: {text}; set --id-col")
    return None


def _pick_value(value_col: str | None, cands: list[str]) -> str:
    if value_col:
        if value_col not in cands:
            raise FileRejected("missing_column", f"value column {value_col!r} is not a numeric column of {cands}")
        return value_col
    named = [c for c in cands if c.lower() in VALUE_NAMES]
    if len(named) == 1:
        return named[0]
    if len(cands) == 1:
        return cands[0]
    raise FileRejected(
        "ambiguous_value" if cands else "no_value_column",
        f"cannot tell the value column (candidates: {cands or 'none'}); set --value-col",
    )


def _bad_rows(frame: pd.DataFrame, tcol: str, vname: str, raw: pd.DataFrame) -> list[dict]:
    out = []
    bad_t = frame["ds"].isna()
    y = frame["y"].to_numpy(dtype=float)
    bad_v = ~bad_t & ~np.isfinite(y)
    for mask, col, code, msg in ((bad_t, tcol, "bad_timestamp", "cannot parse the timestamp"),
                                 (bad_v, vname, "bad_value", "value is missing, not a number or infinite")):
        for ln in frame.loc[mask, "_line"].to_numpy():
            out.append({"line": int(ln), "column": col, "code": code, "message": msg,
                        "raw": ",".join(raw.iloc[int(ln) - 2].tolist())})
    return out
