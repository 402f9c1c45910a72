"""Typed settings: every option has a default, a description, an ``LSTMF_`` environment variable
(nested with ``__``, e.g. ``LSTMF_TRAINING__EPOCHS=50``) and a CLI flag (``--epochs``)."""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tasks.adapters.secrets import redact


def flag(*names: str) -> dict:
    """Marks the CLI flag of a field, then its aliases (used by the CLI to build its options)."""
    return {"flag": list(names)}


class StorageSettings(BaseModel):
    root: str = Field(
        "storage",
        description="Storage root: a local folder or an fsspec URL (s3://...).",
        json_schema_extra=flag("--storage"),
    )
    future_input: str | None = Field(
        None,
        description="CSV, Excel workbook or Parquet of future covariate values (unique_id, ds, <columns>), checked and "
        "merged into storage/future before forecasting; scheduled forecasts read the stored values.",
    )
    static_input: str | None = Field(
        None,
        description="CSV, Excel workbook or Parquet of static covariates (unique_id, <columns>: one row per series), merged "
        "into storage/static before training or forecasting.",
    )


class IngestSettings(BaseModel):
    input: str = Field("data/AirPassengers.csv", description="CSV file, folder or glob to ingest.")
    time_col: str | None = Field(None, description="Timestamp column (inferred when unset).")
    value_col: str | None = Field(None, description="Value column of a single or long file (inferred when unset).")
    id_col: str | None = Field(
        None, description="Series id column of a long file, several joined by commas: store,item (inferred when unset)."
    )
    covariates: str | None = Field(None, description="Comma-separated covariate columns (long files: inferred).")
    dayfirst: bool = Field(False, description="Read 01/02/2020 as 1 February (day first).")
    max_bad_fraction: float = Field(
        0.1, ge=0, le=1, description="Reject a whole file when more than this fraction of its rows is bad."
    )
    duplicates: Literal["keep_last", "reject"] = Field(
        "keep_last", description="Repeated (series, timestamp) rows in a file: keep the last one, or reject the file."
    )
    on_overlap: Literal["replace", "reject"] = Field(
        "replace", description="A file that changes already ingested values: replace them, or reject the file."
    )
    gaps: Literal["leave", "fill"] = Field(
        "leave",
        description="Missing time steps: leave them out, or fill them as explicit NaN rows (never interpolated).",
    )
    allow_schema_change: bool = Field(
        False, description="Accept files whose covariate columns differ from the dataset's."
    )
    block_size_mb: int = Field(16, ge=1, description="CSV block size read at a time (bounds memory per file).")
    compact_min_files: int = Field(
        4,
        ge=2,
        description="Compact the curated table once a partition holds this "
        "many small data files (each ingest adds about one per partition it touches).",
    )
    vacuum_retention_hours: int = Field(
        168,
        ge=1,
        description="After a compaction, curated files that no version younger than this needs are "
        "deleted (time travel reaches back this far; an ingest must commit within it).",
    )


