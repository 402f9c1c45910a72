"""Train flow: curated data -> trained, evaluated, logged and registered LSTM."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.common import flow_run_id, settings_from
from flows.render import train_markdown
from tasks.train.stage import load_curated_task, register_task, train_task
from tasks.train.summary import TrainSummary, train_summary
from tasks.train.tuning import tune_task


@flow(name="train", log_prints=True)
def train_flow(
    storage: str | None = None,
    horizon: int | None = None,
    input_size: int | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> TrainSummary:
    """1. load curated data  2. train + test  3. log to MLflow, register, gate the champion alias."""
    s = settings_from(
        overrides,
        **{
            "storage.root": storage,
            "data.horizon": horizon,
            "data.input_size": input_size,
            "training.epochs": epochs,
            "training.seed": seed,
        },
    )
    df = load_curated_task(s)
    trials = []
    if s.training.auto:
        s, trials = tune_task(df, s)
    outcome = train_task(df, s)
    reg = register_task(s, outcome, df, flow_run_id(), trials)
    summary = train_summary(outcome, reg, trials)
    create_markdown_artifact(
        key="train-summary", markdown=train_markdown(s.tracking.model_name, summary), description="Training summary"
    )
    get_run_logger().info("model v%s: %s", reg.version, reg.reason)
    return summary
