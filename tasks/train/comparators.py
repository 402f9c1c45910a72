"""Statistical comparators: statsforecast's AutoETS, AutoTheta, AutoARIMA, SeasonalNaive and Naive.

Each model is fitted on the history of one (series, origin) pair, everything before the origin,
and forecasts the ``horizon`` steps from it: in the backtest on the same cutoffs as the LSTM, at
serving time on the whole history of the series it was chosen for. Time is counted in steps (the
series' own calendar), so one call serves series of any frequency. The fitted models (AutoETS,
AutoTheta, AutoARIMA) see each history with its gross isolated outliers replaced by a robust fit
(:mod:`lstm_model.outliers`): an error typed into one month would otherwise come back in every
forecast of that month. SeasonalNaive and Naive repeat the history as it is.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pandas as pd

from lstm_model import baselines, outliers
from lstm_model.windows import PackedSeries

COMPARATORS = ("auto_ets", "auto_theta", "auto_arima", "seasonal_naive", "naive")
AUTO = ("auto_ets", "auto_theta", "auto_arima")  # fitted models: statsforecast, per pair
LABELS = {
    "lstm": "LSTM",
    "auto_ets": "AutoETS",
    "auto_theta": "AutoTheta",
    "auto_arima": "AutoARIMA",
    "seasonal_naive": "SeasonalNaive",
    "naive": "Naive",
    "selected": "served",
}
MIN_HISTORY = 2  # points a comparator needs before its origin
# statsforecast simulates some intervals (Theta, ETS) after seeding numpy's global generator: two
# threads fitting at once would interleave its draws, so one fit runs at a time per process
_GLOBAL_RNG = threading.Lock()


MAX_ARIMA_SEASON = 24  # AutoARIMA's seasonal search grows steeply with the season beyond this many steps
# ... where one fit of a few hundred points takes 20-40 s on one core: up to this many series it is
# still affordable (a few fits per series: the validation and test cutoffs, then the serving fit)
LONG_SEASON_ARIMA_SERIES = 4
LONGEST_ARIMA_SEASON = 48  # beyond (15- or 5-minute data: 96, 288 steps) one fit would take hours
# AutoARIMA's fit grows faster than the history (season 24, two busy cores: 1,000 points 52 s,
# 2,000 points 170 s, a year of hours over 20 minutes; season 48, one idle core: 250 points 18 s,
# 500 points 109 s, 1,000 points 385 s): it sees at most the newest ARIMA_HISTORY points of each
# pair, and ARIMA_LONG_SEASONS seasons at a season over MAX_ARIMA_SEASON; both are more than every
# development set holds (750 points at season 5, 289 at season 48), so they change nothing there
ARIMA_HISTORY = 1000
ARIMA_LONG_SEASONS = 8


def arima_history(season: int) -> int:
    """The most points of a pair's history AutoARIMA is fitted on at this season."""
    return ARIMA_HISTORY if season <= MAX_ARIMA_SEASON else ARIMA_LONG_SEASONS * season


def parse(setting: str, n_series: int, max_auto_series: int, season: int = 1) -> list[str]:
    """The comparators to run: the comma-separated names of ``setting``, without the fitted ones
    when there are more than ``max_auto_series`` series (their cost grows with every series), and
    without AutoARIMA when the longest ``season`` of the series exceeds MAX_ARIMA_SEASON steps and
    there are more than LONG_SEASON_ARIMA_SERIES series, or exceeds LONGEST_ARIMA_SEASON (where it
    is not affordable)."""
    names = [n.strip() for n in setting.split(",") if n.strip()]
    unknown = sorted(set(names) - set(COMPARATORS))
    if unknown:
        raise ValueError(f"unknown comparators {unknown}: choose from {', '.join(COMPARATORS)}")
    if n_series > max_auto_series:
        names = [n for n in names if n not in AUTO]
    if season > LONGEST_ARIMA_SEASON or (season > MAX_ARIMA_SEASON and n_series > LONG_SEASON_ARIMA_SERIES):
        names = [n for n in names if n != "auto_arima"]
    return names


