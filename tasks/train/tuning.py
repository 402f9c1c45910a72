"""``lstm-forecast train --auto``: a small Optuna search of the LSTM recipe on the validation windows.

Each trial trains the evaluated LSTM (training part only) with one set of choices and scores it by
its best validation loss in scaled units (the same validation windows for every trial: the test
part is never read). The chosen settings then train as usual; each trial is logged as a nested
MLflow run of the training's run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.adapters.settings import Settings, load_settings
from tasks.series.frequency import seasons
from tasks.series.prepare import prepare
from tasks.train.stage import evaluated_lstm


@dataclass
class Trial:
    number: int
    params: dict[str, Any]  # dotted settings keys
    val_loss: float  # best validation loss (scaled units); inf when the trial could not train


def search_space(trial, season: int, horizon: int) -> dict[str, Any]:
    """Input window in seasons (at least the horizon), width, depth, learning rate, loss, whether
    the network reads deseasonalised windows (the validation loss is on the series either way), and
    the share of mirrored training windows (whether the training part's drift carries on)."""
    base = max(season, horizon)
    return {
        "data.input_size": base * trial.suggest_categorical("input_seasons", [1, 2, 3]),
        "model.hidden_size": trial.suggest_categorical("hidden_size", [32, 64, 128]),
        "model.num_layers": trial.suggest_int("num_layers", 1, 3),
        "training.lr": trial.suggest_float("lr", 1e-3, 1e-2, log=True),
        "training.loss": trial.suggest_categorical("loss", ["mse", "mae", "huber"]),
        "model.deseasonalise": trial.suggest_categorical("deseasonalise", [True, False]),
        "training.flip_share": trial.suggest_categorical("flip_share", [0.0, 0.25, 0.5]),
    }


def tune(df: pd.DataFrame, s: Settings, n_trials: int) -> tuple[Settings, list[Trial]]:
    """The settings with the lowest validation loss over ``n_trials`` (seeded TPE sampler), and
    every trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    prep = prepare(df, freq=s.data.freq)
    season = int(seasons(prep.freqs, s.data.season_length).max())
    trials: list[Trial] = []

    def objective(trial) -> float:
        params = search_space(trial, season, s.data.horizon)
        trial_settings = load_settings({**_flat(s), **params, "training.resume": False})
        fitted = evaluated_lstm(df, trial_settings)
        loss = fitted.best_val_loss if fitted is not None and math.isfinite(fitted.best_val_loss) else math.inf
        trials.append(Trial(trial.number, params, loss))
        return loss

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=s.training.seed))
    study.optimize(objective, n_trials=n_trials)
    best = min(trials, key=lambda t: t.val_loss)
    return load_settings({**_flat(s), **best.params}), trials


def _flat(s: Settings) -> dict[str, Any]:
    return {k: v for k, v in s.flat().items() if v is not None}


@task(name="search-recipe", cache_policy=NO_CACHE)
def tune_task(df: pd.DataFrame, s: Settings) -> tuple[Settings, list[Trial]]:
    return tune(df, s, s.training.auto_trials)
