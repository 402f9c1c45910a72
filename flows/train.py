"""Train flow: curated data -> trained, evaluated, logged and registered LSTM."""
from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.common import flow_run_id, settings_from
from tasks.settings import Settings
from tasks.train import load_curated_task, register_task, train_task


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
    outcome = train_task(df, s)
    reg = register_task(s, outcome, df, flow_run_id())
    m = outcome.metrics
    summary = {
        "mlflow_run_id": reg.run_id,
        "model_version": reg.version,
        "promoted": reg.promoted,
        "gate": reg.reason,
        "champion_version": reg.champion_version,
        "metrics": m,
        "epochs": len(outcome.result.history),
        "best_epoch": outcome.result.best_epoch,
        "windows_per_s": outcome.result.windows_per_s,
        "device": outcome.result.device,
        "series": len(outcome.ids),
        "plot_uri": reg.artifact_uri + "/forecast_vs_actual.png",
        "table_uri": reg.artifact_uri + "/backtest.csv",
    }
    create_markdown_artifact(key="train-summary", markdown=_markdown(s, summary), description="Training summary")
    get_run_logger().info("model v%s: %s", reg.version, reg.reason)
    return summary


def _markdown(s: Settings, r: dict) -> str:
    m, models = r["metrics"], ("lstm", "snaive", "naive", "drift")
    rows = "\n".join(f"| {k} | " + " | ".join(f"{m[f'{x}_{k}']:.4g}" for x in models) + " |"
                     for k in ("mae", "rmse", "mape", "smape", "mase"))
    return (
        f"# {s.tracking.model_name} v{r['model_version']}\n\n**Gate:** {r['gate']}\n\n"
        f"MLflow run `{r['mlflow_run_id']}`, {r['series']} series, {r['epochs']} epochs on {r['device']}.\n\n"
        f"| backtest | LSTM | seasonal naive | naive | drift |\n|---|---|---|---|---|\n{rows}\n\n"
        f"Conformal intervals, empirical coverage on the backtest: 80 %: {m['coverage_80']:.1%}, "
        f"95 %: {m['coverage_95']:.1%}, of {m['coverage_points']:,.0f} points.\n\n"
        f"Forecast vs actual (best and worst series): "
        f"`{r['plot_uri']}`; per-series table: `{r['table_uri']}`.\n"
    )
