"""Train stage: split by time, scale on the training part, fit the LSTM, backtest it against baselines."""
from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from lstm_model import scaling
from lstm_model.bundle import ModelBundle, features
from lstm_model.network import Ensemble, NetworkConfig
from lstm_model.training import TrainConfig, TrainResult, fit
from lstm_model.windows import PackedSeries, complete, window_starts
from tasks.evaluate import Split, evaluate, split
from tasks.prepare import Prepared, covariate_columns, fingerprint, prepare, season_length
from tasks.plots import forecast_plot
from tasks.progress import epoch_progress
from tasks.settings import Settings
from tasks.curated import read_curated
from tasks.storage import Storage
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
    covariates = covariate_columns(df, s.data.covariates)
    prep = prepare(df, covariates)
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
    fit_mask = pos < np.maximum(sp.val0, 1)[sid]  # the training part only
    stats = scaling.fit_stats(packed.values, sid, fit_mask, packed.n_series, s.data.transform, s.data.scaler)
    cov_stats = scaling.fit_covariate_stats(packed.covariates, sid, fit_mask, packed.n_series) if covariates \
        else None
    data = features(packed, stats, cov_stats)  # (N, F)
    zeros = np.zeros(packed.n_series, dtype=np.int64)
    observed = packed.observed()  # a window is used only when every point of it is observed
    tr = complete(observed, window_starts(packed.offsets, zeros, sp.val0, L + H), L + H)
    va = complete(observed, window_starts(packed.offsets, sp.val0, sp.test0, L + H), L + H)
    net = NetworkConfig(input_size=L, horizon=H, n_features=data.shape[1], hidden_size=s.model.hidden_size,
                        num_layers=s.model.num_layers, dropout=s.model.dropout, level_norm=s.model.level_norm)
    tc = TrainConfig(epochs=s.training.epochs, batch_size=s.training.batch_size, lr=s.training.lr,
                     weight_decay=s.training.weight_decay, patience=s.training.patience, loss=s.training.loss,
                     seed=s.training.seed, device=s.training.device,
                     max_windows_per_epoch=s.training.max_windows_per_epoch, resume=s.training.resume)
    data_fp = fingerprint(df[df["unique_id"].isin(set(ids))])
    key = checkpoint_key(s, data_fp)
    members = [fit(net, data, tr, va, replace(tc, seed=tc.seed + 1000 * k,
                                              checkpoint=checkpoint_path(s, key, k)), on_epoch=on_epoch)
               for k in range(s.model.ensemble)]  # a few full trainings, not a loop over data
    result = members[0]
    result.seconds = sum(m.seconds for m in members)
    result.windows_per_s = sum(m.windows_per_s * m.seconds for m in members) / max(result.seconds, 1e-9)
    result.model = Ensemble.of(net, [m.model for m in members])
    net = result.model.cfg

    season = season_length(prep.freq, s.data.season_length)
    ev = evaluate(result.model, packed, ids, prep.ds[rows], stats, sp, season, cov_stats)
    bundle = ModelBundle(
        network=net,
        state_dict={k: v.detach().cpu() for k, v in result.model.state_dict().items()},
        stats=stats,
        series_ids=ids,
        covariate_stats=cov_stats,
        covariates=covariates,
        meta={
            "freq": prep.freq,
            "season_length": season,
            "data_fingerprint": data_fp,
            "train_end": str(pd.Timestamp(prep.ds[rows][packed.offsets + sp.val0 - 1].max())),
            "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "device": result.device,
            "conformal": ev.conformal,
        },
    )
    return TrainOutcome(bundle, result, ev.metrics, ev.table, ev.frame, prep, packed, ids, prep.ds[rows], sp)


def checkpoint_key(s: Settings, data_fingerprint: str) -> str:
    """Names a training by everything that shapes it: the data and the data/model/training settings
    (not ``resume``, ``device``, ``checkpoint_dir`` nor ``progress``), so that ``--resume`` finds
    the checkpoint of the same training only."""
    shaping = {k: v for k, v in s.flat().items() if k.split(".")[0] in ("data", "model", "training")
               and k not in ("training.resume", "training.device", "training.checkpoint_dir", "training.progress")}
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{digest}-{data_fingerprint}"


def checkpoint_path(s: Settings, key: str, member: int) -> str:
    """A local file per ensemble member: ``<checkpoint_dir or local storage>/checkpoints/<key>/``."""
    if s.training.checkpoint_dir:
        base = Path(s.training.checkpoint_dir)
    else:
        storage = Storage(s.storage.root)
        base = storage.local_root() / "checkpoints" if storage.is_local else \
            Path(tempfile.gettempdir()) / "lstm-forecast-checkpoints"
    return str(base / key / f"member-{member}.pt")


@task(name="train-model", cache_policy=NO_CACHE)
def train_task(df: pd.DataFrame, s: Settings) -> TrainOutcome:
    with epoch_progress(s.training.epochs, s.training.progress, get_run_logger()) as on_epoch:
        return train_stage(df, s, on_epoch)


def load_curated(s: Settings) -> pd.DataFrame:
    df = read_curated(s.storage.root)
    if df.empty:
        raise FileNotFoundError(f"no curated data under {s.storage.root!r}: run ingest first")
    return df


@task(name="load-curated", cache_policy=NO_CACHE)
def load_curated_task(s: Settings) -> pd.DataFrame:
    return load_curated(s)


@task(name="log-and-register", cache_policy=NO_CACHE)
def register_task(s: Settings, outcome: TrainOutcome, history: pd.DataFrame, run_id: str | None) -> Registration:
    return log_and_register(s, outcome, forecast_plot(history, outcome.test_frame, outcome.table), run_id)