class DataSettings(BaseModel):
    as_of_version: str | None = Field(
        None,
        description="Train on the curated table as it was at this version (a number) or time (ISO "
        "timestamp): time travel, back as far as the vacuum retention.",
        json_schema_extra=flag("--as-of-version"),
    )
    horizon: int = Field(12, ge=1, description="Steps to forecast (and the size of the held-out test part).")
    input_size: int | None = Field(
        None, ge=1, description="Past steps the network sees (default: the larger of the season and the horizon)."
    )
    val_windows: int = Field(
        1,
        ge=1,
        description="Validation windows before the test part: early stopping and the per-series choice of model.",
    )
    n_windows: int = Field(
        3,
        ge=1,
        description="Backtest windows (rolling origins), at most: fewer when the "
        "series are too short to keep a training part of 2 (input_size + horizon) points.",
    )
    step: int | None = Field(None, ge=1, description="Steps between backtest cutoffs (default: horizon).")
    season_length: int | None = Field(
        None, ge=1, description="Season length for seasonal naive / MASE (default: inferred from the frequency)."
    )
    quantiles: str | None = Field(
        None,
        description="Quantile forecasts besides the point forecast, e.g. 0.1,0.5,0.9 (multiples of 0.005 "
        "strictly between 0 and 1): columns y_hat_q10, y_hat_q50, y_hat_q90 (the median is the point forecast, "
        "moved where its model served enough validation points to measure where the actuals sit).",
    )
    freq: str | None = Field(
        None,
        description="Frequency of every series, a pandas alias (MS, QS-JAN, W-SUN, B, D, h, 30min, ...); "
        "default: inferred per series from its own timestamps.",
    )
    transform: Literal["auto", "log", "none"] = Field(
        "auto",
        description="Value transform before scaling, per series; auto = log for the series whose training "
        "values are all positive.",
    )
    nonnegative: bool = Field(
        True,
        description="Floor at zero the forecasts and quantiles of a series with no negative value in its "
        "history (sales, counts, energy: a negative forecast is never closer to a value that stays at or above zero).",
    )
    scaler: Literal["standard", "minmax"] = Field("standard", description="Per-series scaler.")
    covariates: str | None = Field(
        None,
        description="Past-observed covariate columns fed to the network's encoder: comma-separated names, "
        "'all' (every column not declared future-known), or unset for the target only.",
        json_schema_extra=flag("--past-covariates", "--use-covariates"),
    )
    future_covariates: str | None = Field(
        None,
        description="Future-known covariate columns (planned prices, promotions): comma-separated names; "
        "their values for the horizon come from --future-input or the stored future values.",
    )
    static_covariates: str | None = Field(
        None,
        description="Static covariate columns of storage/static (one value per series; text columns are "
        "categorical, through an embedding): comma-separated names.",
    )
    calendar: bool = Field(
        False, description="Add calendar features that fit the frequency (cyclical month, day of week, hour, ...)."
    )
    holidays: str | None = Field(
        None, description="Add the public holidays of this country (ISO code, e.g. US): daily or finer data."
    )
    comparators: str = Field(
        "auto_ets,auto_theta,auto_arima,seasonal_naive,naive",
        description="Statistical comparators (statsforecast) backtested beside the LSTM, each a candidate for the "
        "series it forecasts best on validation: auto_ets, auto_theta, auto_arima, seasonal_naive, naive.",
    )
    ensemble_margin: float = Field(
        0.25,
        ge=0,
        lt=1,
        description="The ensemble serves a series unless another model's validation error is "
        "lower by at least this fraction (0: the lowest error wins outright).",
    )
    ensemble_lstm_share: float | None = Field(
        0.5,
        ge=0,
        le=1,
        description="The LSTM's weight in the ensemble; the fitted comparators share the rest equally "
        "(0.25 with three of them: every member the same; unset in a model trained before this setting). "
        "0 for a training whose evaluated network validated best inside the learning-rate warm-up "
        "(it learnt nothing): the bundle records the share used.",
    )
    max_auto_series: int = Field(
        2000,
        ge=0,
        description="Above this many series only seasonal_naive and naive are compared (the fitted "
        "models cost a fit per series and cutoff).",
    )

    @field_validator("freq")
    @classmethod
    def _known_freq(cls, v: str | None) -> str | None:
        if v:
            import pandas as pd

            try:
                pd.tseries.frequencies.to_offset(v)
            except ValueError as e:
                raise ValueError(f"data.freq {v!r} is not a pandas frequency alias (MS, W-SUN, B, h, ...)") from e
        return v or None

    @field_validator("quantiles")
    @classmethod
    def _valid_quantiles(cls, v: str | None) -> str | None:
        if v:
            parse_quantiles(v)
        return v or None

    def quantile_list(self) -> tuple[float, ...]:
        """The quantiles asked for, sorted (empty: none)."""
        return parse_quantiles(self.quantiles) if self.quantiles else ()


def parse_quantiles(text: str) -> tuple[float, ...]:
    """ "0.1,0.5,0.9" -> (0.1, 0.5, 0.9); each strictly between 0 and 1 and a multiple of 0.005."""
    try:
        qs = sorted({float(x) for x in text.split(",") if x.strip()})
    except ValueError as e:
        raise ValueError(f"data.quantiles {text!r}: comma-separated numbers, e.g. 0.1,0.5,0.9") from e
    bad = [q for q in qs if not 0 < q < 1 or abs(q * 200 - round(q * 200)) > 1e-9]
    if bad or not qs:
        raise ValueError(f"data.quantiles {text!r}: each must lie strictly between 0 and 1, in steps of 0.005")
    return tuple(qs)


