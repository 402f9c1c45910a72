"""Train stage: split by time, fit the LSTM on the training part, backtest it against the statistical
comparators, choose a model per series, refit the LSTM on every point for serving."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import torch
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from lstm_model import scaling
from lstm_model.backtest import levels_for
from lstm_model.bundle import ModelBundle, features
from lstm_model.network import Ensemble, NetworkConfig
from lstm_model.training import TrainConfig, TrainResult, fit, warmup_epochs
from lstm_model.windows import PackedSeries, complete, window_starts
from tasks.adapters.curated import Curated
from tasks.adapters.plots import forecast_plot
from tasks.adapters.progress import epoch_progress
from tasks.adapters.settings import Settings
from tasks.adapters.storage import Storage
from tasks.series.prepare import Prepared
from tasks.train import comparators
from tasks.train.checkpoints import checkpoint_path
from tasks.train.evaluate import Evaluation, Split, evaluate
from tasks.train.pairs import LSTM_SHARE
from tasks.train.plan import Plan, backtest_lstm, for_training, plan_for, removed_season
from tasks.train.register import Registration, log_and_register


@dataclass
class TrainOutcome:
    bundle: ModelBundle
    result: TrainResult | None  # the evaluated LSTM's training (None: no series could train it)
    served: TrainResult | None  # the refit on every point, registered and served (None: no LSTM)
    metrics: dict[str, float]  # test metrics over the same points: lstm_mase, auto_ets_mase, selected_mase, ...
    table: pd.DataFrame  # per series and model: unique_id, model, mae, rmse, mape, smape, mase
    test_frame: pd.DataFrame  # the backtest: unique_id, cutoff, ds, y, one column per model, selected, intervals
    prepared: Prepared
    packed: PackedSeries  # every series, in ``ids`` order
    ids: list[str]
    ds: np.ndarray  # (N,) timestamps of ``packed``
    split: Split
    evaluation: Evaluation
    stats: scaling.ScalerStats | None  # the evaluated LSTM's statistics (training part only)


def train_stage(df: pd.DataFrame, s: Settings, on_epoch: Callable[[dict], None] | None = None) -> TrainOutcome:
    """1. split by time  2. train the evaluated LSTM on the training part (early stopping on the
    validation part)  3. backtest it and the comparators, choose a model per series on validation
    4. refit the LSTM on every point for serving, for the number of optimizer steps validation chose."""
    plan = plan_for(df, s)
    prep, covariates, sp, net, tc, key = plan.prep, plan.covariates, plan.split, plan.net, plan.tc, plan.key
    packed = prep.packed
    ids, ds, L, season = prep.ids, prep.ds, net.input_size, plan.season
    W = sp.origins.shape[0]
    names = comparators.parse(s.data.comparators, packed.n_series, s.data.max_auto_series, int(season.max()))
    data_fp = plan.fingerprint
    evaluated = _fit_evaluated(plan, s, on_epoch)
    lstm = None
    if evaluated is not None:
        model, stats, cov_stats, _ = evaluated
        lstm = backtest_lstm(model.model, plan, s, stats, cov_stats)
    d = s.data
    share = lstm_share(d.ensemble_lstm_share, evaluated[0] if evaluated else None, tc)
    ev = evaluate(
        lstm,
        L,
        packed,
        ids,
        ds,
        sp,
        season,
        names,
        d.ensemble_margin,
        d.quantile_list(),
        nonnegative=d.nonnegative,
        lstm_share=share,
    )
    served = _refit(
        net, tc, for_training(plan, s, packed.lengths), covariates, removed_season(plan, s), s, evaluated, key, on_epoch
    )
    meta = {
        "freq": s.data.freq,  # the frequency given for every series (None: each series' own, inferred)
        "season_length": s.data.season_length,  # likewise for the season
        "freqs": _counts(prep.freqs),  # what was inferred: alias -> number of series
        "data_fingerprint": data_fp,
        "train_end": str(pd.Timestamp(prep.last_ds.max())),  # the served weights saw every point
        "evaluated_train_end": str(pd.Timestamp(ds[packed.offsets + np.maximum(sp.val0, 1) - 1].max())),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": (served or evaluated)[0].device if (served or evaluated) else "cpu",
        "conformal": ev.conformal,
        "band_shift": ev.band_shift,  # per serving model, its bands' conformal shifts (MASE-scaled)
        "levels": list(levels_for(s.data.quantile_list())),  # the interval levels of every forecast
        "quantiles": list(s.data.quantile_list()),
        "nonnegative": s.data.nonnegative,  # forecasts of a series never below zero are floored there
        "comparators": names,
        "selection": ev.choice,
        "fallback": ev.fallback,
        "default_model": ev.default,
        "default_fallback": ev.default_fallback,
        LSTM_SHARE: share,  # the LSTM's weight in the ensemble (None: the members' plain mean)
        "n_windows": W,
        "clean_outliers_up_to": s.data.max_auto_series,  # the LSTM reads histories cleaned up to so many series
        "features": plan.features.to_dict(),  # the covariates by kind: what forecasting builds again
    }
    bundle = ModelBundle(
        network=served[0].model.cfg if served else net,
        state_dict=_cpu(served[0].model) if served else {},
        stats=served[1]
        if served
        else scaling.fit_stats(
            packed.values,
            packed.series_of_point(),
            np.ones(packed.values.shape[0], bool),
            packed.n_series,
            s.data.transform,
            s.data.scaler,
            removed_season(plan, s),
        ),
        series_ids=ids,
        covariate_stats=served[2] if served else None,
        covariates=covariates,
        meta=meta,
        eval_state_dict=_cpu(evaluated[0].model) if evaluated else {},
    )
    return TrainOutcome(
        bundle,
        evaluated[0] if evaluated else None,
        served[0] if served else None,
        ev.metrics,
        ev.table,
        ev.frame,
        prep,
        packed,
        ids,
        ds,
        sp,
        ev,
        evaluated[1] if evaluated else None,
    )


def lstm_share(share: float | None, evaluated: TrainResult | None, tc: TrainConfig) -> float | None:
    """The LSTM's weight in the ensemble: ``share``, or none at all when the evaluated network's best
    validation epoch lies inside the learning-rate warm-up (it learnt nothing validation rewards: its
    weights are near their initialisation, whose forecast is the window's last value)."""
    if evaluated is not None and evaluated.best_epoch < warmup_epochs(tc):
        return 0.0
    return share


def _counts(freqs: np.ndarray) -> dict[str, int]:
    names, counts = np.unique(np.array([str(f) for f in freqs.tolist()]), return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts)}


