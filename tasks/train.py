"""Train stage: split by time, scale on the training part, fit the LSTM, evaluate on the test part."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from lstm_model import baselines, metrics, scaling
from lstm_model.bundle import ModelBundle, forecast_packed
from lstm_model.network import NetworkConfig
from lstm_model.training import TrainConfig, TrainResult, fit
from lstm_model.windows import PackedSeries, complete, window_starts
from tasks.prepare import Prepared, fingerprint, prepare, season_length, to_frame
from tasks.plots import forecast_plot
from tasks.settings import Settings
from tasks.curated import read_curated
from tasks.tracking import Registration, log_and_register

METRICS = ("mae", "rmse", "mape", "smape", "mase")


@dataclass
class TrainOutcome:
    bundle: ModelBundle
    result: TrainResult
    metrics: dict[str, float]  # aggregated test metrics: lstm_mase, snaive_mase, ...
    table: pd.DataFrame  # per series and model: unique_id, model, mae, rmse, mape, smape, mase
    test_frame: pd.DataFrame  # unique_id, ds, y, lstm, snaive on the test part
    prepared: Prepared
    packed: PackedSeries  # the series trained and evaluated on (long enough), in ``ids`` order
    ids: list[str]
    split: "Split"


@dataclass(frozen=True)
class Split:
    """Positions per series (S,): train = [0, val0), validation = [val0, test0), test = [test0, n)."""

    val0: np.ndarray
    test0: np.ndarray


def split(packed: PackedSeries, horizon: int, val_size: int) -> Split:
    test0 = packed.lengths - horizon
    return Split(np.maximum(test0 - val_size, 0), np.maximum(test0, 0))


def evaluate(
    predict: Callable[[PackedSeries, np.ndarray], np.ndarray],
    packed: PackedSeries,
    origin: np.ndarray,
    horizon: int,
    season: int,
) -> dict[str, np.ndarray]:
    """Per-series metrics (S,) of ``predict`` and of seasonal naive on the ``horizon`` after ``origin``."""
    idx = packed.offsets[:, None] + origin[:, None] + np.arange(horizon)[None, :]  # (S, H)
    y = packed.values[idx]  # (S, H)
    scale = baselines.seasonal_scale(packed, origin, season)
    out = {}
    for name, y_hat in (("lstm", predict(packed, origin)),
                        ("snaive", baselines.seasonal_naive(packed, origin, horizon, season))):
        out[name] = y_hat
        for m, v in metrics.all_metrics(y, y_hat, scale).items():
            out[f"{name}_{m}"] = v
    out["y"] = y
    return out


def train_stage(df: pd.DataFrame, s: Settings, on_epoch: Callable[[dict], None] | None = None) -> TrainOutcome:
    prep = prepare(df)
    full = prep.packed
    H, L = s.data.horizon, s.data.input_size
    V = s.data.val_size or H
    keep = full.lengths >= L + H  # a series needs one input window before its test part
    if not keep.any():
        raise ValueError(f"no series has the {L + H} points needed (input_size {L} + horizon {H})")
    ids = [i for i, k in zip(prep.ids, keep) if k]
    packed, rows = full.select(keep)
    sp = split(packed, H, V)
    sid, pos = packed.series_of_point(), packed.position()
    stats = scaling.fit_stats(packed.values, sid, pos < np.maximum(sp.val0, 1)[sid], packed.n_series,
                              s.data.transform, s.data.scaler)
    data = scaling.scale(packed.values, sid, stats)[:, None]  # (N, 1)
    zeros = np.zeros(packed.n_series, dtype=np.int64)
    tr = complete(packed.values, window_starts(packed.offsets, zeros, sp.val0, L + H), L + H)
    va = complete(packed.values, window_starts(packed.offsets, sp.val0, sp.test0, L + H), L + H)
    net = NetworkConfig(input_size=L, horizon=H, n_features=1, hidden_size=s.model.hidden_size,
                        num_layers=s.model.num_layers, dropout=s.model.dropout, level_norm=s.model.level_norm)
    tc = TrainConfig(epochs=s.training.epochs, batch_size=s.training.batch_size, lr=s.training.lr,
                     weight_decay=s.training.weight_decay, patience=s.training.patience, loss=s.training.loss,
                     seed=s.training.seed, device=s.training.device)
    result = fit(net, data, tr, va, tc, on_epoch=on_epoch)

    season = season_length(prep.freq, s.data.season_length)
    ev = evaluate(lambda p, o: forecast_packed(result.model, p, o, stats), packed, sp.test0, H, season)
    agg = {k: float(np.nanmean(v)) for k, v in ev.items() if k.split("_", 1)[-1] in METRICS}
    table = pd.concat([
        pd.DataFrame({"unique_id": ids, "model": m, **{k: ev[f"{m}_{k}"] for k in METRICS}})
        for m in ("lstm", "snaive")
    ], ignore_index=True)
    test_idx = (packed.offsets[:, None] + sp.test0[:, None] + np.arange(H)[None, :])  # (S, H)
    test_frame = to_frame(ids, prep.ds[rows][test_idx], ev["y"], "y")
    test_frame["lstm"] = ev["lstm"].reshape(-1)
    test_frame["snaive"] = ev["snaive"].reshape(-1)
    kept = df[df["unique_id"].isin(set(ids))]
    bundle = ModelBundle(
        network=net,
        state_dict={k: v.detach().cpu() for k, v in result.model.state_dict().items()},
        stats=stats,
        series_ids=ids,
        meta={
            "freq": prep.freq,
            "season_length": season,
            "data_fingerprint": fingerprint(kept),
            "train_end": str(pd.Timestamp(prep.ds[rows][packed.offsets + sp.val0 - 1].max())),
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "device": result.device,
        },
    )
    return TrainOutcome(bundle, result, agg, table, test_frame, prep, packed, ids, sp)


@task(name="train-model", cache_policy=NO_CACHE)
def train_task(df: pd.DataFrame, s: Settings) -> TrainOutcome:
    return train_stage(df, s)


@task(name="load-curated", cache_policy=NO_CACHE)
def load_curated_task(s: Settings) -> pd.DataFrame:
    df = read_curated(s.storage.root)
    if df.empty:
        raise FileNotFoundError(f"no curated data under {s.storage.root!r}: run ingest first")
    return df


@task(name="log-and-register", cache_policy=NO_CACHE)
def register_task(s: Settings, outcome: TrainOutcome, history: pd.DataFrame, run_id: str | None) -> Registration:
    return log_and_register(s, outcome, forecast_plot(history, outcome.test_frame, outcome.table), run_id)
