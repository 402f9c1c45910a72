"""Forecasts from a model bundle and a long history frame: every series by the model chosen for it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lstm_model import outliers
from lstm_model.backtest import (
    LEVELS,
    bands_of,
    floor_at_zero,
    forecast_columns,
    median_of,
    never_negative,
    quantile_band,
    quantile_name,
    shift_bands,
)
from lstm_model.baselines import seasonal_scale
from lstm_model.bundle import ModelBundle, forecast_packed
from lstm_model.windows import PackedSeries, complete
from tasks.series.features import FeatureSpec
from tasks.series.frequency import future_dates, seasons
from tasks.series.prepare import prepare, to_frame
from tasks.train import comparators
from tasks.train.evaluate import ENSEMBLE, ENSEMBLE_MEMBERS, LSTM, served_models
from tasks.train.pairs import LSTM_SHARE, ensemble, pooled_bands


def forecast_frame(
    bundle: ModelBundle,
    history: pd.DataFrame,
    serve_model: str = "selected",
    future: pd.DataFrame | None = None,
    static: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """History (unique_id, ds, y) -> forecasts of the ``horizon`` steps after each series' last
    point (:func:`lstm_model.backtest.forecast_columns`), and the series skipped, each with its reason (fewer than two observed
    points, no finite forecast from any model, no frequency to date the forecasts by).

    Each series gets the model chosen for it on validation (``serve_model="lstm"``: the LSTM
    wherever it can forecast); where the LSTM cannot (too short, a missing point among its last
    input_size, a series it has no weights for) the series' best comparator forecasts it, fitted
    on the series' whole history; the ensemble is the weighted mean of its members that forecast (the
    bundle's ``ensemble_lstm_share``). LSTM intervals are conformal, the comparators' their own, the
    ensemble's the quantiles of its members' pooled distributions (``pooled_bands``);
    a model that served enough validation points has its bands shifted as they measured there
    (the bundle's ``band_shift``).

    A model that reads future-known covariates takes their values for the horizon from ``future``
    (unique_id, ds, the declared columns; the calendar and holidays are generated): a series whose
    values are missing or not finite there is skipped with that reason. Static covariates come from
    ``static`` (unique_id, <columns>); a series missing there reads a category as unseen."""
    meta = bundle.meta
    levels = tuple(meta.get("levels", LEVELS))  # a bundle written before quantiles: the default levels
    band_keys, columns = bands_of(levels), forecast_columns(meta)
    spec = FeatureSpec.from_dict(meta["features"]) if "features" in meta else FeatureSpec(tuple(bundle.covariates))
    raw = prepare(history, spec.data_columns, meta.get("freq"))  # each series' own frequency, or the one given
    prep = spec.add_to(raw, static)
    p, ids, H = prep.packed, np.asarray(prep.ids, dtype=object), bundle.network.horizon
    dated = np.array([f is not None for f in prep.freqs.tolist()], dtype=bool)
    dates = np.full((p.n_series, H), np.datetime64("NaT"), dtype="datetime64[ns]")
    if dated.any():
        dates[dated] = future_dates(prep.last_ds[dated], prep.freqs[dated], H)
    late = dated & np.isnat(dates).any(axis=1)  # its forecasts would lie past the last nanosecond timestamp
    dated &= ~late
    block, no_future = spec.horizon(list(ids), dates, future) if bundle.network.n_future else (None, {})
    season = seasons(prep.freqs, meta.get("season_length"))  # (S,)
    want, backup = served_models(meta, ids, serve_model)  # (S,), (S,)
    names = list(meta.get("comparators", comparators.COMPARATORS))
    can = _lstm_can_forecast(bundle, p) if bundle.has_lstm else np.zeros(p.n_series, bool)
    scale = seasonal_scale(p, p.lengths, season)  # (S,) the MASE scale of each forecast
    in_ensemble = want == ENSEMBLE
    fc = {LSTM: _lstm(bundle, p, ids, np.isin(want, [LSTM, ENSEMBLE]) & can, scale, band_keys, block, season)}
    for name in names:  # the chosen comparators, and the ensemble's members
        fc[name] = _comparator(p, (want == name) | (in_ensemble & (name in ENSEMBLE_MEMBERS)), H, season, name, levels)
    # a series never below zero: every model's forecast floored before the ensemble combines them, as in the backtest
    floor = never_negative(p, np.arange(p.n_series), p.lengths) & bool(meta.get("nonnegative"))  # (S,)
    fc = {name: {key: floor_at_zero(v, floor) for key, v in out.items()} for name, out in fc.items()}
    share = meta.get(LSTM_SHARE)  # a bundle written before the LSTM's share: the members' plain mean
    members = [m for m in ENSEMBLE_MEMBERS if m in fc]
    points = {m: fc[m]["y_hat"] for m in members}
    fc[ENSEMBLE] = {"y_hat": ensemble(points, share)}
    fc[ENSEMBLE] |= pooled_bands(points, {m: {k: fc[m][k] for k in band_keys} for m in members}, share)
    point = np.full((p.n_series, H), np.nan)
    bands = {key: np.full((p.n_series, H), np.nan) for key in band_keys}
    used = np.full(p.n_series, "", dtype=object)

    def assign(source: np.ndarray, whole: bool = True) -> None:
        """Each series still unserved takes ``source``'s model where it gives a finite forecast
        (``whole``: with finite bands too: a model whose intervals could not be calibrated, such as
        an LSTM without a single finite calibration residual, leaves the series to its fallback)."""
        for name in dict.fromkeys(source):
            if name not in fc:
                continue
            keys = ("y_hat", *band_keys) if whole else ("y_hat",)
            finite = np.all([np.isfinite(fc[name][k]).all(axis=1) for k in keys], axis=0)  # (S,)
            take = (source == name) & (used == "") & finite
            point[take] = fc[name]["y_hat"][take]
            for key in band_keys:
                bands[key][take] = fc[name][key][take]
            used[take] = name

    assign(want)
    for name in names:  # where the choice could not forecast: the series' best comparator, fitted now
        rest = (used == "") & (backup == name)
        if rest.any():
            fc[name] = _comparator(p, rest, H, season, name, levels)
    # an LSTM with no calibrated intervals (no residual to calibrate them on: a history too short
    # to hold a part out) keeps its forecast, with the widths of its fallback's intervals about it
    lstm, uncalibrated = fc[LSTM]["y_hat"], (used == "") & (want == LSTM)  # (S, H), (S,)
    for name in names:
        take = uncalibrated & (backup == name) & np.isfinite(lstm).all(axis=1)
        take &= np.all([np.isfinite(fc[name][k]).all(axis=1) for k in ("y_hat", *band_keys)], axis=0)
        point[take] = lstm[take]
        for key in band_keys:
            bands[key][take] = lstm[take] + fc[name][key][take] - fc[name]["y_hat"][take]
        used[take] = LSTM
    assign(backup)
    assign(want, whole=False)  # no model with finite bands: the choice's point forecast, bands as they are
    assign(backup, whole=False)
    if meta.get("band_shift"):  # each model's bands moved as its validation actuals asked
        bands = shift_bands(point, bands, used, meta["band_shift"], scale)
    point = floor_at_zero(point, floor)  # the fallbacks fitted just now (a bundle without the floor: none)
    bands = {key: floor_at_zero(band, floor) for key, band in bands.items()}
    observed = np.bincount(p.series_of_point(), weights=np.isfinite(p.values), minlength=p.n_series)  # (S,)
    undated = ~dated
    ok = (used != "") & dated & ~np.isin(ids, list(no_future))
    skipped = {
        str(i): no_future.get(
            i,
            "fewer than two observed points"
            if n < comparators.MIN_HISTORY
            else "its forecast dates lie past 2262-04-11, the last date a timestamp holds"
            if t
            else "no frequency to date its forecasts (irregular timestamps; set --freq)"
            if u
            else "no model gave a finite forecast",
        )
        for i, n, u, t in zip(ids[~ok], observed[~ok], undated[~ok], late[~ok])
    }
    if not ok.any():
        return pd.DataFrame(columns=columns), skipped
    last = prep.last_ds[ok]  # (S,)
    out = to_frame(list(ids[ok]), dates[ok], point[ok])
    for key, band in bands.items():
        out[f"y_hat_{key}"] = band[ok].reshape(-1)
    median = median_of(point, bands, used, meta.get("band_shift", {}), scale)  # (S, H) the point, or shifted
    for q in meta.get("quantiles", []):  # the bounds of the central interval that each quantile is
        band = quantile_band(q)
        out[f"y_hat_{quantile_name(q)}"] = out[f"y_hat_{band}"] if band else median[ok].reshape(-1)
    out["mase_scale"] = np.repeat(scale[ok], H)  # scores this forecast when actuals arrive
    out["cutoff"] = last.repeat(H)
    out["model"] = np.repeat(used[ok], H).astype(str)
    return out[columns], skipped


def _lstm(
    bundle: ModelBundle,
    p: PackedSeries,
    ids: np.ndarray,
    use: np.ndarray,
    scale: np.ndarray,
    band_keys: tuple[str, ...],
    future: np.ndarray | None = None,
    season: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The served network's forecasts (S, H) for the series in ``use``, with conformal bands;
    ``future`` (S, H, C): the covariates of the horizon, for a network that reads future-known ones;
    ``season`` (S,): each series' season (a deseasonalising network's, for series it has not seen)."""
    H = bundle.network.horizon
    out = {key: np.full((p.n_series, H), np.nan) for key in ("y_hat", *band_keys)}
    if future is not None:  # a series without its future values is skipped: never a silent zero
        use = use & np.isfinite(future[:, :, -bundle.network.n_future :]).all(axis=(1, 2))
    if not use.any():
        return out
    sub, _ = p.select(use)
    if season is not None:  # the history cleaned as the served weights' was (up to so many series)
        sub = outliers.without(sub, sub.lengths, season[use], bundle.meta.get("clean_outliers_up_to"))
    ids_use = list(ids[use])
    stats, _ = bundle.stats_for(ids_use, sub, None if season is None else season[use])
    cov = bundle.covariate_stats_for(ids_use, sub)
    y_hat = forecast_packed(bundle.build("cpu"), sub, sub.lengths, stats, cov, None if future is None else future[use])
    out["y_hat"][use] = y_hat  # (S', H)
    for lv, q in bundle.meta.get("conformal", {}).items():  # conformal half-widths per step, MASE-scaled
        half = np.asarray(q, dtype=np.float64)[None, :] * scale[use, None]  # (S', H)
        out[f"lo_{lv}"][use], out[f"hi_{lv}"][use] = y_hat - half, y_hat + half
    return out


def _comparator(
    p: PackedSeries, use: np.ndarray, H: int, season: np.ndarray, name: str, levels: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """A comparator fitted on the whole history of each series in ``use``: forecasts and bands (S, H)."""
    out = {key: np.full((p.n_series, H), np.nan) for key in ("y_hat", *bands_of(levels))}
    idx = np.flatnonzero(use)
    if idx.size:
        got = comparators.forecast_pairs(p, idx, p.lengths[idx], H, season[idx], [name], levels)[name]
        for key in out:
            out[key][idx] = got[key]
    return out


def _lstm_can_forecast(bundle: ModelBundle, p: PackedSeries) -> np.ndarray:
    """(S,) series with ``input_size`` points whose last ``input_size`` are observed."""
    L = bundle.network.input_size
    ok = p.lengths >= L
    if not ok.any():
        return ok
    ends = p.offsets[ok] + p.lengths[ok] - L
    ok[ok] = np.isin(ends, complete(p.observed(), ends, L))
    return ok
