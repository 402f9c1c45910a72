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
    validation part (out-of-sample for the model) and measure their coverage on the backtest."""
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

    # calibration: origins whose targets fall in the validation part, inputs complete
    cal_s, cal_o, cal_ok = _calibration_pairs(packed, sp, H, model.cfg.input_size)
    cal = lstm(cal_s, cal_o) if cal_s.size else np.zeros((0, H))
    cal_y = backtest.actuals(packed, cal_s, cal_o, H) if cal_s.size else np.zeros((0, H))
    cal_scale = baselines.seasonal_scale_at(packed, cal_s, cal_o, season)[:, None]
    q_val = backtest.conformal_quantiles((cal_y - cal) / cal_scale, cal_ok & np.isfinite(cal_y), LEVELS)
    y_hat, y, scale = ev["lstm"]["y_hat"], info["y"], info["scale"][:, None]
    frame = pd.DataFrame({
        "unique_id": np.repeat(ids_arr[info["series"]], H),
        "cutoff": np.repeat(ds[packed.offsets[info["series"]] + info["origin"] - 1], H),
        "ds": ds[(packed.offsets[info["series"]] + info["origin"])[:, None] + np.arange(H)].reshape(-1),
        "y": y.reshape(-1),
        **{m: ev[m]["y_hat"].reshape(-1) for m in MODELS},
    })
    agg["coverage_points"] = float(np.isfinite(y).sum())  # backtest actuals the coverage is measured on
    for level, q in q_val.items():
        lo, hi = y_hat - q * scale, y_hat + q * scale
        agg[f"coverage_{level}"] = backtest.coverage(y, lo, hi)
        frame[f"lstm_lo_{level}"], frame[f"lstm_hi_{level}"] = lo.reshape(-1), hi.reshape(-1)
    # intervals served with the model: calibrated on validation + backtest residuals
    res = np.concatenate([(cal_y - cal) / cal_scale, (y - y_hat) / scale])
    ok = np.concatenate([cal_ok & np.isfinite(cal_y), np.isfinite(y)])
    q_all = backtest.conformal_quantiles(res, ok, LEVELS)
    conformal = {str(k): [float(x) for x in v] for k, v in q_all.items()}
    return Evaluation(agg, table, frame, conformal)


def _calibration_pairs(packed: PackedSeries, sp: Split, H: int, L: int):
    """(series, origin) pairs with origin in [val0 - H + 1, test0 - 1]: for each horizon step,
    every validation point is a target once; targets outside the validation part are masked."""
    span = np.arange(-H + 1, int((sp.test0 - sp.val0).max()))  # (J,)
    origin = sp.val0[None, :] + span[:, None]  # (J, S)
    series = np.broadcast_to(np.arange(packed.n_series), origin.shape)
    keep = (origin >= L) & (origin <= sp.test0[None, :] - 1)
    series, origin = series[keep], origin[keep]
    pos = origin[:, None] + np.arange(H)[None, :]  # (M, H) target positions
    ok = (pos >= sp.val0[series, None]) & (pos < sp.test0[series, None])
    return series.astype(np.int64), origin.astype(np.int64), ok
