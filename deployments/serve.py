"""All deployments in one place, served by one process (``lstm-forecast serve``).

Schedules (UTC by default, ``LSTMF_SCHEDULE_TZ`` to change): ingest hourly, train weekly
(Monday 03:00), forecast daily (06:00). One run at a time per deployment.
"""
from __future__ import annotations

import os
from typing import Any

from prefect import serve
from prefect.schedules import Cron

from flows.forecast import forecast_flow
from flows.ingest import ingest_flow
from flows.train import train_flow

CRONS = {"ingest": "0 * * * *", "train": "0 3 * * 1", "forecast": "0 6 * * *"}


def deployments(overrides: dict[str, Any] | None = None) -> list:
    tz = os.environ.get("LSTMF_SCHEDULE_TZ", "UTC")
    params = {"overrides": overrides} if overrides else {}
    return [
        fl.to_deployment(name=f"{name}-scheduled", schedule=Cron(CRONS[name], timezone=tz), parameters=params,
                         concurrency_limit=1, tags=["lstm-forecast"])
        for name, fl in (("ingest", ingest_flow), ("train", train_flow), ("forecast", forecast_flow))
    ]


def serve_all(overrides: dict[str, Any] | None = None) -> None:
    serve(*deployments(overrides))


if __name__ == "__main__":
    serve_all()
