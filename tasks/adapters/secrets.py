"""Credentials in URIs and settings: masked wherever they could be shown, and moved to the
environment before settings become flow parameters or a command line."""

from __future__ import annotations

import os
import re
from typing import Any

_USERINFO = re.compile(r"(?P<head>[A-Za-z][\w+.-]*://[^:/@\s]*):(?P<secret>[^@/\s]+)@")
_QUERY = re.compile(
    r"(?P<head>[?&;](?:password|passwd|pwd|token|secret|access_key|secret_key|sig|signature)=)"
    r"(?P<secret>[^&;\s]+)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with the credentials of any URI in it masked: ``https://user:***@host``, ``?token=***``."""
    return _QUERY.sub(r"\g<head>***", _USERINFO.sub(r"\g<head>:***@", text))


def secrets_to_env(overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` without the values that carry credentials (a tracking URI or runner address
    with a password or token): those move to their ``LSTMF_`` environment variables, which the
    flows, the deployments served and the torchrun ranks all read, so they never become Prefect
    flow parameters or a command line. The settings are unchanged."""
    kept = {}
    for key, value in overrides.items():
        if isinstance(value, str) and redact(value) != value:
            os.environ["LSTMF_" + key.upper().replace(".", "__")] = value
        else:
            kept[key] = value
    return kept
