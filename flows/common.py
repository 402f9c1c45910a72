"""What every flow shares: settings from parameters, the current flow run id, the task runner."""
from __future__ import annotations

import os
from typing import Any, TypeVar

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from tasks.settings import ScaleSettings, Settings, load_settings

F = TypeVar("F")


def settings_from(overrides: dict[str, Any] | None, **named: Any) -> Settings:
    """Settings = defaults < LSTMF_ environment < ``overrides`` (dotted keys) < named parameters."""
    return load_settings({**(overrides or {}), **{k: v for k, v in named.items() if v is not None}})


def flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    return flow_run.id


def task_runner(cfg: ScaleSettings) -> TaskRunner:
    """The Prefect task runner named by the settings (prefect-dask / prefect-ray imported only when chosen)."""
    if cfg.runner == "dask":
        try:
            from prefect_dask import DaskTaskRunner
        except ImportError as exc:
            raise RuntimeError("runner 'dask' needs prefect-dask: pip install -e '.[dask]'") from exc
        if cfg.runner_address:
            return DaskTaskRunner(address=cfg.runner_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": cfg.dask_workers, "threads_per_worker": 1,
                                              "processes": cfg.dask_processes, "dashboard_address": ":0"})
    if cfg.runner == "ray":
        try:
            from prefect_ray import RayTaskRunner
        except ImportError as exc:
            raise RuntimeError("runner 'ray' needs prefect-ray: pip install -e '.[ray]'") from exc
        return RayTaskRunner(address=cfg.runner_address)
    return default_runner()


def default_runner() -> ThreadPoolTaskRunner:
    """Threads in the flow's process, one per core: a shard or file task is CPU work, and Prefect's
    own default (no limit) would run every shard at once, each holding its data, on two cores."""
    return ThreadPoolTaskRunner(max_workers=os.cpu_count() or 2)


def with_runner(flow_: F, overrides: dict[str, Any] | None = None, **named: Any) -> F:
    """``flow_`` with the task runner chosen in the settings (a flow's runner is fixed before it starts,
    so it is chosen here, by whoever calls the flow)."""
    return flow_.with_options(task_runner=task_runner(settings_from(overrides, **named).scale))  # type: ignore[attr-defined]


def metrics_table(m: dict[str, float], models: list[str], markdown: bool = False) -> str:
    """The test metrics of every model compared (and the served forecasts) as a text or markdown table."""
    from tasks.comparators import LABELS

    cols = [*models, "selected"]
    names = [LABELS.get(c, c) for c in cols]
    keys = ("mae", "rmse", "mape", "smape", "mase")
    if markdown:
        head = "| test windows | " + " | ".join(names) + " |\n|---|" + "---|" * len(cols)
        return head + "\n" + "\n".join(f"| {k} | " + " | ".join(f"{m.get(f'{c}_{k}', float('nan')):.4g}"
                                                               for c in cols) + " |" for k in keys)
    width = max(12, *(len(n) + 2 for n in names))
    head = f"  {'':6s}" + "".join(f"{n:>{width}}" for n in names)
    return head + "\n" + "\n".join(f"  {k.upper():6s}" + "".join(f"{m.get(f'{c}_{k}', float('nan')):>{width}.4f}"
                                                                for c in cols) for k in keys)
