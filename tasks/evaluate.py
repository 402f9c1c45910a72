"""Backtest of a trained model against baselines, conformal intervals, and the tables that show them."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from lstm_model import backtest, baselines, scaling
from lstm_model.bundle import forecast_at
from lstm_model.windows import PackedSeries

METRICS = ("mae", "rmse", "mape", "smape", "mase")
MODELS = ("lstm", "snaive", "naive", "drift")
LEVELS = (80, 95)


@dataclass(frozen=True)
class Split:
    """Positions per series (S,): train = [0, val0), validation = [val0, test0), backtest = the
    windows starting at ``origins`` (W, S), the first at test0."""

    val0: np.ndarray
    test0: np.ndarray
    origins: np.ndarray


def split(packed: PackedSeries, horizon: int, val_size: int, n_windows: int = 1, step: int | None = None) -> Split:
    origins = backtest.cutoffs(packed.lengths, horizon, n_windows, step or horizon)
    test0 = origins[0]
    return Split(np.maximum(test0 - val_size, 0), test0, origins)


@dataclass
class Evaluation:
    metrics: dict[str, float]  # {model}_{metric} over every series and cutoff, coverage_{level}, coverage_points
    table: pd.DataFrame  # per series and model, averaged over cutoffs
    frame: pd.DataFrame  # unique_id, cutoff, ds, y, one column per model, interval columns
    conformal: dict[str, list[float]] = field(default_factory=dict)  # level -> (H,) scaled half-widths


def evaluate(model: torch.nn.Module, packed: PackedSeries, ids: list[str], ds: np.ndarray,
             stats: scaling.ScalerStats, sp: Split, season: int,
             covariate_stats: scaling.ScalerStats | None = None) -> Evaluation:
    """Backtest ``model`` and the baselines on the same cutoffs; calibrate intervals on the
    validation part (out-of-sample for the model) and measure their coverage on the test part."""
    H = model.cfg.horizon
    lstm = lambda series, origin: forecast_at(model, packed, series, origin, stats, covariate_stats)  # noqa: E731
    ev = backtest.evaluate({"lstm": lstm, **backtest.baseline_predictors(packed, H, season)},
                           packed, sp.origins, H, season)
    info = ev.pop("_")
    agg = {f"{m}_{k}": float(np.nanmean(ev[m][k])) for m in MODELS for k in METRICS}
    ids_arr = np.asarray(ids, dtype=object)
    table = pd.concat([
        pd.DataFrame({"unique_id": ids_arr[info["series"]], "model": m, **{k: ev[m][k] for k in METRICS}})
        .groupby(["unique_id", "model"], as_index=False, sort=False).mean()
        for m in MODELS
    ], ignore_index=True)

    # calibration: every validation point forecast at every horizon step, from origins before it
    L = model.cfg.input_size
    cal_r, cal_ok = _scaled_residuals(lstm, packed, sp.val0, sp.test0, H, L, season)
    q_val = backtest.conformal_quantiles(cal_r, cal_ok, LEVELS)
    y_hat, y, scale = ev["lstm"]["y_hat"], info["y"], info["scale"][:, None]
    frame = pd.DataFrame({
        "unique_id": np.repeat(ids_arr[info["series"]], H),
        "cutoff": np.repeat(ds[packed.offsets[info["series"]] + info["origin"] - 1], H),
        "ds": ds[(packed.offsets[info["series"]] + info["origin"])[:, None] + np.arange(H)].reshape(-1),
        "y": y.reshape(-1),
        **{m: ev[m]["y_hat"].reshape(-1) for m in MODELS},
    })
    for level, q in q_val.items():
        frame[f"lstm_lo_{level}"] = (y_hat - q * scale).reshape(-1)
        frame[f"lstm_hi_{level}"] = (y_hat + q * scale).reshape(-1)
    # coverage: the same design on the test part, every test point at every horizon step
    sample = _sample_series(packed.n_series, int((packed.lengths - sp.test0).max()) + H - 1)
    test_r, test_ok = _scaled_residuals(lstm, packed, sp.test0, packed.lengths, H, L, season, sample)
    agg["coverage_points"] = float(test_ok.sum())
    for level, q in q_val.items():  # in residual units the interval is [-q, q]
        half = np.broadcast_to(q[None, :], test_r.shape)  # (M, H)
        agg[f"coverage_{level}"] = backtest.coverage(np.where(test_ok, test_r, np.nan), -half, half)
    # intervals served with the model: calibrated on the validation and test residuals
    q_all = backtest.conformal_quantiles(np.concatenate([cal_r, test_r]), np.concatenate([cal_ok, test_ok]),
                                         LEVELS)
    conformal = {str(k): [float(x) for x in v] for k, v in q_all.items()}
    return Evaluation(agg, table, frame, conformal)


MAX_COVERAGE_PAIRS = 1 << 18  # the coverage of very many series is measured on a sample of them


def _sample_series(n_series: int, per_series: int) -> np.ndarray:
    """All series, or a fixed random sample of them when all would exceed MAX_COVERAGE_PAIRS pairs."""
    keep = max(1, MAX_COVERAGE_PAIRS // max(per_series, 1))
    if n_series <= keep:
        return np.arange(n_series)
    return np.sort(np.random.default_rng(0).choice(n_series, keep, replace=False))


def _target_pairs(start: np.ndarray, stop: np.ndarray, H: int, L: int,
                  series_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(series (M,), origin (M,), ok (M, H)) with origin in [start - H + 1, stop - 1] (and >= L):
    for each horizon step, every point of [start, stop) of each series is a target once; ok masks
    targets outside that part. start, stop: (S,) positions."""
    start, stop = start[series_ids], stop[series_ids]
    span = np.arange(-H + 1, max(int((stop - start).max(initial=0)), 0))  # (J,)
    origin = start[None, :] + span[:, None]  # (J, S')
    series = np.broadcast_to(series_ids, origin.shape)
    keep = (origin >= L) & (origin <= stop[None, :] - 1)
    series, origin = series[keep], origin[keep]
    j = np.broadcast_to(np.arange(len(series_ids)), keep.shape)[keep]  # index into start/stop
    pos = origin[:, None] + np.arange(H)[None, :]  # (M, H) target positions
    ok = (pos >= start[j, None]) & (pos < stop[j, None])
    return series.astype(np.int64), origin.astype(np.int64), ok


def _scaled_residuals(lstm: backtest.Predict, packed: PackedSeries, start: np.ndarray, stop: np.ndarray,
                      H: int, L: int, season: int,
                      series_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MASE-scaled residuals (M, H) of the forecasts of every point of [start, stop) at every
    horizon step (see ``_target_pairs``), and the mask (M, H) of those whose actual and inputs
    are all observed."""
    ids = np.arange(packed.n_series) if series_ids is None else series_ids
    series, origin, ok = _target_pairs(start, stop, H, L, ids)
    if not series.size:
        return np.zeros((0, H)), np.zeros((0, H), bool)
    pos = np.minimum(origin[:, None] + np.arange(H)[None, :], packed.lengths[series, None] - 1)  # (M, H)
    y = np.where(ok, packed.values[packed.offsets[series, None] + pos], np.nan)  # (M, H)
    scale = baselines.seasonal_scale_at(packed, series, origin, season)[:, None]  # (M, 1)
    r = (y - lstm(series, origin)) / scale  # NaN where the actual or an input point is missing
    return r, ok & np.isfinite(r)
