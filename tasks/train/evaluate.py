"""Backtest of the LSTM against the statistical comparators on the same cutoffs, the per-series
choice of model on the validation windows, conformal intervals, and the tables that show them.

Protocol, per series (positions inside the series):

    [0, val0)         training part: the evaluated LSTM is trained on these targets only
    [val0, test0)     validation part: ``val_windows`` origins, early stopping and the choice of model
    [test0, end)      test part: ``n_windows`` origins ``step`` apart, the reported accuracy

Every model is scored on exactly the same (series, cutoff, step) points; the comparators are
refitted at every origin on the history before it. The choice never reads the test part.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lstm_model import backtest, scaling
from lstm_model.bundle import ModelBundle, forecast_at
from lstm_model.windows import PackedSeries
from tasks.train import intervals
from tasks.train.comparators import AUTO, outliers_replaced
from tasks.train.pairs import (
    ENSEMBLE,
    ENSEMBLE_MEMBERS,
    LSTM,
    LSTM_SHARE,
    Pairs,
    Predict,
    ensemble,
    finite,
    pairs_at,
    served_bands,
    usable,
)

METRICS = ("mae", "rmse", "mape", "smape", "mase")
LEVELS = backtest.LEVELS
SELECTED = "selected"


@dataclass(frozen=True)
class Split:
    """Positions per series (S,): train = [0, val0), validation = [val0, test0) with the
    ``val_origins`` (Wv, S), test = the windows starting at ``origins`` (W, S), the first at test0."""

    val0: np.ndarray
    test0: np.ndarray
    val_origins: np.ndarray
    origins: np.ndarray


def split(
    packed: PackedSeries, horizon: int, val_windows: int = 1, n_windows: int = 1, step: int | None = None
) -> Split:
    step = step or horizon
    origins = backtest.cutoffs(packed.lengths, horizon, n_windows, step)  # (W, S)
    test0 = origins[0]
    back = horizon + (val_windows - 1 - np.arange(val_windows)) * step  # (Wv,) the last ends at test0
    val_origins = test0[None, :] - back[:, None]  # (Wv, S)
    return Split(np.maximum(val_origins[0], 0), test0, val_origins, origins)


def choose_windows(longest: int, horizon: int, input_size: int, most: int, val_windows: int, step: int) -> int:
    """The most backtest windows, up to ``most``, that leave the longest series a training part
    of at least 2 (input_size + horizon) points; at least one."""
    for w in range(most, 1, -1):
        train = longest - horizon - (w - 1) * step - horizon - (val_windows - 1) * step
        if train >= 2 * (input_size + horizon):
            return w
    return 1


@dataclass
class Evaluation:
    metrics: dict[str, float]  # {model}_{metric} on the test windows over the same points, coverage_*
    table: pd.DataFrame  # per series and model, test windows: unique_id, model, mae, rmse, mape, smape, mase
    frame: pd.DataFrame  # test forecasts: unique_id, cutoff, ds, y, one column per model, selected, model
    models: list[str]  # the models compared ("lstm" first when it was trained), then the comparators
    choice: dict[str, str]  # per series: the model with the lowest validation error
    fallback: dict[str, str]  # per series: the best comparator (served where the LSTM cannot forecast)
    default: str  # the model of a series with no validation window (or unseen)
    default_fallback: str
    test: Pairs  # the test pairs, for re-scoring another model on the same points (the gate)
    common: np.ndarray  # (M,) the test pairs every model forecasts: the points of every metric
    conformal: dict[str, list[float]] = field(default_factory=dict)  # level -> (H,) scaled half-widths
    val: Pairs | None = None  # the validation pairs the choice was made on
    band_shift: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> band -> MASE-scaled shift


def evaluate(
    lstm: Predict | None,
    input_size: int,
    packed: PackedSeries,
    ids: list[str],
    ds: np.ndarray,
    sp: Split,
    season: np.ndarray,
    comparators: list[str],
    margin: float = 0.0,
    quantiles: tuple[float, ...] = (),
    *,
    nonnegative: bool,
    lstm_share: float | None = None,
) -> Evaluation:
    """Backtest the LSTM (``lstm`` None: not trained) and the comparators on the validation and
    test origins, choose a model per series on the validation windows, score every model and the
    chosen ones on the test windows, and calibrate the LSTM's intervals on the validation part.
    ``season``: (S,) each series' season length (or one for all); ``nonnegative``: every model's
    forecast of a series with no negative value before its origin is floored at zero, as served;
    ``lstm_share``: the LSTM's weight in the ensemble (None: the members' plain mean)."""
    H, L = packed_horizon(sp), input_size
    levels = backtest.levels_for(quantiles)
    shiftable = bool(levels) and sp.val_origins.size * H >= backtest.MIN_SHIFT_POINTS  # enough to shift bands on
    val = pairs_at(
        lstm, L, packed, sp.val_origins, H, season, comparators, nonnegative, levels if shiftable else (), lstm_share
    )
    test = pairs_at(lstm, L, packed, sp.origins, H, season, comparators, nonnegative, levels, lstm_share)
    models = ([LSTM] if lstm is not None else []) + list(comparators) + ([ENSEMBLE] if ENSEMBLE in test.y_hat else [])
    if lstm is not None and not finite(test.y_hat[LSTM]).any():
        models.remove(LSTM)  # the LSTM cannot forecast a single test window: compared without it
    choice, default = _choose(val, models, packed.n_series, margin)
    fallback, default_fallback = _choose(val, list(comparators), packed.n_series)
    picks = (
        np.where(choice >= 0, choice, models.index(default)),
        np.where(fallback >= 0, fallback, comparators.index(default_fallback)),
    )
    test.y_hat[SELECTED], which = _served(test, models, list(comparators), *picks)  # no validation window: the defaults
    common = usable(test) & np.all([finite(test.y_hat[m]) for m in models + [SELECTED]], axis=0)
    ids_arr = np.asarray(ids, dtype=object)
    agg: dict[str, float] = {"points": float(common.sum())}
    if set(comparators) & set(AUTO):  # the points the fitted models see replaced in the whole histories
        agg["outliers_replaced"] = float(outliers_replaced(packed, season))
    rows = []
    for m in models + [SELECTED]:
        per_pair = test.metric(test.y_hat[m])
        for k in METRICS:
            agg[f"{m}_{k}"] = float(np.nanmean(per_pair[k][common])) if common.any() else float("nan")
        rows.append(
            pd.DataFrame(
                {"unique_id": ids_arr[test.series[common]], "model": m, **{k: per_pair[k][common] for k in METRICS}}
            )
        )
    table = pd.concat(rows, ignore_index=True).groupby(["unique_id", "model"], as_index=False, sort=False).mean()
    names = [ids_arr[i] for i in range(packed.n_series)]
    chosen = {names[i]: models[c] if c >= 0 else default for i, c in enumerate(choice)}
    for m in models:
        agg[f"series_{m}"] = float(sum(v == m for v in chosen.values()))
    frame = _frame(test, ids_arr, ds, packed, models, chosen)
    conformal: dict[str, list[float]] = {}
    half: dict[int, np.ndarray] = {}  # level -> (H,) the LSTM's half-widths calibrated on validation
    if LSTM in models:
        keep = usable(test)
        half, conformal = intervals.conformal(
            lstm,
            L,
            packed,
            sp.val0,
            sp.test0,
            H,
            season,
            test.y_hat[LSTM][keep],
            test.scale[keep],
            frame,
            agg,
            quantiles,
            nonnegative=nonnegative,
        )
    shifts = _band_shifts(val, models, comparators, picks, half, levels, 0.5 in quantiles) if shiftable else {}
    bands = _bands_as_served(test, which, half, levels, shifts)
    median = backtest.median_of(test.y_hat[SELECTED], bands, which, shifts, test.scale)  # (M, H) the served q50
    scored = common & (True if test.banded is None else test.banded)  # (M,)
    bands = {k: b[scored] for k, b in bands.items()}
    agg |= intervals.coverage_of(test.y[scored], median[scored], bands, quantiles, SELECTED)
    return Evaluation(
        agg,
        table,
        frame,
        models,
        chosen,
        {names[i]: comparators[c] if c >= 0 else default_fallback for i, c in enumerate(fallback)},
        default,
        default_fallback,
        test,
        common,
        conformal,
        val,
        shifts,
    )


def _band_shifts(
    val: Pairs,
    models: list[str],
    comparators: list[str],
    picks: tuple[np.ndarray, np.ndarray],
    half: dict[int, np.ndarray],
    levels: tuple[int, ...],
    median: bool = False,
) -> dict[str, dict[str, float]]:
    """The conformal shifts of each serving model's bands, from the validation pairs it serves
    (``median``: its median's too)."""
    point, which = _served(val, models, comparators, *picks)
    bands = _bands_as_served(val, which, half, levels, {})
    rows = usable(val) & (True if val.banded is None else val.banded)  # (M,)
    bands = {k: b[rows] for k, b in bands.items()}
    at = point[rows] if median else None
    return backtest.band_shifts(val.y[rows], bands, which[rows], val.scale[rows], point=at)


def _bands_as_served(
    p: Pairs,
    which: np.ndarray,
    half: dict[int, np.ndarray],
    levels: tuple[int, ...],
    shifts: dict[str, dict[str, float]],
) -> dict[str, np.ndarray]:
    """band -> (M, H) the bands each pair is served with (see ``served_bands``), moved by ``shifts``
    and floored as served."""
    bands = served_bands(p, which, half, levels)
    if not shifts:
        return bands  # floored already
    bands = backtest.shift_bands(p.y_hat[SELECTED], bands, which, shifts, p.scale)
    return {k: backtest.floor_at_zero(v, p.floor) for k, v in bands.items()}


def packed_horizon(sp: Split) -> int:
    """H: the distance from the last validation origin to the first test origin."""
    return int((sp.test0 - sp.val_origins[-1]).max())


def served_models(meta: dict, ids, serve_model: str = "selected") -> tuple[np.ndarray, np.ndarray]:
    """(S,) the model each series is served by (chosen on validation, or ``serve_model`` when it is
    lstm or ensemble) and (S,) its fallback comparator, from a bundle's metadata; unseen series
    take the defaults."""
    chosen, fallback = meta.get("selection", {}), meta.get("fallback", {})
    want = np.array(
        [
            serve_model if serve_model in (LSTM, ENSEMBLE) else chosen.get(i, meta.get("default_model", LSTM))
            for i in ids
        ],
        dtype=object,
    )
    backup = np.array([fallback.get(i, meta.get("default_fallback", "naive")) for i in ids], dtype=object)
    return want, backup


def _choose(val: Pairs, models: list[str], n_series: int, margin: float = 0.0) -> tuple[np.ndarray, str]:
    """Per series, the index in ``models`` of the lowest mean validation MAE (-1: no validation
    window), and the model with the lowest mean validation MASE over the series where every model
    forecasts (the default for the others). A model that fails on one of a series' validation
    windows is not a candidate for it; ties go to the first in ``models``. When the ensemble is a
    candidate it is kept unless another model's error is lower by at least ``margin`` (a fraction):
    one validation window is a noisy vote, and the combination is rarely far from the best."""
    if not models:
        raise ValueError("no model to choose from: name at least one comparator")
    use = usable(val)
    sid = val.series[use]
    scores = [val.metric(val.y_hat[m]) for m in models]  # one pass per model
    err = np.stack([sc["mae"][use] for sc in scores], axis=1)  # (M', K), NaN: no forecast
    total = np.zeros((n_series, len(models)))
    np.add.at(total, sid, err)  # a NaN marks the model out for that series
    count = np.bincount(sid, minlength=n_series)  # (S,)
    mean = np.where(count[:, None] > 0, total / np.maximum(count, 1)[:, None], np.nan)  # (S, K)
    best = np.where(np.isfinite(mean).any(axis=1), np.argmin(np.where(np.isfinite(mean), mean, np.inf), axis=1), -1)
    mase = np.stack([sc["mase"][use] for sc in scores], axis=1)  # (M', K)
    whole = np.isfinite(mase).all(axis=1)
    overall = mase[whole].mean(axis=0) if whole.any() else np.full(len(models), np.nan)  # (K,)
    default = int(np.argmin(overall)) if whole.any() else len(models) - 1
    if ENSEMBLE in models:
        e = models.index(ENSEMBLE)
        picked = np.take_along_axis(mean, np.maximum(best, 0)[:, None], axis=1)[:, 0]  # (S,)
        keep = np.isfinite(mean[:, e]) & (best >= 0) & (picked > (1 - margin) * mean[:, e])
        best = np.where(keep, e, best)
        if whole.any() and overall[default] > (1 - margin) * overall[e]:
            default = e
    return best, models[default]


def _served(
    test: Pairs, models: list[str], comparators: list[str], choice: np.ndarray, fallback: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(M, H) the forecast of each pair's chosen model, its best comparator where the choice
    cannot forecast that pair (as at serving time), and (M,) the model that forecast each pair
    ("" where none could)."""
    out = np.full_like(test.y, np.nan)
    which = np.full(test.y.shape[0], "", dtype=object)
    for names, pick in ((models, choice), (comparators, fallback)):
        per_pair = pick[test.series]  # (M,)
        for k, name in enumerate(names):
            take = (per_pair == k) & ~finite(out) & finite(test.y_hat[name])
            out[take] = test.y_hat[name][take]
            which[take] = name
    return out, which


def _frame(
    test: Pairs, ids: np.ndarray, ds: np.ndarray, packed: PackedSeries, models: list[str], chosen: dict[str, str]
) -> pd.DataFrame:
    H = test.y.shape[1]
    keep = usable(test)
    series, origin = test.series[keep], test.origin[keep]
    start = packed.offsets[series] + origin  # (M,) first target of each pair
    idx = np.minimum(start[:, None] + np.arange(H), (packed.offsets + packed.lengths - 1)[series][:, None])
    return pd.DataFrame(
        {
            "unique_id": np.repeat(ids[series], H),
            "cutoff": np.repeat(ds[start - 1], H),
            "ds": ds[idx].reshape(-1),
            "y": test.y[keep].reshape(-1),
            **{m: test.y_hat[m][keep].reshape(-1) for m in models + [SELECTED]},
            "model": np.repeat([chosen[i] for i in ids[series]], H),
        }
    )


def rescore(
    bundle: ModelBundle, ev: Evaluation, packed: PackedSeries, ids: list[str], sp: Split, season: np.ndarray
) -> float:
    """The served MASE of another model (the champion) on ``ev``'s test points: its backtested
    network where it chose the LSTM (scaled, and deseasonalised with ``season`` (S,) if it was, on
    this split's training part), the same comparator forecasts as ``ev`` elsewhere, ``ev``'s own
    choice where it has neither."""
    test, meta = ev.test, bundle.meta
    want, backup = (a[test.series] for a in served_models(meta, ids))  # (M,) per pair
    y_hat = np.full_like(test.y, np.nan)
    if bundle.eval_state_dict:
        sid, pos = packed.series_of_point(), packed.position()
        fit_mask = pos < np.maximum(sp.val0, 1)[sid]
        stats = scaling.fit_stats(
            packed.values,
            sid,
            fit_mask,
            packed.n_series,
            bundle.stats.transform,
            bundle.stats.scaler,
            None if bundle.stats.season is None else season,
        )
        cov = (
            scaling.fit_covariate_stats(
                packed.covariates,
                sid,
                fit_mask,
                packed.n_series,
                *scaling.shared_columns(
                    packed.n_covariates, bundle.network.n_future, bundle.network.static_cardinalities
                ),
            )
            if bundle.covariates
            else None
        )
        ok = np.isin(want, [LSTM, ENSEMBLE]) & (test.origin >= bundle.network.input_size)
        if ok.any():
            y_hat[ok] = forecast_at(
                bundle.build("cpu", evaluated=True), packed, test.series[ok], test.origin[ok], stats, cov
            )
            if meta.get("nonnegative"):
                y_hat[ok] = backtest.floor_at_zero(
                    y_hat[ok], backtest.never_negative(packed, test.series[ok], test.origin[ok])
                )
    ens = want == ENSEMBLE
    if ens.any():
        members = {LSTM: y_hat} | {m: test.y_hat[m] for m in ENSEMBLE_MEMBERS[1:] if m in test.y_hat}
        y_hat[ens] = ensemble(members, meta.get(LSTM_SHARE))[ens]
    names = np.where(np.isin(want, [LSTM, ENSEMBLE]), backup, want)
    for name in set(names) & set(test.y_hat):
        take = (names == name) & ~finite(y_hat)
        y_hat[take] = test.y_hat[name][take]
    y_hat = np.where(finite(y_hat)[:, None], y_hat, test.y_hat[SELECTED])
    mase = test.metric(y_hat)["mase"][ev.common]
    return float(np.nanmean(mase)) if mase.size else float("nan")
