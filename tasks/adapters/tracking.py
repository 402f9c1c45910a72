"""MLflow adapter: tracking URI, run logging, model registration, the champion gate, loading."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import mlflow
import numpy as np
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from lstm_model.bundle import CONFIG_FILE, WEIGHTS_FILE, ModelBundle
from tasks.adapters.secrets import redact
from tasks.adapters.settings import Settings
from tasks.adapters.storage import Storage

CHAMPION = "champion"
CHALLENGER = "challenger"
GATE_LOCK = "champion-gate"
PACKAGES = Path(__file__).resolve().parents[2]  # the folder holding tasks/ and lstm_model/
MODEL_CODE = PACKAGES / "tasks" / "forecast" / "pyfunc.py"
CODE_PATHS = [str(PACKAGES / "tasks"), str(PACKAGES / "lstm_model")]


class NoChampionError(RuntimeError):
    pass


class TrackingUnavailable(ConnectionError):
    """The tracking server could not be reached or failed: worth retrying."""


MISSING = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")

EPOCH_METRICS = ("train_loss", "val_loss", "lr", "windows_per_s", "epoch_seconds", "gpu_mem_peak_mb")


def resolve_uri(s: Settings) -> str:
    """Settings, then $MLFLOW_TRACKING_URI, then sqlite:///<storage>/mlflow.db for local storage. Remote
    storage (s3://...) has no default: a registry must be named, a server shared by every machine or a
    local sqlite file (``--tracking-uri sqlite:///mlflow.db``, artifacts beside it)."""
    if s.tracking.tracking_uri:
        return s.tracking.tracking_uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    st = Storage(s.storage.root)
    if not st.is_local:
        raise ValueError(
            "remote storage needs an MLflow tracking URI: set --tracking-uri / "
            "LSTMF_TRACKING__TRACKING_URI or MLFLOW_TRACKING_URI (a server, or sqlite:///mlflow.db)"
        )
    root = st.local_root()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'mlflow.db'}"


def connect(s: Settings) -> MlflowClient:
    uri = resolve_uri(s)
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for k, v in saved.items():  # mlflow exports the URI to the environment; keep the user's own value
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    return MlflowClient(uri, uri)


def experiment_id(client: MlflowClient, s: Settings) -> str:
    exp = client.get_experiment_by_name(s.tracking.experiment)
    if exp is not None:
        return exp.experiment_id
    location = None
    if client.tracking_uri.startswith("sqlite:///"):  # embedded store: artifacts beside the database
        db = Path(client.tracking_uri.removeprefix("sqlite:///").split("?")[0]).resolve()
        location = (db.parent / "mlartifacts").as_uri()
    return client.create_experiment(s.tracking.experiment, artifact_location=location)


def log_lineage(uri: str, version: int) -> None:
    """The curated table and version this run trained on: an MLflow dataset input with a Delta source
    (shown in the run's Datasets), and tags to search by."""
    from mlflow.data.delta_dataset_source import DeltaDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    dataset = MetaDataset(
        DeltaDatasetSource(path=uri, delta_table_version=version), name="curated", digest=f"v{version}"
    )
    for attempt in range(3):
        try:  # two runs logging one new dataset at once: the store's get-or-create can lose a race
            mlflow.log_input(dataset, context="training")
            break
        except MlflowException:
            if attempt == 2:
                raise
            time.sleep(0.1)
    mlflow.set_tags({"curated.uri": uri, "curated.version": str(version)})


def log_model(t: Path, outputs: list[str], inputs: dict[str, str] | None = None, future: bool = False):
    """The registered model: its code, weights and configuration; ``outputs``: its forecast columns,
    ``inputs``: the covariate columns it reads besides the target, with their types (``future``:
    some are future-known, given on rows whose ``y`` is empty)."""
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(MODEL_CODE),
        artifacts={"weights": str(t / WEIGHTS_FILE), "config": str(t / CONFIG_FILE)},
        code_paths=CODE_PATHS,
        pip_requirements=_requirements(),
        signature=_signature(outputs, inputs or {}, future),
    )


