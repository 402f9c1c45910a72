"""Epoch checkpoints: where a training's state is written, named by what shapes the training."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from tasks.adapters.settings import Settings
from tasks.adapters.storage import Storage


def checkpoint_key(s: Settings, data_fingerprint: str) -> str:
    """Names a training by everything that shapes it: the data and the data/model/training settings
    (not ``resume``, ``device``, ``checkpoint_dir`` nor ``progress``), so that ``--resume`` finds
    the checkpoint of the same training only."""
    shaping = {
        k: v
        for k, v in s.flat().items()
        if k.split(".")[0] in ("data", "model", "training")
        and k not in ("training.resume", "training.device", "training.checkpoint_dir", "training.progress")
    }
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{digest}-{data_fingerprint}"


def checkpoint_path(s: Settings, key: str, member: int) -> str:
    """A local file per ensemble member: ``<checkpoint_dir or local storage>/checkpoints/<key>/``."""
    if s.training.checkpoint_dir:
        base = Path(s.training.checkpoint_dir)
    else:
        storage = Storage(s.storage.root)
        base = (
            storage.local_root() / "checkpoints"
            if storage.is_local
            else Path(tempfile.gettempdir()) / "lstm-forecast-checkpoints"
        )
    return str(base / key / f"member-{member}.pt")
