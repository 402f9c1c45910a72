"""The train stage's result: what one training run trained, scored, registered and promoted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tasks.train.register import Registration
    from tasks.train.stage import TrainOutcome


@dataclass(frozen=True)
class TrainSummary:
    mlflow_run_id: str
    model_version: str  # the registered version
    promoted: bool  # the gate moved the champion alias to it
    gate: str  # the gate's reason
    champion_version: str | None  # the champion after the gate
    metrics: dict[str, float]  # test metrics over the same points: lstm_mase, auto_ets_mase, selected_mase, ...
    models: list[str]  # the models compared (lstm and the comparators)
    series_per_model: dict[str, int]  # served model -> number of series it serves, most first
    backtest_windows: int  # test windows of the backtest
    epochs: int  # of the evaluated LSTM (0: no series long enough for it)
    best_epoch: int
    refit_epochs: int  # of the served refit on every point
    train_end: str  # the last timestamp the served weights saw
    windows_per_s: float
    device: str
    series: int
    trials: int  # tuning trials (0: no tuning)
    plot_uri: str  # forecast vs actual, best and worst series
    table_uri: str  # the per-series backtest table
    features: dict = field(default_factory=dict)  # the covariates by kind (:class:`FeatureSpec` as a dict)


def train_summary(outcome: TrainOutcome, reg: Registration, trials: list) -> TrainSummary:
    """The summary of a trained (:class:`TrainOutcome`) and registered (:class:`Registration`) model."""
    res, ev = outcome.result, outcome.evaluation
    return TrainSummary(
        mlflow_run_id=reg.run_id,
        model_version=reg.version,
        promoted=reg.promoted,
        gate=reg.reason,
        champion_version=reg.champion_version,
        metrics=outcome.metrics,
        models=ev.models,
        series_per_model={k: int(v) for k, v in Counter(ev.choice.values()).most_common()},
        backtest_windows=int(outcome.split.origins.shape[0]),
        epochs=len(res.history) if res else 0,
        best_epoch=res.best_epoch if res else 0,
        refit_epochs=len(outcome.served.history) if outcome.served else 0,
        train_end=outcome.bundle.meta["train_end"],
        windows_per_s=res.windows_per_s if res else 0.0,
        device=outcome.bundle.meta["device"],
        series=len(outcome.ids),
        trials=len(trials),
        plot_uri=reg.artifact_uri + "/forecast_vs_actual.png",
        table_uri=reg.artifact_uri + "/backtest.csv",
        features=outcome.bundle.meta.get("features", {}),
    )