class ModelSettings(BaseModel):
    hidden_size: int = Field(64, ge=1, description="LSTM hidden units per layer.")
    num_layers: int = Field(2, ge=1, description="Stacked LSTM layers.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout between LSTM layers.")
    level_norm: bool = Field(True, description="Normalise each window by its last value.")
    window_scale: bool = Field(
        False, description="Also divide each window by its spread (a flat window forecasts its level)."
    )
    deseasonalise: bool | None = Field(
        None,
        description="Remove each series' seasonal indices before the network reads it (classical "
        "decomposition, where the autocorrelation at the season lag is significant); forecasts get them back. "
        "Default: on, unless the network reads future-known covariates (calendar, holidays, planned values), "
        "which carry the season's phase and whose effects would enter the indices, or static covariates, "
        "from which it learns the season of a kind of series (a new series' own indices are noisy).",
    )
    ensemble: int = Field(1, ge=1, description="Networks trained with different seeds; their forecasts are averaged.")


class TrainingSettings(BaseModel):
    epochs: int = Field(300, ge=1, description="Maximum epochs.")
    batch_size: int = Field(1024, ge=1, description="Windows per batch.")
    lr: float = Field(3e-3, gt=0, description="Peak learning rate (warm-up then cosine decay).")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay.")
    weight_ema: float = Field(
        0.995,
        ge=0,
        lt=1,
        description="Decay per optimizer step of an exponential moving average of the weights, which is "
        "then validated and kept (0: the weights themselves).",
    )
    recency_half_life: float = Field(
        4.0,
        ge=0,
        description="Weigh each training window's loss by its age: the weight halves every this many "
        "windows (input_size + horizon steps) back from the newest training target of its series "
        "(0: every window the same).",
    )
    patience: int = Field(
        300,
        ge=1,
        description="Early stopping: epochs without validation improvement (the "
        "default runs the whole schedule; the best validation epoch is restored either way).",
    )
    loss: Literal["mae", "mse", "huber"] = Field("mse", description="Training loss on scaled values.")
    flip_share: float = Field(
        0.0,
        ge=0,
        le=0.5,
        description="Share of the training windows whose target is mirrored about the window's last value "
        "(a rise becomes a fall): the drift the network learns without reading it from the window shrinks "
        "by a factor 1 - 2 x this share (0.5: none). Covariates are not mirrored, so in those windows their "
        "effect on the target is reversed: meant for target-only networks.",
    )
    seed: int = Field(0, description="Random seed (runs are reproducible on CPU).")
    device: str = Field("auto", description="auto (cuda -> mps -> cpu), cpu, cuda, cuda:1, mps.")
    max_windows_per_epoch: int | None = Field(
        None, ge=1, description="Train on this many randomly drawn windows per epoch (default: every window)."
    )
    resume: bool = Field(
        False,
        description="Continue an interrupted training of the same data and settings from its last epoch checkpoint.",
    )
    checkpoint_dir: str | None = Field(
        None,
        description="Local folder for epoch checkpoints (default: <storage>/checkpoints, or a temporary "
        "folder when the storage is remote).",
    )
    progress: bool = Field(True, description="Show a progress bar per epoch on a terminal.")
    auto: bool = Field(
        False,
        description="Search the LSTM recipe first (Optuna, on the validation windows only; "
        "each trial a nested MLflow run), then train with the best one.",
    )
    auto_trials: int = Field(12, ge=1, description="Trials of the --auto search.")
    nproc: int = Field(
        1,
        ge=1,
        description="Data-parallel training processes on this machine (torchrun; NCCL on "
        "GPUs, gloo on CPUs); the batch size stays the global batch.",
    )


