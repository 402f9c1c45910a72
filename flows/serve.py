"""Every schedule in one table: ``lstm-forecast serve`` (one process serving them all) and
``deployments/prefect.yaml`` (a work pool) are both made from it.

Schedules are UTC by default (``LSTMF_SCHEDULE_TZ`` to change); one run at a time per deployment.
``python -m flows.serve --write-yaml`` rewrites ``deployments/prefect.yaml`` from the table.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

YAML = Path(__file__).resolve().parent.parent / "deployments" / "prefect.yaml"
POOL = "lstm-pool"
TAGS = ["lstm-forecast"]


@dataclass(frozen=True)
class Schedule:
    flow: str  # the flow's module in flows/ and its name
    cron: str
    every: str  # the work-pool deployment's name suffix

    @property
    def entrypoint(self) -> str:
        return f"flows/{self.flow}.py:{self.flow}_flow"


SCHEDULES = (
    Schedule("ingest", "0 * * * *", "hourly"),
    Schedule("train", "0 3 * * 1", "weekly"),  # Monday 03:00
    Schedule("forecast", "0 6 * * *", "daily"),
)


def timezone() -> str:
    return os.environ.get("LSTMF_SCHEDULE_TZ", "UTC")


def flow_of(name: str):
    from flows.forecast import forecast_flow
    from flows.ingest import ingest_flow
    from flows.train import train_flow

    return {"ingest": ingest_flow, "train": train_flow, "forecast": forecast_flow}[name]


def deployments(overrides: dict[str, Any] | None = None) -> list:
    from prefect.schedules import Cron

    params = {"overrides": overrides} if overrides else {}
    return [
        flow_of(s.flow).to_deployment(
            name=f"{s.flow}-scheduled",
            schedule=Cron(s.cron, timezone=timezone()),
            parameters=params,
            concurrency_limit=1,
            tags=TAGS,
        )
        for s in SCHEDULES
    ]


def runner_environment(overrides: dict[str, Any] | None) -> dict[str, str]:
    """The task runner settings among ``overrides`` as ``LSTMF_`` variables: a served run starts in a
    child process that loads its flow afresh, so the runner reaches it through the environment."""
    return {
        f"LSTMF_{k.replace('.', '__').upper()}": str(v)
        for k, v in (overrides or {}).items()
        if k.startswith("scale.") and v is not None
    }


def serve_all(overrides: dict[str, Any] | None = None) -> None:
    from prefect import serve

    os.environ.update(runner_environment(overrides))
    serve(*deployments(overrides))


def prefect_yaml() -> str:
    """The work-pool deployments of :data:`SCHEDULES`, as ``deployments/prefect.yaml``."""
    from prefect import __version__

    head = [
        "# Generated from flows/serve.py (python -m flows.serve --write-yaml); deploy with a work pool:",
        f"#   prefect work-pool create {POOL} --type process",
        "#   prefect deploy --prefect-file deployments/prefect.yaml --all",
        f"#   prefect worker start --pool {POOL}",
        "# Run from the repository root; the worker runs the flows from this checkout.",
        "name: lstm-forecast",
        f"prefect-version: {__version__}",
        "",
        "deployments:",
    ]
    body = [
        line
        for s in SCHEDULES
        for line in (
            f"  - name: {s.flow}-{s.every}",
            f"    entrypoint: {s.entrypoint}",
            "    parameters: {}",
            f"    work_pool: {{name: {POOL}}}",
            "    concurrency_limit: 1",
            f"    tags: [{', '.join(TAGS)}]",
            "    schedules:",
            f'      - cron: "{s.cron}"',
            "        timezone: UTC",
        )
    ]
    return "\n".join(head + body) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-yaml"]:
        YAML.write_text(prefect_yaml())
    else:
        serve_all()
