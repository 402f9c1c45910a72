"""Each series' own frequency and calendar: inference, season length, the gap grid, future dates.

A frequency is a pandas offset alias read off the series' own timestamps (the modal step, so a
few gaps or missing trading holidays do not change it): month, quarter and year starts or ends
(QS-OCT, YE-DEC, ...), W-SUN..., B for daily data that never fall on a weekend, D, h, 30min,
500ms, ... One network is trained over series of different frequencies: it works in steps, and
everything calendar-bound (season, seasonal naive, MASE scale, gap filling, future dates) is
per series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
DAY_NS = 86_400 * 10**9
MIN_SHARE = 0.5  # the modal step must be at least this share of a series' steps, else it is irregular


def infer_freqs(ds: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """(S,) frequency alias of each series (None when irregular or fewer than 2 points), for
    timestamps ``ds`` (N,) sorted within each series, the series laid end to end (``lengths``).
    Vectorised over rows: calendar properties are computed on the distinct timestamps only."""
    S = lengths.shape[0]
    out = np.full(S, None, dtype=object)
    if S == 0 or ds.shape[0] < 2:
        return out
    t = ds.astype("datetime64[ns]").view(np.int64)
    sid = np.repeat(np.arange(S), lengths)  # (N,)
    which, uniq = pd.factorize(t)
    u = pd.DatetimeIndex(uniq.view("datetime64[ns]"))
    midnight = np.asarray(u == u.normalize())
    start = _per_series(np.asarray(u.is_month_start) & midnight, which, sid, S)  # (S,) all month starts
    end = _per_series(np.asarray(u.is_month_end) & midnight, which, sid, S)  # (S,) all month ends
    weekday = _per_series(np.asarray(u.dayofweek) < 5, which, sid, S)  # (S,) never on a weekend
    months = np.asarray(u.year * 12 + u.month - 1, dtype=np.int64)[which]  # (N,)
    same = sid[1:] == sid[:-1]  # (N-1,) consecutive rows of one series
    keys = sid[1:][same]
    step, share = _modal(keys, np.diff(t)[same], S)
    mstep, mshare = _modal(keys, np.diff(months)[same], S)
    first = pd.DatetimeIndex(ds[np.cumsum(lengths) - lengths].astype("datetime64[ns]"))  # (S,) first stamps
    month, dow = np.asarray(first.month, np.int64), np.asarray(first.dayofweek, np.int64)
    monthly = (start | end) & (mshare >= MIN_SHARE) & (mstep > 0) & (lengths >= 2)
    fixed = ~monthly & (share >= MIN_SHARE) & (step > 0) & (lengths >= 2)
    # one alias per distinct (kind, step, anchor): a few, whatever the number of series
    anchor = np.where(monthly & (mstep == 3), (month - 1) % 3 + 1, np.where(monthly & (mstep == 12), month, 0))
    anchor = np.where(fixed & (step == 7 * DAY_NS), dow, anchor)
    daily_weekdays = fixed & (step == DAY_NS) & weekday
    key = np.stack([monthly, fixed, np.where(monthly, mstep, step), start, anchor, daily_weekdays], axis=1)
    kinds, inverse = np.unique(key.astype(np.int64), axis=0, return_inverse=True)
    names = np.array(
        [
            _monthly(int(k[2]), bool(k[3]), int(k[4]))
            if k[0]
            else _fixed(int(k[2]), bool(k[5]), int(k[4]))
            if k[1]
            else None
            for k in kinds
        ],
        dtype=object,
    )
    out[:] = names[inverse.reshape(-1)]
    return out


def _per_series(flag_u: np.ndarray, which: np.ndarray, sid: np.ndarray, S: int) -> np.ndarray:
    """(S,) True where the flag of every row's distinct timestamp holds for the whole series."""
    bad = np.bincount(sid, weights=~flag_u[which], minlength=S)
    return bad == 0