class TrackingSettings(BaseModel):
    tracking_uri: str | None = Field(
        None,
        description="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///<storage>/mlflow.db).",
    )
    experiment: str = Field("lstm-forecast", description="MLflow experiment name.")
    model_name: str = Field("lstm-forecaster", description="Registered model name.")
    serve_alias: str = Field(
        "champion",
        description="Registry alias the forecast serves: champion, or challenger "
        "(the latest version, whatever the gate said) for shadow forecasts.",
    )
    serve_model: Literal["selected", "lstm", "ensemble"] = Field(
        "selected",
        description="Forecast each series with the model chosen for it on validation (selected), "
        "with the LSTM wherever it can forecast (lstm), or with the mean of the LSTM and the fitted comparators "
        "(ensemble).",
    )


class MonitorSettings(BaseModel):
    mase_threshold: float = Field(1.0, gt=0, description="Realised MASE above which a cutoff counts as degraded.")
    patience: int = Field(3, ge=1, description="Consecutive degraded cutoffs before a retrain is requested.")


class ScaleSettings(BaseModel):
    runner: Literal["default", "dask", "ray"] = Field(
        "default",
        description="Prefect task runner of the ingest and forecast flows: default (threads in the flow's "
        "process), dask (prefect-dask) or ray (prefect-ray).",
    )
    runner_address: str | None = Field(
        None,
        description="Address of a running Dask scheduler (tcp://host:8786) or Ray cluster (ray://host:10001); "
        "unset: start a local cluster for the flow run.",
    )
    dask_workers: int = Field(2, ge=1, description="Workers of the local Dask cluster (runner dask, no address).")
    dask_processes: bool = Field(
        False,
        description="Local Dask workers as processes (default: threads in one process, which start in "
        "about a second instead of about 15 s on 2 cores).",
    )
    forecast_shards: int | None = Field(
        None,
        ge=1,
        le=256,
        description="Shards of series the forecast fans out to, one task each "
        "(default: one per million curated rows, at most 64).",
    )


class ServerSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the UI servers bind to.")
    prefect_port: int = Field(4200, description="Prefect server port.")
    mlflow_port: int = Field(5000, description="MLflow server port.")


class Settings(BaseSettings):
    """The whole configuration of the pipeline."""

    model_config = SettingsConfigDict(env_prefix="LSTMF_", env_nested_delimiter="__", extra="forbid")

    storage: StorageSettings = StorageSettings()
    ingest: IngestSettings = IngestSettings()
    data: DataSettings = DataSettings()
    model: ModelSettings = ModelSettings()
    training: TrainingSettings = TrainingSettings()
    tracking: TrackingSettings = TrackingSettings()
    monitor: MonitorSettings = MonitorSettings()
    scale: ScaleSettings = ScaleSettings()
    server: ServerSettings = ServerSettings()

    def flat(self) -> dict[str, Any]:
        """``{"training.epochs": 300, ...}``: the whole config, flattened (logged as MLflow params)."""
        return {f"{g}.{k}": v for g, sub in self.model_dump().items() for k, v in sub.items()}

    def public(self) -> dict[str, Any]:
        """:meth:`flat` with credentials masked: what may be shown (MLflow params, the UIs, logs)."""
        return {k: redact(v) if isinstance(v, str) else v for k, v in self.flat().items()}


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Settings from defaults < environment (``LSTMF_...``) < ``overrides`` (dotted keys, e.g.
    ``{"training.epochs": 5}``); None values in overrides are ignored."""
    base = Settings()
    nested: dict[str, dict[str, Any]] = {}
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        group, _, name = key.partition(".")
        if group not in Settings.model_fields or name not in Settings.model_fields[group].annotation.model_fields:
            raise ValueError(f"unknown setting {key!r}")
        nested.setdefault(group, {})[name] = value
    merged = {g: {**getattr(base, g).model_dump(), **nested.get(g, {})} for g in Settings.model_fields}
    return Settings.model_validate(merged)


QUIET_ENV = {  # no telemetry, no network: what every process of the project starts with
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "GIT_PYTHON_REFRESH": "quiet",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # a bar per model load buries the summary
}


def quiet_environment(env: dict[str, str] | None = None) -> dict[str, str]:
    """Set :data:`QUIET_ENV` in ``env`` (default: this process's environment) where not already set."""
    env = os.environ if env is None else env
    for k, v in QUIET_ENV.items():
        env.setdefault(k, v)
    return env