def _models(names: list[str], season: int) -> list:
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, Naive, SeasonalNaive

    make = {
        "auto_ets": lambda: AutoETS(season_length=season, alias="auto_ets"),
        "auto_theta": lambda: AutoTheta(season_length=season, alias="auto_theta"),
        "auto_arima": lambda: AutoARIMA(season_length=season, alias="auto_arima"),
        "seasonal_naive": lambda: SeasonalNaive(season_length=season, alias="seasonal_naive"),
        "naive": lambda: Naive(alias="naive"),
    }
    return [make[n]() for n in names]


def histories(packed: PackedSeries, series: np.ndarray, origin: np.ndarray) -> pd.DataFrame:
    """The history before each of M pairs as one long frame: unique_id = pair index, ds = step,
    y; missing points drawn on a straight line between their neighbours inside each pair (carried
    forward after the last value, back before the first), pairs with no value left out."""
    origin = origin.astype(np.int64)
    pair = np.repeat(np.arange(series.size), origin)  # (R,)
    step = np.arange(pair.size) - np.repeat(np.cumsum(origin) - origin, origin)  # (R,) position in the pair
    y = packed.values[packed.offsets[series][pair] + step]
    frame = pd.DataFrame({"unique_id": pair, "ds": step, "y": y})
    if not np.isfinite(y).all():
        known = np.isfinite(y)
        at = pd.Series(np.where(known, step, np.nan), dtype=np.float64)  # (R,) the position of each known value
        v = pd.Series(np.where(known, y, np.nan))
        by = frame["unique_id"]
        before, after = v.groupby(by).ffill(), v.groupby(by).bfill()  # (R,) the neighbours inside the pair
        t0, t1 = at.groupby(by).ffill(), at.groupby(by).bfill()
        share = ((step - t0) / (t1 - t0)).fillna(0.0)  # (R,) 0 at a known point
        line = before + (after - before) * share
        frame["y"] = line.fillna(before).fillna(after).to_numpy()  # edges: carried forward, or back
        frame = frame[frame["y"].notna()]
    return frame


def without_outliers(frame: pd.DataFrame, season: int) -> pd.DataFrame:
    """``histories``' frame with each pair's gross isolated outliers replaced by their robust fit."""
    y = frame["y"].to_numpy(dtype=np.float64)
    ends = np.flatnonzero(np.diff(frame["unique_id"].to_numpy()) != 0) + 1
    cleaned = [outliers.clean(part, season)[0] for part in np.split(y, ends)]
    return frame.assign(y=np.concatenate(cleaned) if cleaned else y)


def outliers_replaced(packed: PackedSeries, season: int | np.ndarray) -> int:
    """How many observed points of the series' whole histories are replaced (as the served LSTM
    and, but for a missing point carried forward, the fitted models see them)."""
    m = np.broadcast_to(np.asarray(season, dtype=np.int64), (packed.n_series,)).tolist()
    spans = zip(packed.offsets.tolist(), packed.lengths.tolist(), m)
    return int(sum(outliers.clean(packed.values[o : o + n], k)[1].sum() for o, n, k in spans))


