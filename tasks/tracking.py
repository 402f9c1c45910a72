"""MLflow adapter: tracking URI, run logging, model registration, the champion gate, loading."""
from __future__ import annotations

import os
import warnings
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from lstm_model.bundle import CONFIG_FILE, WEIGHTS_FILE, ModelBundle
from tasks.comparators import COMPARATORS, LABELS
from tasks.evaluate import LEVELS
from tasks.locks import hold
from tasks.settings import Settings, redact
from tasks.storage import Storage

CHAMPION = "champion"
CHALLENGER = "challenger"
GATE_LOCK = "champion-gate"
MODEL_CODE = Path(__file__).with_name("mlflow_model.py")
CODE_PATHS = [str(Path(__file__).parent), str(Path(__file__).parent.parent / "lstm_model")]


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
        raise ValueError("remote storage needs an MLflow tracking URI: set --tracking-uri / "
                         "LSTMF_TRACKING__TRACKING_URI or MLFLOW_TRACKING_URI (a server, or sqlite:///mlflow.db)")
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


@dataclass
class Registration:
    run_id: str
    version: str
    promoted: bool
    reason: str
    champion_version: str | None
    artifact_uri: str


def log_and_register(s: Settings, outcome, plot_png: bytes, flow_run_id: str | None,
                     trials: list | None = None, lineage: dict | None = None) -> Registration:
    """One MLflow run with params, per-epoch metrics, test metrics, plot, table, the model and the
    curated table version it trained on (``lineage``: curated_uri, curated_version); a registered
    version; the champion alias moved only when the gate passes, one gate at a time across processes
    and machines (:func:`tasks.locks.hold` on the storage)."""
    client = connect(s)
    # the schema is given explicitly: no input example is needed to infer it
    warnings.filterwarnings("ignore", message=r".*input example was not provided.*", category=UserWarning)
    exp = experiment_id(client, s)
    name = s.tracking.model_name
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(experiment_id=exp) as run:
        rid = run.info.run_id
        artifact_uri = run.info.artifact_uri
        mlflow.log_params({k: str(v) for k, v in s.public().items()})
        now = int(time.time() * 1000)
        hist = [Metric(k, float(r[k]), now, r["epoch"]) for r in (outcome.result.history if outcome.result else [])
                for k in EPOCH_METRICS if r.get(k) is not None]
        for i in range(0, len(hist), 1000):
            client.log_batch(rid, metrics=hist[i : i + 1000])
        res, served = outcome.result, outcome.served
        training = {} if res is None else {
            "windows_per_s": res.windows_per_s, "train_seconds": res.seconds, "best_epoch": res.best_epoch,
            "best_val_loss": res.best_val_loss, "n_train_windows": res.n_train_windows,
            "gpu_mem_peak_mb": res.peak_memory_mb, "world_size": res.world_size}
        if served is not None:
            training.update(refit_epochs=len(served.history), refit_seconds=served.seconds,
                            refit_train_windows=served.n_train_windows)
        mlflow.log_metrics({k: v for k, v in {**outcome.metrics, **training, "n_series": len(outcome.ids)}.items()
                            if np.isfinite(v)})
        mlflow.set_tags({"device": outcome.bundle.meta.get("device", "cpu"), "prefect.flow_run_id": flow_run_id or "",
                         "data_fingerprint": outcome.bundle.meta.get("data_fingerprint", ""),
                         "train_end": outcome.bundle.meta.get("train_end", "")})
        if lineage and lineage.get("curated_version") is not None:
            _log_lineage(lineage["curated_uri"], int(lineage["curated_version"]))
        t = Path(tmp)
        (t / "forecast_vs_actual.png").write_bytes(plot_png)
        outcome.table.to_csv(t / "backtest.csv", index=False)
        mlflow.log_artifact(str(t / "forecast_vs_actual.png"))
        mlflow.log_artifact(str(t / "backtest.csv"))
        (t / WEIGHTS_FILE).write_bytes(outcome.bundle.weights_bytes())
        (t / CONFIG_FILE).write_text(outcome.bundle.config_json())
        info = _log_model(t)
        for trial in trials or []:  # the --auto search: one nested run per trial
            with mlflow.start_run(experiment_id=exp, nested=True, run_name=f"trial-{trial.number}"):
                mlflow.log_params({k: str(v) for k, v in trial.params.items()})
                if np.isfinite(trial.val_loss):
                    mlflow.log_metric("val_loss", trial.val_loss)
    mv = mlflow.register_model(info.model_uri, name)
    for k, v in outcome.metrics.items():
        if k.endswith("_mase") or k.startswith(("coverage", "series_")):
            client.set_model_version_tag(name, mv.version, k, f"{v:.6g}")
    client.set_model_version_tag(name, mv.version, "train_end", outcome.bundle.meta.get("train_end", ""))
    client.set_model_version_tag(name, mv.version, "run_id", rid)
    if lineage and lineage.get("curated_version") is not None:
        client.set_model_version_tag(name, mv.version, "curated_version", str(lineage["curated_version"]))
    with hold(Storage(s.storage.root), GATE_LOCK, note=f"{name} v{mv.version}"):  # two gates never interleave
        promoted, reason, champ = gate(client, name, outcome)
        client.set_registered_model_alias(name, CHALLENGER, mv.version)  # the latest, whatever the gate says
        if promoted:
            client.set_registered_model_alias(name, CHAMPION, mv.version)
        client.set_model_version_tag(name, mv.version, "gate", reason)
    client.set_tag(rid, "gate", reason)
    return Registration(rid, str(mv.version), promoted, reason, str(mv.version) if promoted else champ, artifact_uri)


