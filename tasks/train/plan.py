"""What a training is made of: the covariates by kind, the data prepared with them, the split by
time, the network and loop configurations, and the series the LSTM learns from and reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from lstm_model import outliers, scaling
from lstm_model.bundle import forecast_at
from lstm_model.network import NetworkConfig
from lstm_model.training import TrainConfig
from lstm_model.windows import PackedSeries
from tasks.adapters.settings import Settings
from tasks.adapters.storage import Storage
from tasks.ingest.sidefile import check_static
from tasks.series.features import FeatureSpec, spec_for
from tasks.series.frequency import seasons
from tasks.series.prepare import Prepared, covariate_columns, fingerprint, prepare
from tasks.series.static import read_static, store_static
from tasks.train.checkpoints import checkpoint_key
from tasks.train.configs import network_config, train_config
from tasks.train.evaluate import Split, choose_windows, split


def auto_input_size(horizon: int, season: int) -> int:
    """The default input window: one season, and at least the horizon."""
    return max(season, horizon)


@dataclass
class Plan:
    """What a training is made of: the data, its split and the network and loop configurations."""

    prep: Prepared
    covariates: list[str]
    features: FeatureSpec
    season: np.ndarray  # (S,) each series' season length
    split: Split
    net: NetworkConfig
    tc: TrainConfig
    fingerprint: str
    key: str
    cleaned: dict[bytes, PackedSeries] = field(default_factory=dict, repr=False)  # by the ends cleaned before


def feature_spec(df: pd.DataFrame, s: Settings) -> tuple[FeatureSpec, Prepared]:
    """The covariates a training reads, by kind, and the data prepared with them (generated ones included)."""
    future = covariate_columns(df, s.data.future_covariates)
    past = [c for c in covariate_columns(df, s.data.covariates) if c not in future]
    prep = prepare(df, [*past, *future], s.data.freq)
    static = static_frame(s)
    spec = spec_for(list(df.columns), past, future, s.data.calendar, s.data.holidays, prep.freq, static)
    return spec, spec.add_to(prep, static)


def static_frame(s: Settings) -> pd.DataFrame | None:
    """The static covariates a training reads (``--static-input`` checked and stored first, when given)."""
    storage = Storage(s.storage.root)
    if s.storage.static_input:
        store_static(storage, check_static(s.storage.static_input)[0])
    setting = (s.data.static_covariates or "").strip()
    if not setting:
        return None
    return read_static(
        storage, None if setting.lower() == "all" else [c.strip() for c in setting.split(",") if c.strip()]
    )


def plan_for(df: pd.DataFrame, s: Settings) -> Plan:
    """The features, split and configurations of a training of ``df`` with ``s``."""
    spec, prep = feature_spec(df, s)
    covariates = spec.columns
    H, step = s.data.horizon, s.data.step or s.data.horizon
    season = seasons(prep.freqs, s.data.season_length)
    L = s.data.input_size or auto_input_size(H, int(season.max()))
    W = choose_windows(int(prep.packed.lengths.max()), H, L, s.data.n_windows, s.data.val_windows, step)
    net = network_config(s, L, H, 1 + len(covariates), spec.n_future, spec.cardinalities)
    tc = train_config(s)
    data_fp = fingerprint(df)
    return Plan(
        prep,
        covariates,
        spec,
        season,
        split(prep.packed, H, s.data.val_windows, W, step),
        net,
        tc,
        data_fp,
        checkpoint_key(s, data_fp),
    )


def removed_season(plan: Plan, s: Settings) -> np.ndarray | None:
    """(S,) the seasons the network reads the series without (model.deseasonalise; by default
    unless it reads future-known or static covariates), or None."""
    plain = plan.net.n_future == 0 and not plan.net.static_cardinalities
    on = s.model.deseasonalise if s.model.deseasonalise is not None else plain
    return plan.season if on else None


def for_training(plan: Plan, s: Settings, fit_end: np.ndarray) -> PackedSeries:
    """The series the LSTM learns from: each one's part before ``fit_end`` (S,) with its gross
    isolated outliers replaced, decided on that part alone (:mod:`lstm_model.outliers`), as the
    fitted comparators see their histories; with more than ``max_auto_series`` series (where no
    per-series work is done) the series as stored."""
    key = np.asarray(fit_end, dtype=np.int64).tobytes()
    if key not in plan.cleaned:  # the training and the backtest of the same part clean it once
        plan.cleaned[key] = outliers.without(plan.prep.packed, fit_end, plan.season, s.data.max_auto_series)
    return plan.cleaned[key]


def backtest_lstm(
    model: torch.nn.Module,
    plan: Plan,
    s: Settings,
    stats: scaling.ScalerStats,
    cov_stats: scaling.ScalerStats | None,
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The evaluated LSTM as the backtest asks it, (series (M,), origin (M,)) -> (M, H): its inputs
    read with the outliers of the part before the validation origins replaced (decided on that part
    alone), and those before the test origins for a test origin, as the served one reads a history
    cleaned on itself."""
    sp = plan.split
    before = [for_training(plan, s, sp.val0), for_training(plan, s, sp.test0)]

    def predict(series: np.ndarray, origin: np.ndarray) -> np.ndarray:
        late = origin >= sp.test0[series]  # (M,) a test origin
        out = np.empty((series.size, plan.net.horizon))
        for k, rows in enumerate((~late, late)):
            if rows.any():
                out[rows] = forecast_at(model, before[k], series[rows], origin[rows], stats, cov_stats)
        return out

    return predict
