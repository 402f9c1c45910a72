"""The main job: ingest -> train -> forecast, each a subflow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import flow

from flows.common import with_runner
from flows.forecast import forecast_flow
from flows.ingest import ingest_flow
from flows.train import train_flow
from tasks.forecast.stage import ForecastResult
from tasks.ingest.stage import IngestSummary
from tasks.train.summary import TrainSummary


@dataclass(frozen=True)
class PipelineResult:
    """The three subflows' results, in the order they ran."""

    ingest: IngestSummary
    train: TrainSummary  # registered and gated
    forecast: ForecastResult  # by the champion after the gate


@flow(name="pipeline", log_prints=True)
def pipeline_flow(
    input: str | None = None,
    storage: str | None = None,
    horizon: int | None = None,
    input_size: int | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    overrides: dict[str, Any] | None = None,
) -> PipelineResult:
    """1. ingest  2. train (registers, gates the champion)  3. forecast with the champion; ingest and
    forecast fan out under the task runner chosen in the settings (``scale.runner``)."""
    ingest = with_runner(ingest_flow, overrides)(input=input, storage=storage, overrides=overrides)
    if why := ingest.nothing_curated():
        raise ValueError(why)
    train = train_flow(
        storage=storage, horizon=horizon, input_size=input_size, epochs=epochs, seed=seed, overrides=overrides
    )
    forecast = with_runner(forecast_flow, overrides)(storage=storage, overrides=overrides)
    return PipelineResult(ingest=ingest, train=train, forecast=forecast)
