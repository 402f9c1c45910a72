"""The forecast summaries (CLI text and Prefect artifact) say what was skipped and what a
future-values file gave."""

from __future__ import annotations

from flows.render import forecast_markdown, forecast_text
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
