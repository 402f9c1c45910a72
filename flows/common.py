"""What every flow shares: settings from parameters, the current flow run id, the task runner."""

from __future__ import annotations

import os
from typing import Any, TypeVar

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from tasks.adapters.settings import ScaleSettings, Settings, load_settings

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
        return DaskTaskRunner(
            cluster_kwargs={
                "n_workers": cfg.dask_workers,
                "threads_per_worker": 1,
                "processes": cfg.dask_processes,
                "dashboard_address": ":0",
            }
        )
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


class SettingsTaskRunner(TaskRunner):
    """The task runner the settings name, chosen when a flow run starts: the flows carry this one, so
    the setting applies wherever they run (the CLI, ``lstm-forecast serve``, a work-pool worker).
    Settings = the ``LSTMF_`` environment of the process running the flow < ``overrides``."""

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.overrides = dict(overrides or {})
        self.inner: TaskRunner | None = None

    def duplicate(self) -> SettingsTaskRunner:
        return type(self)(self.overrides)

    def __enter__(self) -> SettingsTaskRunner:
        self.inner = task_runner(settings_from(self.overrides).scale)
        self.inner.__enter__()
        self._started = True
        return self

    def __exit__(self, *exc: Any) -> None:
        inner, self.inner, self._started = self.inner, None, False
        if inner is not None:
            inner.__exit__(*exc)

    def submit(self, task, parameters, wait_for=None, dependencies=None):  # type: ignore[override]
        return self._running().submit(task, parameters, wait_for, dependencies)

    def map(self, task, parameters, wait_for=None):  # type: ignore[override]
        return self._running().map(task, parameters, wait_for)

    def cancel_all(self) -> None:
        if self.inner is not None and hasattr(self.inner, "cancel_all"):
            self.inner.cancel_all()

    def _running(self) -> TaskRunner:
        if self.inner is None:
            raise RuntimeError("The task runner must be started before submitting work.")
        return self.inner


def runner_name(runner: TaskRunner) -> str:
    """The class of the runner doing the work (the one a :class:`SettingsTaskRunner` chose)."""
    return type(getattr(runner, "inner", None) or runner).__name__


def with_runner(flow_: F, overrides: dict[str, Any] | None = None, **named: Any) -> F:
    """``flow_`` whose task runner also sees ``overrides`` and the named parameters (the CLI's flags)."""
    return flow_.with_options(
        task_runner=SettingsTaskRunner(  # type: ignore[attr-defined]
            {**(overrides or {}), **{k: v for k, v in named.items() if v is not None}}
        )
    )
