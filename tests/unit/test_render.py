"""The forecast summaries (CLI text and Prefect artifact) say what was skipped and what a
future-values file gave."""

from __future__ import annotations

from flows.render import forecast_markdown, forecast_text, metrics_table
from tasks.forecast.future import FutureSummary
from tasks.forecast.stage import ForecastResult


def result(**kw) -> ForecastResult:
    base = dict(
        path="storage/forecasts/cutoff_date=2024-03-01",
        table_version=3,
        rows=14,
        series=2,
        cutoff="2024-03-01",
        model_version="2",
        mlflow_run_id="abc",
        curated_version=5,
        skipped_series=["s3"],
        skipped_reasons={"s3": "missing or non-finite future values of promo at 2 of 7 steps (first 2024-03-06)"},
        series_per_model={"lstm": 2},
        model_uri_ui=None,
    )
    return ForecastResult(**{**base, **kw})


def test_the_summaries_name_skipped_series_and_the_future_values_kept_out():
    given = FutureSummary("future.csv", 19, 3, ["promo"], {"bad_timestamp": ["line 5: ds 'x'"]}, 2, ["s9"])
    r = result(future_input=given)
    for text in (forecast_text(r), forecast_markdown("lstm-forecaster", r)):
        assert "s3" in text and "promo at 2 of 7 steps" in text
        assert "19 rows for 3 series stored from future.csv (promo)" in text
        assert "kept out (bad_timestamp): line 5: ds 'x'" in text and "s9" in text
    plain = forecast_markdown("lstm-forecaster", result(skipped_series=[], skipped_reasons={}))
    assert "Skipped" not in plain and "future values" not in plain


def test_the_training_summary_names_the_covariates_by_kind():
    from flows.render import _features_line

    f = {"past": ["temp"], "future": ["promo"], "static": ["store_type"], "calendar": "daily", "holidays": "US"}
    assert (
        _features_line(f) == "  covariates: past temp; static store_type; future promo; calendar daily; holidays US\n"
    )
    assert _features_line({}) == "" and _features_line({"past": [], "future": []}) == ""


def test_the_training_summaries_give_the_lstm_and_the_served_coverage():
    from flows.render import train_markdown, train_text
    from tasks.train.summary import TrainSummary

    m = {"points": 4.0, "lstm_mase": 0.9, "selected_mase": 0.8, "coverage_points": 48.0, "coverage_80": 0.75}
    m |= {"coverage_95": 0.9, "quantile_coverage_q10": 0.125, "quantile_coverage_q90": 0.875}
    m |= {"selected_coverage_points": 24.0, "selected_coverage_80": 0.5, "selected_coverage_95": 0.625}
    m |= {"selected_quantile_coverage_q10": 0.25, "selected_quantile_coverage_q90": 0.75}
    r = TrainSummary(
        **dict(mlflow_run_id="run", model_version="3", promoted=True, gate="promoted", champion_version="3"),
        **dict(metrics=m, models=["lstm"], series_per_model={"lstm": 2}, backtest_windows=1, epochs=10),
        **dict(best_epoch=5, refit_epochs=6, train_end="2024-01-01", windows_per_s=1.0, device="cpu", series=2),
        **dict(trials=0, plot_uri="p", table_uri="t"),
    )
    text = train_text(r)
    assert "LSTM interval coverage: 80 % -> 75%, 95 % -> 90% of 48 test points" in text
    assert "LSTM quantile coverage (share of actuals at or below): q10 12%, q90 88%" in text
    assert "served interval coverage: 80 % -> 50%, 95 % -> 62% of 24 test points" in text
    assert "served quantile coverage (share of actuals at or below): q10 25%, q90 75%" in text
    md = train_markdown("lstm-forecaster", r)
    assert "Served intervals (each series' model), empirical coverage on the test windows: 80 %: 50.0%" in md
    assert "Served quantile coverage (share of test actuals at or below each quantile): q10 25.0%, q90 75.0%" in md
    assert "LSTM quantile coverage (share of test actuals at or below each quantile): q10 12.5%" in md


def test_the_metrics_table_keeps_its_columns_apart_for_series_in_the_billions():
    m = {f"{c}_{k}": v for c in ("lstm", "selected") for k, v in (("mae", 8.3e9), ("rmse", 9.6e11), ("mase", 0.72))}
    text = metrics_table(m, ["lstm"])
    rmse = next(line for line in text.splitlines() if line.strip().startswith("RMSE")).split()
    assert rmse == ["RMSE", "9.6e+11", "9.6e+11"]
    mase = next(line for line in text.splitlines() if line.strip().startswith("MASE")).split()
    assert mase == ["MASE", "0.7200", "0.7200"]
