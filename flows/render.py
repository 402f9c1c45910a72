"""The one place stage results become text: the command line's summaries and the Prefect artifacts.

Nothing is imported at module level beyond the standard library: the command line and the DDP
launcher import this module before the environment is quieted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tasks.forecast.stage import ForecastResult, ScoreSummary
    from tasks.ingest.stage import IngestSummary
    from tasks.train.summary import TrainSummary


class Stages(Protocol):
    """A pipeline run's results (:class:`flows.pipeline.PipelineResult`)."""

    @property
    def ingest(self) -> IngestSummary: ...

    @property
    def train(self) -> TrainSummary: ...

    @property
    def forecast(self) -> ForecastResult: ...


def _labels() -> dict[str, str]:
    from tasks.train.comparators import LABELS

    return LABELS


def _per_model(counts: dict[str, int]) -> str:
    labels = _labels()
    return ", ".join(f"{labels.get(k, k)} {v}" for k, v in counts.items())


# --- the command line


def ingest_text(r: IngestSummary) -> str:
    lines = [
        f"ingest: {r.files_ingested} file(s) ingested, {r.files_rejected} rejected; "
        f"{r.rows_accepted} rows accepted, {r.rows_rejected} rows quarantined; "
        f"curated {r.curated_rows} rows in {r.curated_parts} file(s), version {r.curated_version}, "
        f"at {r.curated_path}"
    ]
    lines += [f"  rejected {f['file']}: {f['reason']}" for f in r.files if f["status"] == "rejected"]
    return "\n".join(lines)


def train_text(r: TrainSummary) -> str:
    m = r.metrics
    coverage = "".join(
        _interval_line(m, p, f"  {who} interval coverage: ", "{lv} % -> {v:.0%}", " of {n:,.0f} test points\n")
        + _quantile_line(m, f"  {who} quantile coverage (share of actuals at or below): ", "{:.0%}", "\n", p)
        for who, p in (("LSTM", ""), ("served", "selected_"))
    )
    lstm = (
        f"LSTM {r.epochs} epochs (best {r.best_epoch}) on {r.device}, {r.windows_per_s:,.0f} windows/s; "
        f"served weights refit on every point to {r.train_end} ({r.refit_epochs} epochs)"
        if r.epochs
        else "no series long enough for the LSTM"
    )
    outliers = _outliers_line(m, "  ", "\n")
    return (
        f"train: {r.series} series; {lstm}\n{_features_line(r.features)}"
        f"  backtest: {r.backtest_windows} test window(s), {m['points']:,.0f} (series, cutoff) pairs, "
        f"every model on the same points\n{outliers}{metrics_table(m, r.models)}\n"
        f"  served model per series (chosen on validation): {_per_model(r.series_per_model)}\n{coverage}"
        f"  registered model version {r.model_version} (MLflow run {r.mlflow_run_id})\n"
        f"  gate: {r.gate}; champion is v{r.champion_version}"
    )


def _outliers_line(m: dict[str, float], indent: str, end: str) -> str:
    n = int(m.get("outliers_replaced", 0))
    return (
        f"{indent}outliers: {n:,} point(s) far from their neighbours replaced by a robust fit in the histories "
        f"AutoETS, AutoTheta and AutoARIMA are fitted on (the data and the LSTM's inputs unchanged){end}"
        if n
        else ""
    )


def _features_line(f: dict) -> str:
    """The covariates the network reads, by kind: "  covariates: past temp; future promo; calendar daily"."""
    kinds = [(k, ", ".join(f.get(k) or [])) for k in ("past", "static", "future")]
    kinds += [(k, f[k]) for k in ("calendar", "holidays") if f.get(k)]
    read = [f"{k} {v}" for k, v in kinds if v]
    return f"  covariates: {'; '.join(read)}\n" if read else ""


def forecast_text(r: ForecastResult) -> str:
    why = r.skipped_reasons
    skipped = (
        f"\n  skipped {len(r.skipped_series)} series: "
        + ", ".join(f"{i} ({why.get(i, '?')})" for i in r.skipped_series[:5])
        if r.skipped_series
        else ""
    )
    return (
        f"forecast: {r.rows} rows for {r.series} series ({_per_model(r.series_per_model)}), cutoff {r.cutoff}, "
        f"model v{r.model_version} ({r.shards} shard(s) under {r.task_runner})\n"
        f"  written to {r.path}{skipped}{_future_text(r.future_input)}"
    )


def _future_text(f) -> str:
    """What --future-input gave: rows stored, rows kept out by reason (first lines), unseen series."""
    if f is None:
        return ""
    out = f"\n  future values: {f.rows} rows for {f.series} series stored from {f.path} ({', '.join(f.columns)})"
    for reason, lines in f.rejected.items():
        out += f"\n    kept out ({reason}): " + "; ".join(lines[:3])
    if f.unknown_series:
        out += f"\n    series the model has not seen: {', '.join(f.unknown_series[:5])}"
    return out


def pipeline_text(r: Stages) -> str:
    return "\n".join([ingest_text(r.ingest), train_text(r.train), forecast_text(r.forecast)])


