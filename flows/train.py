"""Train flow: curated data -> trained, evaluated, logged and registered LSTM."""
from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.common import flow_run_id, metrics_table, settings_from
from tasks.train.comparators import LABELS
from tasks.adapters.settings import Settings
from tasks.train.stage import load_curated_task, register_task, train_task
from tasks.train.tuning import tune_task


@flow(name="train", log_prints=True)
def train_flow(
    storage: str | None = None,
    horizon: int | None = None,
    input_size: int | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict:
    """1. load curated data  2. train + test  3. log to MLflow, register, gate the champion alias."""
    s = settings_from(overrides, **{"storage.root": storage, "data.horizon": horizon, "data.input_size": input_size,
                                    "training.epochs": epochs, "training.seed": seed})
    df = load_curated_task(s)
    trials = []
    if s.training.auto:
        s, trials = tune_task(df, s)
    outcome = train_task(df, s)
    reg = register_task(s, outcome, df, flow_run_id(), trials)
    m, res, ev = outcome.metrics, outcome.result, outcome.evaluation
    summary = {
        "mlflow_run_id": reg.run_id,
        "model_version": reg.version,
        "promoted": reg.promoted,
        "gate": reg.reason,
        "champion_version": reg.champion_version,
        "metrics": m,
        "models": ev.models,
        "series_per_model": {k: int(v) for k, v in Counter(ev.choice.values()).most_common()},
        "backtest_windows": int(outcome.split.origins.shape[0]),
        "epochs": len(res.history) if res else 0,
        "best_epoch": res.best_epoch if res else 0,
        "refit_epochs": len(outcome.served.history) if outcome.served else 0,
        "train_end": outcome.bundle.meta["train_end"],
        "windows_per_s": res.windows_per_s if res else 0.0,
        "device": outcome.bundle.meta["device"],
        "series": len(outcome.ids),
        "trials": len(trials),
        "plot_uri": reg.artifact_uri + "/forecast_vs_actual.png",
        "table_uri": reg.artifact_uri + "/backtest.csv",
    }
    create_markdown_artifact(key="train-summary", markdown=_markdown(s, summary), description="Training summary")
    get_run_logger().info("model v%s: %s", reg.version, reg.reason)
    return summary


def _markdown(s: Settings, r: dict) -> str:
    m = r["metrics"]
    per_model = ", ".join(f"{LABELS.get(k, k)} {v}" for k, v in r["series_per_model"].items())
    coverage = (f"LSTM conformal intervals, empirical coverage on the test windows: 80 %: {m['coverage_80']:.1%}, "
                f"95 %: {m['coverage_95']:.1%}, of {m['coverage_points']:,.0f} points.\n\n") if "coverage_80" in m else ""
    return (
        f"# {s.tracking.model_name} v{r['model_version']}\n\n**Gate:** {r['gate']}\n\n"
        f"MLflow run `{r['mlflow_run_id']}`, {r['series']} series, {r['backtest_windows']} test window(s) over "
        f"{m['points']:,.0f} (series, cutoff) pairs; LSTM {r['epochs']} epochs on {r['device']}, served weights "
        f"refit on every point up to {r['train_end']} ({r['refit_epochs']} epochs).\n\n"
        f"{metrics_table(m, r['models'], markdown=True)}\n\n"
        f"Served model per series (chosen on the validation windows): {per_model}.\n\n{coverage}"
        f"Forecast vs actual (best and worst series): "
        f"`{r['plot_uri']}`; per-series table: `{r['table_uri']}`.\n"
    )
