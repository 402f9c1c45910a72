"""Register a trained model: one MLflow run with everything it was trained on and scored with, a
registered version, and the gate that moves the champion alias only when the new version beats it."""

from __future__ import annotations

import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from lstm_model.backtest import forecast_columns
from lstm_model.bundle import CONFIG_FILE, WEIGHTS_FILE, ModelBundle
from tasks.adapters.locks import hold
from tasks.adapters.settings import Settings
from tasks.adapters.storage import Storage
from tasks.adapters.tracking import (
    CHALLENGER,
    CHAMPION,
    EPOCH_METRICS,
    GATE_LOCK,
    alias_version,
    connect,
    experiment_id,
    load_bundle,
    log_lineage,
    log_model,
)
from tasks.series.features import FeatureSpec
from tasks.series.frequency import seasons
from tasks.train.comparators import COMPARATORS, LABELS
from tasks.train.evaluate import rescore


@dataclass
class Registration:
    run_id: str
    version: str
    promoted: bool
    reason: str
    champion_version: str | None
    artifact_uri: str


def log_and_register(
    s: Settings,
    outcome,
    plot_png: bytes | None,
    flow_run_id: str | None,
    trials: list | None = None,
    lineage: dict | None = None,
) -> Registration:
    """One MLflow run with params, per-epoch metrics, test metrics, plot, table, the model and the
    curated table version it trained on (``lineage``: curated_uri, curated_version); a registered
    version; the champion alias moved only when the gate passes, one gate at a time across processes
    and machines (:func:`tasks.adapters.locks.hold` on the storage)."""
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
        hist = [
            Metric(k, float(r[k]), now, r["epoch"])
            for r in (outcome.result.history if outcome.result else [])
            for k in EPOCH_METRICS
            if r.get(k) is not None
        ]
        for i in range(0, len(hist), 1000):
            client.log_batch(rid, metrics=hist[i : i + 1000])
        res, served = outcome.result, outcome.served
        training = (
            {}
            if res is None
            else {
                "windows_per_s": res.windows_per_s,
                "train_seconds": res.seconds,
                "best_epoch": res.best_epoch,
                "best_val_loss": res.best_val_loss,
                "n_train_windows": res.n_train_windows,
                "gpu_mem_peak_mb": res.peak_memory_mb,
                "world_size": res.world_size,
            }
        )
        if served is not None:
            training.update(
                refit_epochs=len(served.history),
                refit_seconds=served.seconds,
                refit_train_windows=served.n_train_windows,
            )
        mlflow.log_metrics(
            {k: v for k, v in {**outcome.metrics, **training, "n_series": len(outcome.ids)}.items() if np.isfinite(v)}
        )
        mlflow.set_tags(
            {
                "device": outcome.bundle.meta.get("device", "cpu"),
                "prefect.flow_run_id": flow_run_id or "",
                "data_fingerprint": outcome.bundle.meta.get("data_fingerprint", ""),
                "train_end": outcome.bundle.meta.get("train_end", ""),
            }
        )
        if lineage and lineage.get("curated_version") is not None:
            log_lineage(lineage["curated_uri"], int(lineage["curated_version"]))
        t = Path(tmp)
        if plot_png is not None:  # None: no backtest window to picture
            (t / "forecast_vs_actual.png").write_bytes(plot_png)
            mlflow.log_artifact(str(t / "forecast_vs_actual.png"))
        outcome.table.to_csv(t / "backtest.csv", index=False)
        mlflow.log_artifact(str(t / "backtest.csv"))
        (t / WEIGHTS_FILE).write_bytes(outcome.bundle.weights_bytes())
        (t / CONFIG_FILE).write_text(outcome.bundle.config_json())
        spec = FeatureSpec.from_dict(outcome.bundle.meta.get("features"))
        inputs = {c: "string" if c in spec.vocab else "double" for c in [*spec.data_columns, *spec.static]}
        info = log_model(t, forecast_columns(outcome.bundle.meta), inputs, bool(spec.future))
        for trial in trials or []:  # the --auto search: one nested run per trial
            with mlflow.start_run(experiment_id=exp, nested=True, run_name=f"trial-{trial.number}"):
                mlflow.log_params({k: str(v) for k, v in trial.params.items()})
                if np.isfinite(trial.val_loss):
                    mlflow.log_metric("val_loss", trial.val_loss)
    mv = mlflow.register_model(info.model_uri, name)
    for k, v in outcome.metrics.items():
        if k.endswith("_mase") or k.startswith(
            ("coverage", "quantile_coverage", "selected_coverage", "selected_quantile", "series_")
        ):
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


def gate(client: MlflowClient, name: str, outcome) -> tuple[bool, str, str | None]:
    """The first version is promoted (it serves every series with the model that earned it, the
    LSTM or a comparator); a later one when its served forecasts beat the current champion's on the
    same test points (the champion re-scored on today's data, not on its old tags). The reason
    names the best comparator beside them."""
    m = outcome.metrics
    new = m["selected_mase"]
    best = min(
        [k for k in outcome.evaluation.models if k in COMPARATORS],
        key=lambda k: m.get(f"{k}_mase", np.inf) if np.isfinite(m.get(f"{k}_mase", np.nan)) else np.inf,
    )
    versus = f"best comparator {LABELS.get(best, best)} {m.get(f'{best}_mase', float('nan')):.4f}"
    champ = alias_version(client, name)
    if champ is None:
        if not np.isfinite(new):
            return True, "promoted: no test point (no series longer than the horizon), no champion yet", None
        return True, f"promoted: served MASE {new:.4f} ({versus}), no champion yet", None
    try:
        bundle = load_bundle(client, name, champ)
    except Exception as exc:  # an unreadable champion must not block a good model
        return True, f"promoted: champion v{champ} could not be loaded ({exc})", champ
    if bundle.network.horizon != outcome.bundle.network.horizon:
        return True, f"promoted: horizon changed ({bundle.network.horizon} -> {outcome.bundle.network.horizon})", champ
    quantiles = (bundle.meta.get("quantiles", []), outcome.bundle.meta.get("quantiles", []))
    if quantiles[0] != quantiles[1]:  # the champion cannot give the forecasts now asked for
        return True, f"promoted: quantiles changed ({quantiles[0]} -> {quantiles[1]})", champ
    if bundle.covariates != outcome.bundle.covariates:
        return True, f"promoted: covariates changed ({bundle.covariates} -> {outcome.bundle.covariates})", champ
    old = champion_mase(bundle, outcome)
    if np.isfinite(new) and not new < old:
        return False, f"kept out: served MASE {new:.4f} does not beat champion v{champ} {old:.4f} ({versus})", champ
    if not np.isfinite(new):
        return False, f"kept out: no test point to compare with champion v{champ}", champ
    return (
        True,
        f"promoted: served MASE {new:.4f} < champion v{champ} {old:.4f} on the same test points ({versus})",
        champ,
    )


def champion_mase(bundle: ModelBundle, outcome) -> float:
    """The champion's served MASE on the new model's test points: its backtested network (trained
    before its own validation part, so out of sample here) where it chose the LSTM, the same
    comparator forecasts as the new model's elsewhere."""
    season = seasons(outcome.prepared.freqs, bundle.meta.get("season_length"))  # (S,) as the champion's training
    return rescore(bundle, outcome.evaluation, outcome.packed, outcome.ids, outcome.split, season)