def _modal(keys: np.ndarray, values: np.ndarray, S: int) -> tuple[np.ndarray, np.ndarray]:
    """Per series: the most frequent value among its rows (``keys`` (M,) series, ``values`` (M,)),
    or a finer one that divides it and is at least half as frequent, and the share of the rows
    they account for. -> (S,) value (0 where none), (S,) share."""
    mode, share = np.zeros(S, np.int64), np.zeros(S)
    if keys.size == 0:
        return mode, share
    order = np.lexsort((values, keys))
    k, v = keys[order], values[order]
    run = np.flatnonzero(np.r_[True, (k[1:] != k[:-1]) | (v[1:] != v[:-1])])  # (R,) run starts
    count = np.diff(np.r_[run, k.size])  # (R,)
    best = np.lexsort((-count, k[run]))  # runs by series, longest first
    rk = k[run][best]
    head = best[np.r_[True, rk[1:] != rk[:-1]]]  # the longest run of each series
    total = np.bincount(keys, minlength=S)
    mode[k[run][head]], top = v[run][head], np.zeros(S, np.int64)
    top[k[run][head]] = count[head]
    # a finer step as frequent as half the mode and dividing it: a third of a monthly series' points
    # missing makes steps of 2 months as common as steps of 1 (and the series monthly, not 2-monthly)
    rk, rv = k[run], v[run]  # (R,) by series, then step, ascending
    finer = (rv > 0) & (rv < mode[rk]) & (mode[rk] % np.maximum(rv, 1) == 0) & (2 * count >= top[rk])
    series, first = np.unique(rk[finer], return_index=True)  # the smallest such step of each series
    pick = np.flatnonzero(finer)[first]
    share[k[run][head]] = count[head] / total[k[run][head]]
    share[series] = (top[series] + count[pick]) / total[series]
    mode[series] = rv[pick]
    return mode, share


def _monthly(step: int, starts: bool, month: int) -> str:
    """A month-based alias, anchored on the series' own months (a quarter starting in February)."""
    if step == 1:
        return "MS" if starts else "ME"
    if step == 3:
        return f"QS-{MONTHS[(month - 1) % 3]}" if starts else f"QE-{MONTHS[(month - 1) % 3 + 9]}"
    if step == 12:
        return f"YS-{MONTHS[month - 1]}" if starts else f"YE-{MONTHS[month - 1]}"
    return f"{step}MS" if starts else f"{step}ME"


def _fixed(step_ns: int, weekdays_only: bool, first_day: int) -> str:
    if step_ns == DAY_NS and weekdays_only:
        return "B"  # daily steps that skip every weekend: business days (trading holidays missing)
    if step_ns == 7 * DAY_NS:
        return f"W-{DAYS[first_day]}"
    if step_ns % DAY_NS == 0:
        return "D" if step_ns == DAY_NS else f"{step_ns // DAY_NS}D"
    return pd.tseries.frequencies.to_offset(pd.Timedelta(step_ns)).freqstr


