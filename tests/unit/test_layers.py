"""Layering: the numerics package never pulls in orchestration, tracking or remote storage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE = (
    "import lstm_model, lstm_model.bundle, lstm_model.training, lstm_model.baselines, sys; "
    "bad=[m for m in ('prefect','mlflow','fsspec') if m in sys.modules]; assert not bad, bad"
)


def test_lstm_model_imports_no_prefect_mlflow_or_fsspec():
    r = subprocess.run([sys.executable, "-c", CODE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_check_itself_can_fail():
    """The same probe flags a module that is imported (guards against a check that always passes)."""
    code = CODE.replace("import lstm_model,", "import json, lstm_model,").replace("('prefect',", "('json','prefect',")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "json" in r.stderr
