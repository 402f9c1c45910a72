"""What every flow shares: settings from parameters, the current flow run id."""
from __future__ import annotations

from typing import Any

from tasks.settings import Settings, load_settings


def settings_from(overrides: dict[str, Any] | None, **named: Any) -> Settings:
    """Settings = defaults < LSTMF_ environment < ``overrides`` (dotted keys) < named parameters."""
    return load_settings({**(overrides or {}), **{k: v for k, v in named.items() if v is not None}})


def flow_run_id() -> str | None:
    from prefect.runtime import flow_run

    return flow_run.id