def train_networks(df: pd.DataFrame, s: Settings) -> None:
    """The two trainings of :func:`train_stage` alone (evaluated, then refit), nothing evaluated: what
    the other data-parallel ranks run beside rank 0's train flow, making the same collective calls."""
    plan = plan_for(df, s)
    season = removed_season(plan, s)
    packed = for_training(plan, s, plan.prep.packed.lengths)
    _refit(plan.net, plan.tc, packed, plan.covariates, season, s, _fit_evaluated(plan, s, None), plan.key, None)


def evaluated_lstm(df: pd.DataFrame, s: Settings) -> TrainResult | None:
    """Only the evaluated LSTM (training part, early stopping on validation): the unit of a search."""
    fitted = _fit_evaluated(plan_for(df, s), s, None)
    return fitted[0] if fitted else None


def _fit_evaluated(plan: Plan, s: Settings, on_epoch: Callable[[dict], None] | None) -> Fitted | None:
    """The evaluated LSTM: trained on the training part, early-stopped on the validation windows."""
    sp = plan.split
    return _fit(
        plan.net,
        plan.tc,
        for_training(plan, s, sp.val0),
        plan.covariates,
        removed_season(plan, s),
        s,
        sp.val0,
        (sp.val0 + plan.net.horizon - 1, sp.test0),
        plan.key,
        on_epoch,
    )


Fitted = tuple[TrainResult, scaling.ScalerStats, "scaling.ScalerStats | None", int]  # result, stats, cov stats, windows


def _fit(
    net: NetworkConfig,
    tc: TrainConfig,
    packed: PackedSeries,
    covariates: list[str],
    season: np.ndarray | None,
    s: Settings,
    fit_end: np.ndarray,
    val_span: tuple[np.ndarray, np.ndarray] | None,
    key: str,
    on_epoch: Callable[[dict], None] | None,
    tag: str = "",
) -> Fitted | None:
    """Train ``s.model.ensemble`` networks on the targets before ``fit_end`` (S,), scaled on those
    points only; early stopping on the windows whose last point lies in ``val_span`` (first
    target at or after the training part). ``season`` (S,): the seasons whose indices the network
    does not read (None: the series as they are). None when no series has a complete training window."""
    L, H = net.input_size, net.horizon
    sid, pos = packed.series_of_point(), packed.position()
    fit_mask = pos < np.maximum(fit_end, 1)[sid]
    stats = scaling.fit_stats(packed.values, sid, fit_mask, packed.n_series, s.data.transform, s.data.scaler, season)
    cov_stats = (
        scaling.fit_covariate_stats(
            packed.covariates,
            sid,
            fit_mask,
            packed.n_series,
            *scaling.shared_columns(packed.n_covariates, net.n_future, net.static_cardinalities),
        )
        if covariates
        else None
    )
    data = features(packed, stats, cov_stats)  # (N, F)
    observed = np.where(np.isfinite(data).all(axis=1), packed.observed(), np.nan)  # a value that cannot be logged
    tr, va = training_windows(observed, packed.offsets, fit_end, val_span, L, H)
    if tr.size == 0:
        return None
    ages = window_ages(tr, packed, fit_end, L + H)  # (W,) the age that weighs each window's loss
    members = [
        fit(
            net,
            data,
            tr,
            va,
            replace(tc, seed=tc.seed + 1000 * k, checkpoint=checkpoint_path(s, key + tag, k)),
            on_epoch=on_epoch,
            train_ages=ages,
        )
        for k in range(s.model.ensemble)
    ]  # a few full trainings, not a loop over data
    result = members[0]
    result.seconds = sum(m.seconds for m in members)
    result.windows_per_s = sum(m.windows_per_s * m.seconds for m in members) / max(result.seconds, 1e-9)
    result.model = Ensemble.of(net, [m.model for m in members])
    return result, stats, cov_stats, int(tr.size)


