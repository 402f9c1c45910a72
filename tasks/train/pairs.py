"""The backtest's (series, origin) pairs: every model's forecasts from the history before each
origin, the actuals after it and their MASE scales, and the interval bands each pair is served with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lstm_model import backtest, baselines, metrics
from lstm_model.backtest import combine
from lstm_model.windows import PackedSeries
from tasks.train import comparators as comp
from tasks.train import intervals

LSTM, ENSEMBLE = "lstm", "ensemble"
ENSEMBLE_MEMBERS = (LSTM, *comp.AUTO)  # the ensemble: the weighted mean forecast of those present
LSTM_SHARE = "ensemble_lstm_share"  # the bundle's record of the LSTM's weight in the ensemble
Predict = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (series (M,), origin (M,)) -> (M, H)


def ensemble(forecasts: dict[str, np.ndarray], lstm_share: float | None) -> np.ndarray:
    """The ensemble of the members in ``forecasts`` (model -> (M, H)), pair by pair: the LSTM weighs
    ``lstm_share`` and the comparators that forecast the pair share the rest equally (None: every
    member the same); where the LSTM or every comparator is missing, the others alone."""
    names = [m for m in ENSEMBLE_MEMBERS if m in forecasts]
    if lstm_share is None or LSTM not in names or len(names) == 1:
        return combine([forecasts[m] for m in names])
    lstm = forecasts[LSTM]  # (M, H)
    others = combine([forecasts[m] for m in names if m != LSTM])  # (M, H) the comparators that forecast each pair
    has_lstm = np.isfinite(lstm).all(axis=1, keepdims=True)  # (M, 1)
    has_others = np.isfinite(others).all(axis=1, keepdims=True)  # (M, 1)
    both = lstm_share * lstm + (1.0 - lstm_share) * others
    return np.where(has_lstm & has_others, both, np.where(has_lstm, lstm, others))


@dataclass
class Pairs:
    """Forecasts of every model on M (series, origin) pairs, with the actuals and MASE scales."""

    series: np.ndarray  # (M,)
    origin: np.ndarray  # (M,)
    y: np.ndarray  # (M, H)
    scale: np.ndarray  # (M,)
    y_hat: dict[str, np.ndarray]  # model -> (M, H), NaN where it cannot forecast
    bands: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # comparator -> lo_80 ... -> (M, H)
    banded: np.ndarray | None = None  # (M,) the pairs whose bands every comparator has (a sample of many)
    floor: np.ndarray | None = None  # (M,) the pairs whose forecasts are floored at zero
    lstm_share: float | None = None  # the LSTM's weight in the ensemble (None: the members' plain mean)

    def metric(self, y_hat: np.ndarray) -> dict[str, np.ndarray]:
        return metrics.all_metrics(self.y, y_hat, self.scale)  # metric -> (M,)


def finite(y_hat: np.ndarray) -> np.ndarray:
    return np.isfinite(y_hat).all(axis=1)  # (M,)


def usable(p: Pairs) -> np.ndarray:
    """(M,) pairs with enough history for a comparator and at least one observed actual."""
    return (p.origin >= comp.MIN_HISTORY) & np.isfinite(p.y).any(axis=1)


def pairs_at(
    lstm: Predict | None,
    L: int,
    packed: PackedSeries,
    origins: np.ndarray,
    H: int,
    season: np.ndarray,
    comparators: list[str],
    nonnegative: bool,
    levels: tuple[int, ...] = (),
    lstm_share: float | None = None,
) -> Pairs:
    """Every model's forecasts on the pairs of ``origins``; the comparators' interval bands too
    when ``levels`` are asked for (floored like the forecasts)."""
    series, origin = backtest.pairs(origins)
    season = intervals.per_series(season, packed.n_series)
    inside = origin >= 0  # a series shorter than its windows has negative origins: no pair there
    safe = np.maximum(origin, 0)
    y = np.full((series.size, H), np.nan)
    y[inside] = backtest.actuals(packed, series[inside], origin[inside], H)
    fitted, simple = [c for c in comparators if c in comp.AUTO], [c for c in comparators if c not in comp.AUTO]
    y_hat = comp.forecast_pairs(packed, series, safe, H, season[series], fitted, levels)  # bands at little cost
    y_hat |= comp.forecast_pairs(packed, series, safe, H, season[series], simple)  # vectorised, no bands
    out = {k: y_hat[k]["y_hat"] for k in comparators}
    bands = {k: {b: v[b] for b in backtest.bands_of(levels)} for k, v in y_hat.items() if k in fitted}
    banded = np.ones(series.size, bool)
    if levels and simple:  # the naive models' bands come from statsforecast, per pair: on a bounded sample
        rows = intervals.fixed_sample(series.size, MAX_BAND_PAIRS)
        banded = np.isin(np.arange(series.size), rows)
        got = comp.forecast_pairs(packed, series[rows], safe[rows], H, season[series[rows]], simple, levels)
        for k, v in got.items():
            bands[k] = {b: np.full((series.size, H), np.nan) for b in backtest.bands_of(levels)}
            for b in bands[k]:
                bands[k][b][rows] = v[b]
    if lstm is not None:
        out[LSTM] = np.full((series.size, H), np.nan)
        ok = origin >= L
        if ok.any():
            out[LSTM][ok] = lstm(series[ok], origin[ok])
    floor = backtest.never_negative(packed, series, safe) & nonnegative  # (M,)
    if floor.any():
        out = {k: backtest.floor_at_zero(v, floor) for k, v in out.items()}
        bands = {k: {b: backtest.floor_at_zero(v, floor) for b, v in bs.items()} for k, bs in bands.items()}
    if sum(m in out for m in ENSEMBLE_MEMBERS) > 1:
        out[ENSEMBLE] = ensemble(out, lstm_share)
    scale = np.full(series.size, np.nan)
    scale[inside] = baselines.seasonal_scale_at(packed, series[inside], origin[inside], season[series[inside]])
    return Pairs(series, origin, y, scale, out, bands, banded, floor, lstm_share)


MAX_BAND_PAIRS = 2048  # the served coverage of more test pairs is measured on a fixed sample of them


def served_bands(
    test: Pairs, which: np.ndarray, half: dict[int, np.ndarray], levels: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """band -> (M, H) the interval bands of the model that serves each pair (``which``), as served:
    the LSTM's conformal ``half``-widths (level -> (H,), MASE-scaled) around its forecast, a
    comparator's own (floored in ``test``), the ensemble's the mean of its members' (weighted as
    its forecast); the LSTM's floored on ``test.floor`` before they are combined, as every forecast is."""
    keys, bands = backtest.bands_of(levels), dict(test.bands)
    floor = np.zeros(test.y.shape[0], bool) if test.floor is None else test.floor  # (M,)
    if LSTM in test.y_hat and half:
        y_hat, scale = test.y_hat[LSTM], test.scale[:, None]  # (M, H), (M, 1)
        bands[LSTM] = {
            f"{side}_{lv}": backtest.floor_at_zero(y_hat + sign * q[None, :] * scale, floor)
            for lv, q in half.items()
            for side, sign in (("lo", -1), ("hi", 1))
        }
    members = [m for m in ENSEMBLE_MEMBERS if m in bands]
    if ENSEMBLE in test.y_hat and members:
        bands[ENSEMBLE] = {k: ensemble({m: bands[m][k] for m in members}, test.lstm_share) for k in keys}
    out = {k: np.full_like(test.y, np.nan) for k in keys}
    for name in set(which) & set(bands):
        take = which == name
        for k in keys:
            out[k][take] = bands[name][k][take]
    return out