def alias_version(client: MlflowClient, name: str, alias: str = CHAMPION) -> str | None:
    """The version behind ``alias``, None when there is none; a server failure is raised."""
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if exc.error_code in MISSING:
            return None
        raise TrackingUnavailable(redact(f"MLflow at {client.tracking_uri} failed: {exc}")) from exc


def load_bundle(client: MlflowClient, name: str, version: str) -> ModelBundle:
    """Weights + JSON of a registered version (no code is run, nothing is unpickled)."""
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}", dst_path=tmp))
        try:
            weights = next(local.rglob(WEIGHTS_FILE)).read_bytes()
            config = next(local.rglob(CONFIG_FILE)).read_text()
            return ModelBundle.from_payloads(weights, config)
        except StopIteration:
            raise RuntimeError(f"model {name} v{version} has no {WEIGHTS_FILE}/{CONFIG_FILE} artifacts") from None
        except Exception as exc:
            raise RuntimeError(f"model {name} v{version} is corrupt: {exc}") from exc


def load_champion(s: Settings) -> tuple[ModelBundle, str, str]:
    """(bundle, version, run_id) of ``models:/<name>@<serve_alias>`` (``champion`` by default)."""
    client = connect(s)
    name, alias = s.tracking.model_name, s.tracking.serve_alias
    version = alias_version(client, name, alias)
    if version is None:
        hint = "run train first" if alias == CHAMPION else f"no version carries '{alias}'"
        raise NoChampionError(
            f"no model to serve: {name!r} has no '{alias}' alias in {redact(client.tracking_uri)} ({hint})"
        )
    run_id = client.get_model_version(name, version).run_id
    return load_bundle(client, name, version), version, run_id or ""


def _signature(outputs: list[str], inputs: dict[str, str], future: bool):
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    kinds = {"unique_id": "string", "model": "string", "ds": "datetime", "cutoff": "datetime"}  # the rest: double
    keys = [ColSpec("string", "unique_id"), ColSpec("datetime", "ds"), ColSpec("double", "y", required=not future)]
    return ModelSignature(
        inputs=Schema(keys + [ColSpec(kind, c) for c, kind in inputs.items()]),
        outputs=Schema([ColSpec(kinds.get(c, "double"), c) for c in outputs]),
    )


def model_page(s: Settings, version: str) -> str | None:
    """The MLflow UI page of a model version, when tracking goes to a server."""
    uri = resolve_uri(s)
    if not uri.startswith(("http://", "https://")):
        return None
    return redact(f"{uri.rstrip('/')}/#/models/{s.tracking.model_name}/versions/{version}")


def champion_version(s: Settings) -> str | None:
    return alias_version(connect(s), s.tracking.model_name)


def log_scores(s: Settings, scores) -> int:
    """Realised MAE/MASE per cutoff on the run of the model version that made the forecast
    (step = days since 1970 of the cutoff). Returns the number of rows logged."""
    client = connect(s)
    n = 0
    for version, rows in scores.groupby("model_version"):
        try:
            run_id = client.get_model_version(s.tracking.model_name, str(version)).run_id
        except MlflowException:
            continue  # a version deleted from the registry: its scores stay in storage only
        now = int(time.time() * 1000)
        days = (rows["cutoff"].astype("datetime64[ns]").astype("int64") // 86_400_000_000_000).tolist()
        metrics = [
            Metric(k, float(v), now, int(d))
            for d, (_, r) in zip(days, rows.iterrows())
            for k, v in (("realised_mae", r["mae"]), ("realised_mase", r["mase"]))
            if np.isfinite(v)
        ]
        client.log_batch(run_id, metrics=metrics)
        n += len(rows)
    return n


def _requirements() -> list[str]:
    from importlib.metadata import version

    pins = []
    for pkg in ("torch", "safetensors", "numpy", "pandas", "mlflow", "statsforecast"):
        pins.append(f"{pkg}=={version(pkg).split('+')[0]}")
    return pins