def training_windows(
    observed: np.ndarray,
    offsets: np.ndarray,
    fit_end: np.ndarray,
    val_span: tuple[np.ndarray, np.ndarray] | None,
    L: int,
    H: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Starts of the complete training windows (every target before ``fit_end`` (S,)) and of the
    validation windows (last point in ``val_span`` = [val0 + H - 1, test0): every target inside
    the validation part, none a training target). observed (N,): NaN marks a missing point."""
    zeros = np.zeros(offsets.shape[0], dtype=np.int64)
    tr = complete(observed, window_starts(offsets, zeros, fit_end, L + H), L + H)
    va = (
        complete(observed, window_starts(offsets, *val_span, L + H), L + H)
        if val_span is not None
        else np.zeros(0, dtype=np.int64)
    )
    return tr, va


def window_ages(starts: np.ndarray, packed: PackedSeries, fit_end: np.ndarray, window: int) -> np.ndarray:
    """(W,) steps from the last target of each window starting at ``starts`` (W,) to the newest
    training target of its series (the point before ``fit_end`` (S,))."""
    sid, pos = packed.series_of_point()[starts], packed.position()[starts]
    return (np.asarray(fit_end)[sid] - 1 - (pos + window - 1)).astype(np.int64)


def _refit(
    net: NetworkConfig,
    tc: TrainConfig,
    packed: PackedSeries,
    covariates: list[str],
    season: np.ndarray | None,
    s: Settings,
    evaluated: Fitted | None,
    key: str,
    on_epoch: Callable[[dict], None] | None,
) -> Fitted | None:
    """The served LSTM: trained on every point (statistics from every point) for as many optimizer
    steps as the evaluated one took to its best validation loss, on the same learning-rate schedule
    stretched to the larger data; without an evaluated LSTM (series too short to hold one out),
    for a third of the epochs."""
    if evaluated is None:
        return _fit(
            net,
            replace(tc, stop_after=max(1, tc.epochs // 3)),
            packed,
            covariates,
            season,
            s,
            packed.lengths,
            None,
            key,
            on_epoch,
            "-refit",
        )
    result, _, _, n_eval = evaluated
    n_all = int(np.maximum(packed.lengths - net.input_size - net.horizon + 1, 0).sum())
    per_epoch = lambda n: -(-min(n, tc.max_windows_per_epoch or n) // tc.batch_size)  # noqa: E731 batches
    ratio = per_epoch(n_eval) / max(per_epoch(n_all), 1)
    epochs = max(1, round(tc.epochs * ratio))
    stop = max(1, min(epochs, round((result.best_epoch + 1) * ratio)))
    return _fit(
        net,
        replace(tc, epochs=epochs, stop_after=stop, patience=tc.epochs),
        packed,
        covariates,
        season,
        s,
        packed.lengths,
        None,
        key,
        on_epoch,
        "-refit",
    )


def _cpu(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


@task(name="train-model", cache_policy=NO_CACHE)
def train_task(df: pd.DataFrame, s: Settings) -> TrainOutcome:
    with epoch_progress(s.training.epochs, s.training.progress, get_run_logger()) as on_epoch:
        return train_stage(df, s, on_epoch)


def load_curated(s: Settings) -> pd.DataFrame:
    """The curated rows at the newest version, or at ``data.as_of_version``; the table's URI and
    version in ``attrs`` (the lineage the MLflow run records)."""
    cur = Curated(Storage(s.storage.root))
    table = cur.table(s.data.as_of_version)
    if table is None:
        raise FileNotFoundError(f"no curated data under {s.storage.root!r}: run ingest first")
    df = cur.read(version=table.version())
    if df.empty:
        raise FileNotFoundError(f"no curated data under {s.storage.root!r}: run ingest first")
    df.attrs.update(curated_uri=cur.uri, curated_version=table.version())
    return df


@task(name="load-curated", cache_policy=NO_CACHE)
def load_curated_task(s: Settings) -> pd.DataFrame:
    return load_curated(s)


@task(name="log-and-register", cache_policy=NO_CACHE)
def register_task(
    s: Settings, outcome: TrainOutcome, history: pd.DataFrame, run_id: str | None, trials: list | None = None
) -> Registration:
    return log_and_register(
        s, outcome, forecast_plot(history, outcome.test_frame, outcome.table), run_id, trials, lineage=history.attrs
    )