def _log_lineage(uri: str, version: int) -> None:
    """The curated table and version this run trained on: an MLflow dataset input with a Delta source
    (shown in the run's Datasets), and tags to search by."""
    from mlflow.data.delta_dataset_source import DeltaDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    dataset = MetaDataset(DeltaDatasetSource(path=uri, delta_table_version=version), name="curated", digest=f"v{version}")
    for attempt in range(3):
        try:  # two runs logging one new dataset at once: the store's get-or-create can lose a race
            mlflow.log_input(dataset, context="training")
            break
        except MlflowException:
            if attempt == 2:
                raise
            time.sleep(0.1)
    mlflow.set_tags({"curated.uri": uri, "curated.version": str(version)})


def _log_model(t: Path):
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(MODEL_CODE),
        artifacts={"weights": str(t / WEIGHTS_FILE), "config": str(t / CONFIG_FILE)},
        code_paths=CODE_PATHS,
        pip_requirements=_requirements(),
        signature=_signature(),
    )


def gate(client: MlflowClient, name: str, outcome) -> tuple[bool, str, str | None]:
    """The first version is promoted (it serves every series with the model that earned it, the
    LSTM or a comparator); a later one when its served forecasts beat the current champion's on the
    same test points (the champion re-scored on today's data, not on its old tags). The reason
    names the best comparator beside them."""
    m = outcome.metrics
    new = m["selected_mase"]
    best = min([k for k in outcome.evaluation.models if k in COMPARATORS],
               key=lambda k: m.get(f"{k}_mase", np.inf) if np.isfinite(m.get(f"{k}_mase", np.nan)) else np.inf)
    versus = f"best comparator {LABELS.get(best, best)} {m.get(f'{best}_mase', float('nan')):.4f}"
    champ = _alias(client, name)
    if champ is None:
        return True, f"promoted: served MASE {new:.4f} ({versus}), no champion yet", None
    try:
        bundle = load_bundle(client, name, champ)
    except Exception as exc:  # an unreadable champion must not block a good model
        return True, f"promoted: champion v{champ} could not be loaded ({exc})", champ
    if bundle.network.horizon != outcome.bundle.network.horizon:
        return True, f"promoted: horizon changed ({bundle.network.horizon} -> {outcome.bundle.network.horizon})", champ
    if bundle.covariates != outcome.bundle.covariates:
        return True, f"promoted: covariates changed ({bundle.covariates} -> {outcome.bundle.covariates})", champ
    old = champion_mase(bundle, outcome)
    if np.isfinite(new) and not new < old:
        return False, f"kept out: served MASE {new:.4f} does not beat champion v{champ} {old:.4f} ({versus})", champ
    if not np.isfinite(new):
        return False, f"kept out: no test point to compare with champion v{champ}", champ
    return True, f"promoted: served MASE {new:.4f} < champion v{champ} {old:.4f} on the same test points ({versus})", \
        champ


def champion_mase(bundle: ModelBundle, outcome) -> float:
    """The champion's served MASE on the new model's test points: its backtested network (trained
    before its own validation part, so out of sample here) where it chose the LSTM, the same
    comparator forecasts as the new model's elsewhere."""
    from tasks.evaluate import rescore

    return rescore(bundle, outcome.evaluation, outcome.packed, outcome.ids, outcome.split)


def _alias(client: MlflowClient, name: str, alias: str = CHAMPION) -> str | None:
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
    version = _alias(client, name, alias)
    if version is None:
        hint = "run train first" if alias == CHAMPION else f"no version carries '{alias}'"
        raise NoChampionError(f"no model to serve: {name!r} has no '{alias}' alias in {redact(client.tracking_uri)} ({hint})")
    run_id = client.get_model_version(name, version).run_id
    return load_bundle(client, name, version), version, run_id or ""


def _signature():
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string", "unique_id"), ColSpec("datetime", "ds"), ColSpec("double", "y")]),
        outputs=Schema([ColSpec("string", "unique_id"), ColSpec("datetime", "ds"), ColSpec("double", "y_hat"),
                        *(ColSpec("double", f"y_hat_{side}_{level}") for level in LEVELS for side in ("lo", "hi")),
                        ColSpec("double", "mase_scale"), ColSpec("datetime", "cutoff"), ColSpec("string", "model")]),
    )


def model_page(s: Settings, version: str) -> str | None:
    """The MLflow UI page of a model version, when tracking goes to a server."""
    uri = resolve_uri(s)
    if not uri.startswith(("http://", "https://")):
        return None
    return redact(f"{uri.rstrip('/')}/#/models/{s.tracking.model_name}/versions/{version}")


def champion_version(s: Settings) -> str | None:
    return _alias(connect(s), s.tracking.model_name)


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
        metrics = [Metric(k, float(v), now, int(d)) for d, (_, r) in zip(days, rows.iterrows())
                   for k, v in (("realised_mae", r["mae"]), ("realised_mase", r["mase"])) if np.isfinite(v)]
        client.log_batch(run_id, metrics=metrics)
        n += len(rows)
    return n


def _requirements() -> list[str]:
    from importlib.metadata import version

    pins = []
    for pkg in ("torch", "safetensors", "numpy", "pandas", "mlflow", "statsforecast"):
        pins.append(f"{pkg}=={version(pkg).split('+')[0]}")
    return pins