def season_length(freq: str | None, override: int | None = None) -> int:
    """The season of a frequency: a year of months or quarters, a week of days (5 business days),
    a day of hours or of steps of 15 minutes and more, an hour of shorter steps; 1 otherwise."""
    if override:
        return int(override)
    if not freq:
        return 1
    head = freq.split("-")[0]
    digits = head[: len(head) - len(head.lstrip("0123456789"))]
    n, base = int(digits or 1), head[len(digits) :]
    per = {"MS": 12, "ME": 12, "M": 12, "QS": 4, "QE": 4, "Q": 4, "W": 52, "D": 7, "B": 5, "h": 24, "H": 24}
    if base in per:
        return per[base] // n if per[base] % n == 0 else 1
    if base in ("min", "T"):
        for span in (1440, 60):  # a day of steps when it is at most 96 of them, else an hour
            if span % n == 0 and (span // n <= 96 or span == 60):
                return span // n
    return 1


def seasons(freqs: np.ndarray, override: int | None = None) -> np.ndarray:
    """(S,) season length of each series."""
    table = {f: season_length(f, override) for f in dict.fromkeys(freqs.tolist())}
    return np.array([table[f] for f in freqs.tolist()], dtype=np.int64)


def future_dates(last: np.ndarray, freqs: np.ndarray | str | None, horizon: int) -> np.ndarray:
    """(S,) last timestamps and (S,) frequencies (or one for all) -> (S, H) next timestamps."""
    freqs = np.full(last.shape[0], freqs, dtype=object) if freqs is None or isinstance(freqs, str) else freqs
    if any(f is None for f in freqs):
        raise ValueError(
            "cannot forecast dates: the frequency of some series could not be inferred (set data.freq / --freq)"
        )
    out = np.empty((last.shape[0], horizon), dtype="datetime64[ns]")
    for f in dict.fromkeys(freqs.tolist()):
        rows = freqs == f
        offset = pd.tseries.frequencies.to_offset(f)
        try:
            out[rows] = _steps(pd.DatetimeIndex(last[rows]), offset, horizon)  # vectorised over rows
        except (OverflowError, pd.errors.OutOfBoundsDatetime):  # past 2262: those series get NaT
            out[rows] = [_steps_or_nat(t, offset, horizon) for t in last[rows]]
    return out


def _steps(base: pd.DatetimeIndex, offset: pd.DateOffset, horizon: int) -> np.ndarray:
    """(len(base), H) the H timestamps after each of ``base``."""
    return np.stack([(base + k * offset).to_numpy(dtype="datetime64[ns]") for k in range(1, horizon + 1)], axis=1)


def _steps_or_nat(last: np.datetime64, offset: pd.DateOffset, horizon: int) -> np.ndarray:
    try:
        return _steps(pd.DatetimeIndex([last]), offset, horizon)[0]
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        return np.full(horizon, np.datetime64("NaT"), dtype="datetime64[ns]")


def grid(stamps: pd.DatetimeIndex, freq: str | None) -> pd.DatetimeIndex | None:
    """Every step of the series' calendar from its first to its last timestamp (None: irregular)."""
    if not freq or len(stamps) < 2:
        return None
    return pd.date_range(stamps[0], stamps[-1], freq=freq)


def stepped_over(ds: np.ndarray, lengths: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """(S,) whether a series skips a step of its own calendar (a month with no row), for timestamps
    ``ds`` (N,) sorted within each series, laid end to end. Business days (``B``) never do: a
    trading holiday is a day without trading, as a weekend is, not a point missing."""
    S = lengths.shape[0]
    out = np.zeros(S, dtype=bool)
    if ds.shape[0] < 2:
        return out
    sid = np.repeat(np.arange(S), lengths)  # (N,)
    same = sid[1:] == sid[:-1]  # (N-1,)
    nanos = np.diff(ds.astype("datetime64[ns]").view(np.int64))  # (N-1,)
    months = np.diff(month_numbers(ds))  # (N-1,)
    for f in dict.fromkeys(freqs.tolist()):
        if f is None or f == "B":
            continue
        step = calendar_step(f)  # (months, nanoseconds): one of them 0
        gap = (months > step[0]) if step[0] else (nanos > step[1])  # (N-1,)
        rows = same & gap & (freqs[sid[1:]] == f)
        out[np.unique(sid[1:][rows])] = True
    return out


def month_numbers(ds: np.ndarray) -> np.ndarray:
    """(N,) timestamps -> (N,) months since January 1970."""
    return ds.astype("datetime64[ns]").astype("datetime64[M]").view(np.int64)


def calendar_step(freq: str) -> tuple[int, int]:
    """A frequency's step: (months, 0) for month, quarter and year aliases, (0, nanoseconds) else."""
    offset = pd.tseries.frequencies.to_offset(freq)
    name = offset.name.split("-")[0]
    months = {"MS": 1, "ME": 1, "QS": 3, "QE": 3, "YS": 12, "YE": 12}.get(name, 0)
    if months:
        return months * offset.n, 0
    days = {"W": 7, "D": 1}.get(name)
    return 0, int(pd.Timedelta(days * offset.n, unit="D").value if days else pd.Timedelta(offset).value)
