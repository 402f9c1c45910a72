"""The backtest's (series, origin) pairs: every model's forecasts from the history before each
origin, the actuals after it and their MASE scales, and the interval bands each pair is served with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from lstm_model import backtest, baselines, metrics
from lstm_model.windows import PackedSeries
from tasks.train import comparators as comp
from tasks.train import intervals

LSTM, ENSEMBLE = "lstm", "ensemble"
ENSEMBLE_MEMBERS = (LSTM, *comp.AUTO)  # the ensemble: the weighted mean forecast of those present
LSTM_SHARE = "ensemble_lstm_share"  # the bundle's record of the LSTM's weight in the ensemble
Predict = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (series (M,), origin (M,)) -> (M, H)


def weights(forecasts: dict[str, np.ndarray], lstm_share: float | None) -> dict[str, np.ndarray]:
    """model -> (M, 1) its weight in the ensemble of the members in ``forecasts`` (model -> (M, H)),
    pair by pair: the LSTM weighs ``lstm_share`` and the comparators that forecast the pair share the
    rest equally (None: every member the same); where the LSTM or every comparator is missing, the
    others alone; 0 for a member that does not forecast the pair."""
    names = [m for m in ENSEMBLE_MEMBERS if m in forecasts]
    ok = {m: np.isfinite(forecasts[m]).all(axis=1, keepdims=True) for m in names}  # (M, 1) each
    others = [m for m in names if m != LSTM]
    if lstm_share is None or LSTM not in names or not others:
        n = np.maximum(sum(ok.values()), 1)  # (M, 1)
        return {m: np.where(ok[m], 1.0 / n, 0.0) for m in names}
    n_others = sum(ok[m] for m in others)  # (M, 1)
    lstm = np.where(ok[LSTM], np.where(n_others > 0, lstm_share, 1.0), 0.0)  # (M, 1)
    share = (1.0 - lstm) / np.maximum(n_others, 1)  # (M, 1) each comparator's
    return {LSTM: lstm, **{m: np.where(ok[m], share, 0.0) for m in others}}


def ensemble(forecasts: dict[str, np.ndarray], lstm_share: float | None) -> np.ndarray:
    """The ensemble of the members in ``forecasts`` (model -> (M, H)): their mean weighted by
    :func:`weights`; NaN where no member forecasts the pair."""
    w = weights(forecasts, lstm_share)
    if not w:
        return np.full_like(next(iter(forecasts.values())), np.nan)
    total = sum(w.values())  # (M, 1): 1, or 0 where no member forecasts
    mean = sum(np.where(w[m] > 0, w[m] * forecasts[m], 0.0) for m in w)  # (M, H)
    return np.where(total > 0, mean, np.nan)


POOL_STEPS = 16  # Newton's steps (or halvings of the bracket) to a pooled quantile
POOL_TOLERANCE = 1e-12  # the probability error at which a pooled quantile is found


def pooled_bands(
    points: dict[str, np.ndarray], bands: dict[str, dict[str, np.ndarray]], lstm_share: float | None
) -> dict[str, np.ndarray]:
    """The ensemble's bands (band -> (M, H)): the quantiles of the mixture of its members' predictive
    distributions (the linear pool), each member weighted as in the ensemble's forecast
    (:func:`weights`). A member's distribution is read off its point forecast ``points[m]`` (M, H),
    taken as its median, and its bands of the level asked for (model -> band -> (M, H)), the quantiles
    they are: a normal below the point through its lower band, another above through its upper one.
    A lone member's bands come back as they were; the pool also takes in how far apart the members'
    forecasts are, which the mean of their bands leaves out."""
    members = [m for m in ENSEMBLE_MEMBERS if m in bands and m in points]
    out: dict[str, np.ndarray] = {}
    for level in sorted({int(k.split("_")[1]) for m in members for k in bands[m]}):
        lo, hi = f"lo_{level}", f"hi_{level}"
        have = [m for m in members if lo in bands[m] and hi in bands[m]]
        if not have:
            continue
        rows = {m: np.where(np.isfinite(bands[m][lo] + bands[m][hi]), points[m], np.nan) for m in have}
        w = weights(rows, lstm_share)
        z = float(special.ndtri(0.5 + level / 200.0))  # the standard normal's quantile the upper band is
        mu = np.stack([points[m] for m in have])  # (K, M, H)
        lows, highs = np.stack([bands[m][lo] for m in have]), np.stack([bands[m][hi] for m in have])  # (K, M, H)
        weight = np.broadcast_to(np.stack([w[m] for m in have]), mu.shape)  # (K, M, H)
        flat = (len(have), -1)  # (K, M H)
        pool = _Pool(
            weight.reshape(flat),
            np.nan_to_num(mu).reshape(flat),
            np.nan_to_num(np.maximum(mu - lows, 0.0) / z).reshape(flat),
            np.nan_to_num(np.maximum(highs - mu, 0.0) / z).reshape(flat),
        )
        for key, vals, p in ((lo, lows, 0.5 - level / 200.0), (hi, highs, 0.5 + level / 200.0)):
            out[key] = pool.quantile(p, np.where(weight > 0, vals, np.nan).reshape(flat)).reshape(mu.shape[1:])
    return _nested(out)


def _nested(bands: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each interval holding the narrower ones: each level is pooled on its own, from two-piece
    normals read off that level's bands, which nothing forces to agree from one level to the next."""
    levels = sorted({int(k.split("_")[1]) for k in bands})
    for narrow, wide in zip(levels, levels[1:]):
        bands[f"lo_{wide}"] = np.fmin(bands[f"lo_{wide}"], bands[f"lo_{narrow}"])
        bands[f"hi_{wide}"] = np.fmax(bands[f"hi_{wide}"], bands[f"hi_{narrow}"])
    return bands


