"""Train stage: split by time, scale on the training part, fit the LSTM, backtest it against baselines."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Callable

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from lstm_model import scaling
from lstm_model.bundle import ModelBundle
from lstm_model.network import Ensemble, NetworkConfig
from lstm_model.training import TrainConfig, TrainResult, fit
from lstm_model.windows import PackedSeries, complete, window_starts
from tasks.evaluate import Split, evaluate, split
from tasks.prepare import Prepared, fingerprint, prepare, season_length
from tasks.plots import forecast_plot
from tasks.settings import Settings
from tasks.curated import read_curated
from tasks.tracking import Registration, log_and_register

@dataclass
class TrainOutcome:
    bundle: ModelBundle
    result: TrainResult
    metrics: dict[str, float]  # aggregated test metrics: lstm_mase, snaive_mase, ...
    table: pd.DataFrame  # per series and model: unique_id, model, mae, rmse, mape, smape, mase
    test_frame: pd.DataFrame  # the backtest: unique_id, cutoff, ds, y, lstm, snaive, naive, drift, intervals
    prepared: Prepared
    packed: PackedSeries  # the series trained and evaluated on (long enough), in ``ids`` order
    ids: list[str]
    ds: np.ndarray  # (N,) timestamps of ``packed``
    split: Split


def train_stage(df: pd.DataFrame, s: Settings, on_epoch: Callable[[dict], None] | None = None) -> TrainOutcome:
    prep = prepare(df)
    full = prep.packed
    H, L = s.data.horizon, s.data.input_size
    V = s.data.val_size or H
    W, step = s.data.n_windows, s.data.step or H
    need = L + H + (W - 1) * step  # one input window before the first backtest cutoff
    keep = full.lengths >= need
    if not keep.any():
        raise ValueError(f"no series has the {need} points needed (input_size {L}, horizon {H}, "
                         f"{W} backtest windows {step} apart)")
    ids = [i for i, k in zip(prep.ids, keep) if k]
    packed, rows = full.select(keep)
    sp = split(packed, H, V, W, step)
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
    members = [fit(net, data, tr, va, replace(tc, seed=tc.seed + 1000 * k), on_epoch=on_epoch)
               for k in range(s.model.ensemble)]  # a few full trainings, not a loop over data
    result = members[0]
    result.seconds = sum(m.seconds for m in members)
    result.windows_per_s = sum(m.windows_per_s * m.seconds for m in members) / max(result.seconds, 1e-9)
    result.model = Ensemble.of(net, [m.model for m in members])
    net = result.model.cfg

    season = season_length(prep.freq, s.data.season_length)
    ev = evaluate(result.model, packed, ids, prep.ds[rows], stats, sp, season)
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
            "conformal": ev.conformal,
        },
    )
    return TrainOutcome(bundle, result, ev.metrics, ev.table, ev.frame, prep, packed, ids, prep.ds[rows], sp)


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