def forecast_pairs(
    packed: PackedSeries,
    series: np.ndarray,
    origin: np.ndarray,
    horizon: int,
    season: int | np.ndarray,
    names: list[str],
    levels: tuple[int, ...] = (),
) -> dict[str, dict[str, np.ndarray]]:
    """Per comparator: ``{"y_hat": (M, H)}`` plus ``lo_<level>`` / ``hi_<level>`` (M, H) when
    ``levels`` are asked for; NaN for pairs with fewer than MIN_HISTORY points. ``season``: one
    for all pairs or (M,) each pair's own (the fitted models run once per distinct season).
    SeasonalNaive and Naive are computed in one vectorised pass when no interval is asked for
    (the backtest), and by statsforecast otherwise; the fitted models always by statsforecast,
    Naive its fallback."""
    M = series.size
    m = np.broadcast_to(np.asarray(season, dtype=np.int64), series.shape)  # (M,)
    keys = ["y_hat", *(f"{side}_{lv}" for lv in levels for side in ("lo", "hi"))]
    out = {n: {key: np.full((M, horizon), np.nan) for key in keys} for n in names}
    ok = origin >= MIN_HISTORY
    fast = [n for n in names if n in ("seasonal_naive", "naive") and not levels]
    fitted = [n for n in names if n not in fast]
    sub = PackedSeries(packed.values, packed.offsets[series[ok]], packed.lengths[series[ok]])
    for n in fast:
        fn = baselines.naive if n == "naive" else lambda p, o, h: baselines.seasonal_naive(p, o, h, m[ok])
        out[n]["y_hat"][ok] = fn(sub, origin[ok], horizon)
    for m_value in np.unique(m[ok]).tolist() if fitted else []:
        rows = np.flatnonzero(ok & (m == m_value))
        _fit(packed, series[rows], origin[rows], horizon, int(m_value), fitted, levels, out, rows)
    return out


def _fit(
    packed: PackedSeries,
    series: np.ndarray,
    origin: np.ndarray,
    horizon: int,
    season: int,
    fitted: list[str],
    levels: tuple[int, ...],
    out: dict[str, dict[str, np.ndarray]],
    rows: np.ndarray,
) -> None:
    """statsforecast's models on M' pairs of one season, written into ``out`` at ``rows`` (M',)."""
    frame = histories(packed, series, origin)
    from statsforecast import StatsForecast
    from statsforecast.models import Naive

    auto = [n for n in fitted if n in AUTO and n != "auto_arima"]
    runs = [([n for n in fitted if n not in AUTO], frame)]
    if auto or "auto_arima" in fitted:
        frame = without_outliers(frame, season)
        runs += [(auto, frame)]
    if "auto_arima" in fitted:
        most = arima_history(season)
        runs += [(["auto_arima"], frame.groupby("unique_id").tail(most) if (origin > most).any() else frame)]
    for names, df in (run for run in runs if run[0] and len(run[1])):  # histories all missing: no fit
        sf = StatsForecast(models=_models(names, season), freq=1, n_jobs=1, fallback_model=Naive())
        with _GLOBAL_RNG, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = sf.forecast(df=df, h=horizon, level=list(levels) or None)
        fc = fc.sort_values(["unique_id", "ds"], kind="stable")
        at = rows[fc["unique_id"].to_numpy().reshape(-1, horizon)[:, 0]]  # (M'',) pair of each block
        for n in names:
            out[n]["y_hat"][at] = fc[n].to_numpy(dtype=np.float64).reshape(-1, horizon)
            if levels:
                _nested_bands(fc, n, levels, horizon, at, out[n])


def _nested_bands(fc: pd.DataFrame, n: str, levels: tuple[int, ...], horizon: int, at: np.ndarray, out: dict) -> None:
    """Model ``n``'s bands of every level into ``out`` at ``at``, sorted so that each interval holds
    the narrower ones: statsforecast 2.0 writes a series that fell back to the fallback model (too
    short to fit) with its interval columns in the fallback's order, not the model's (a 2-point
    series beside a fitted one: AutoETS-lo-95 holds the 80 % bound, AutoTheta-hi-80 a lower one).
    Those values are the right bounds in the wrong columns; sorting puts them back, and leaves
    bounds that were in their place where they are."""
    lv = sorted(levels, reverse=True)
    keys = [f"lo_{v}" for v in lv] + [f"hi_{v}" for v in reversed(lv)]  # ascending bounds
    cols = [f"{n}-{k.replace('_', '-')}" for k in keys]
    vals = fc[cols].to_numpy(dtype=np.float64)  # (rows, 2L)
    whole = np.isfinite(vals).all(axis=1)  # a row with a missing bound is left as it came
    vals[whole] = np.sort(vals[whole], axis=1)
    for j, key in enumerate(keys):
        out[key][at] = vals[:, j].reshape(-1, horizon)