def metrics_table(m: dict[str, float], models: list[str], markdown: bool = False) -> str:
    """The test metrics of every model compared (and the served forecasts) as a text or markdown table."""
    labels = _labels()
    cols = [*models, "selected"]
    names = [labels.get(c, c) for c in cols]
    keys = ("mae", "rmse", "mape", "smape", "mase")
    if markdown:
        head = "| test windows | " + " | ".join(names) + " |\n|---|" + "---|" * len(cols)
        return (
            head
            + "\n"
            + "\n".join(
                f"| {k} | " + " | ".join(f"{m.get(f'{c}_{k}', float('nan')):.4g}" for c in cols) + " |" for k in keys
            )
        )
    width = max(12, *(len(n) + 2 for n in names))
    head = f"  {'':6s}" + "".join(f"{n:>{width}}" for n in names)
    return (
        head
        + "\n"
        + "\n".join(
            f"  {k.upper():6s}" + "".join(_cell(m.get(f"{c}_{k}", float("nan")), width) for c in cols) for k in keys
        )
    )


def _cell(v: float, width: int) -> str:
    """A number right-aligned in ``width`` characters with a space before it: 4 decimals, or 4
    significant digits where that would not fit (a series in the billions)."""
    text = f"{v:.4f}"
    return f"{text if len(text) < width else f'{v:.4g}':>{width}}"


# --- Prefect artifacts (tables stay lists of plain dicts)


def ingest_table(r: IngestSummary) -> list[dict]:
    """The ``ingest-files`` table artifact: one row per file seen."""
    return list(r.files)


def scores_table(r: ScoreSummary) -> list[dict]:
    """The ``forecast-scores`` table artifact: realised accuracy per cutoff and model version."""
    return list(r.scores)


def train_markdown(model_name: str, r: TrainSummary) -> str:
    """The ``train-summary`` markdown artifact."""
    m = r.metrics
    coverage = "".join(
        _interval_line(
            m, p, f"{who}, empirical coverage on the test windows: ", "{lv} %: {v:.1%}", ", of {n:,.0f} points.\n\n"
        )
        + _quantile_line(m, f"{what} (share of test actuals at or below each quantile): ", "{:.1%}", ".\n\n", p)
        for who, what, p in (
            ("LSTM conformal intervals", "LSTM quantile coverage", ""),
            ("Served intervals (each series' model)", "Served quantile coverage", "selected_"),
        )
    )
    outliers = _outliers_line(m, "", "\n\n")
    return (
        f"# {model_name} v{r.model_version}\n\n**Gate:** {r.gate}\n\n"
        f"MLflow run `{r.mlflow_run_id}`, {r.series} series, {r.backtest_windows} test window(s) over "
        f"{m['points']:,.0f} (series, cutoff) pairs; LSTM {r.epochs} epochs on {r.device}, served weights "
        f"refit on every point up to {r.train_end} ({r.refit_epochs} epochs).\n\n"
        f"{outliers}{metrics_table(m, r.models, markdown=True)}\n\n"
        f"Served model per series (chosen on the validation windows): {_per_model(r.series_per_model)}.\n\n"
        f"{coverage}Forecast vs actual (best and worst series): "
        f"`{r.plot_uri}`; per-series table: `{r.table_uri}`.\n"
    )


def forecast_markdown(model_name: str, r: ForecastResult) -> str:
    """The ``forecast-summary`` markdown artifact."""
    return (
        f"# Forecasts {r.cutoff}\n\n{r.rows} rows, {r.series} series, "
        f"model `{model_name}` v{r.model_version} "
        f"(MLflow run `{r.mlflow_run_id}`)\n\nWritten to `{r.path}`\n"
        + (
            f"\nSkipped {len(r.skipped_series)} series: "
            + "; ".join(f"`{i}` {r.skipped_reasons.get(i, '')}" for i in r.skipped_series[:10])
            + "\n"
            if r.skipped_series
            else ""
        )
        + (_future_text(r.future_input).replace("\n  ", "\n\n") + "\n" if r.future_input else "")
    )


def _covered(m: dict[str, float], prefix: str = "") -> list[int]:
    """The interval levels whose coverage the metrics carry (``prefix``: "" the LSTM's, "selected_"
    the served forecasts'), in increasing order."""
    head = f"{prefix}coverage_"
    return sorted(int(k.removeprefix(head)) for k in m if k.startswith(head) and k.removeprefix(head).isdigit())


def _interval_line(m: dict[str, float], prefix: str, head: str, item: str, tail: str) -> str:
    """The intervals' coverage (``prefix``: "" the LSTM's, "selected_" the served forecasts'), each
    level as ``item`` ({lv}, {v}) after ``head``, then ``tail`` ({n}: the points); "" without any."""
    levels = _covered(m, prefix)
    if not levels:
        return ""
    items = ", ".join(item.format(lv=lv, v=m[f"{prefix}coverage_{lv}"]) for lv in levels)
    return head + items + tail.format(n=m[f"{prefix}coverage_points"])


def _quantile_line(m: dict[str, float], head: str, fmt: str, end: str, prefix: str = "") -> str:
    """The quantiles' coverage, when the model has quantiles: "q10 11%, q50 48%, q90 88%"."""
    start = f"{prefix}quantile_coverage_q"
    keys = sorted((k for k in m if k.startswith(start)), key=lambda k: float(k.rsplit("q", 1)[1]))
    return head + ", ".join(f"{k.rsplit('_', 1)[1]} {fmt.format(m[k])}" for k in keys) + end if keys else ""