@dataclass
class _Pool:
    """A weighted mixture of K two-piece normals at N points: weights, medians, and the spreads
    below and above them, each (K, N); a zero spread is a step at the median."""

    w: np.ndarray
    mu: np.ndarray
    below: np.ndarray
    above: np.ndarray

    def cdf_pdf(self, x: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n,) the mixture's probability at or below ``x`` (n,) at the points ``at`` (n,), and its
        density there."""
        d = x[None] - self.mu[:, at]  # (K, n)
        s = np.where(d < 0, self.below[:, at], self.above[:, at])
        with np.errstate(divide="ignore", invalid="ignore"):
            u = d / s  # +-inf on a step; NaN exactly at its median, which it counts as reached
            cdf = np.nan_to_num(special.ndtr(u), nan=1.0)
            pdf = np.nan_to_num(np.exp(-0.5 * u * u) / (s * np.sqrt(2 * np.pi)), nan=0.0, posinf=0.0)
        w = self.w[:, at]
        return (w * cdf).sum(axis=0), (w * pdf).sum(axis=0)

    def moment_start(self, p: float) -> np.ndarray:
        """(N,) the ``p`` quantile of a normal centred on the members' weighted medians, with the
        mixture's spread on that side (its members' spreads and that of their medians): where
        Newton's steps start."""
        centre = (self.w * self.mu).sum(axis=0)  # (N,)
        side = self.below if p < 0.5 else self.above
        spread = np.sqrt((self.w * (side**2 + (self.mu - centre) ** 2)).sum(axis=0))  # (N,)
        return centre + float(special.ndtri(p)) * spread

    def quantile(self, p: float, members: np.ndarray) -> np.ndarray:
        """(N,) the mixture's ``p`` quantile, between the smallest and the largest of the members'
        own ``p`` quantiles ``members`` (K, N; NaN: no weight), where it lies: Newton's steps from
        :meth:`moment_start`, safeguarded by halving the bracket (Numerical Recipes' ``rtsafe``), on
        the points not found yet; NaN where no member has one."""
        known = np.isfinite(members)
        some = known.any(axis=0)  # (N,)
        a = np.where(some, np.min(np.where(known, members, np.inf), axis=0), 0.0)  # (N,)
        b = np.where(some, np.max(np.where(known, members, -np.inf), axis=0), 0.0)  # (N,)
        x = np.clip(self.moment_start(p), a, b)  # (N,)
        last = width = b - a  # (N,) the step before the last one; the bracket's first width
        at = np.flatnonzero(a < b)  # a bracket of one point is its answer
        for _ in range(POOL_STEPS):
            if not at.size:
                break
            xa, aa, ba = x[at], a[at], b[at]
            cdf, pdf = self.cdf_pdf(xa, at)
            found = np.abs(p - cdf) <= POOL_TOLERANCE  # the probability is p to rounding
            short = cdf < p
            aa, ba = np.where(short, xa, aa), np.where(short, ba, xa)
            with np.errstate(divide="ignore", invalid="ignore"):
                move = (p - cdf) / pdf
            # Newton's step unless it leaves the bracket or shrinks slower than halving (a kink, a step)
            halve = ~((xa + move >= aa) & (xa + move <= ba)) | ~(np.abs(2 * move) <= np.abs(last[at]))
            last[at] = np.where(halve, 0.5 * (ba - aa), move)
            x[at], a[at], b[at] = np.where(found, xa, np.where(halve, 0.5 * (aa + ba), xa + move)), aa, ba
            # a Newton step a millionth of the bracket leaves an error of about its square: found
            at = at[~found & (halve | (np.abs(move) > POOL_TOLERANCE**0.5 * width[at]))]
        return np.where(some, x, np.nan)


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
    comparator's own (floored in ``test``), the ensemble's the quantiles of its members' pooled
    distributions (:func:`pooled_bands`); the LSTM's floored on ``test.floor`` before they are
    pooled, as every forecast is."""
    keys, bands = backtest.bands_of(levels), dict(test.bands)
    floor = np.zeros(test.y.shape[0], bool) if test.floor is None else test.floor  # (M,)
    if LSTM in test.y_hat and half:
        y_hat, scale = test.y_hat[LSTM], test.scale[:, None]  # (M, H), (M, 1)
        bands[LSTM] = {
            f"{side}_{lv}": backtest.floor_at_zero(y_hat + sign * q[None, :] * scale, floor)
            for lv, q in half.items()
            for side, sign in (("lo", -1), ("hi", 1))
        }
    members, take = [m for m in ENSEMBLE_MEMBERS if m in bands], which == ENSEMBLE
    if ENSEMBLE in test.y_hat and members and take.any():  # pooled on the pairs the ensemble serves
        pooled = pooled_bands(
            {m: test.y_hat[m][take] for m in members},
            {m: {k: bands[m][k][take] for k in keys} for m in members},
            test.lstm_share,
        )
        bands[ENSEMBLE] = {k: np.full_like(test.y, np.nan) for k in keys}
        for k in keys:
            bands[ENSEMBLE][k][take] = pooled[k]
    out = {k: np.full_like(test.y, np.nan) for k in keys}
    for name in set(which) & set(bands):
        take = which == name
        for k in keys:
            out[k][take] = bands[name][k][take]
    return out
