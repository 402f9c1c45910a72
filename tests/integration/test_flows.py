"""The flows under a real ephemeral Prefect API with a real sqlite MLflow store and real Parquet."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import forecasts_table

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_pipeline_on_air_passengers(tmp_path, air_csv):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    from flows.pipeline import pipeline_flow

    storage = tmp_path / "storage"
    result = pipeline_flow(input=str(air_csv), storage=str(storage))

    assert result.ingest.rows_accepted == 144
    assert result.train.metrics["lstm_mase"] < 1.0
    assert result.train.promoted
    assert result.train.train_end == "1960-12-01 00:00:00"  # the served weights saw every month
    fc = forecasts_table(storage)
    assert len(fc) == 12
    assert fc["model"].nunique() == 1 and fc["model"].iloc[0] in result.train.models
    assert list(fc["ds"].dt.strftime("%Y-%m-%d")) == [f"1961-{m:02d}-01" for m in range(1, 13)]
    lineage = {"cutoff", "model_name", "model_version", "mlflow_run_id", "flow_run_id", "created_at"}
    assert lineage <= set(fc.columns)
    assert (fc["model_version"] == result.train.model_version).all()
    assert fc["flow_run_id"].str.len().gt(0).all()
    assert (fc["cutoff"] == pd.Timestamp("1960-12-01")).all()

    async def count_runs():
        async with get_client() as client:
            runs = await client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["pipeline"])))
            return [r.state.type.value for r in runs]

    import asyncio

    assert "COMPLETED" in asyncio.run(count_runs())

    # re-running: same file adds nothing, the partition is replaced (still 12 rows)
    again = pipeline_flow(input=str(air_csv), storage=str(storage))
    assert again.ingest.files_ingested == 0 and again.ingest.curated_rows == 144
    assert len(forecasts_table(storage)) == 12
    from deltalake import DeltaTable

    table = DeltaTable(str(storage / "forecasts"))
    assert len(table.file_uris()) == 1 and table.version() == 1  # one commit per run, the partition replaced whole
    assert len(DeltaTable(str(storage / "forecasts"), version=0).to_pandas()) == 12  # the first run, kept


def test_bad_file_does_not_stop_good_ones(tmp_path, air_csv):
    from flows.ingest import ingest_flow

    (air_csv.parent / "broken.csv").write_bytes(b"")
    (air_csv.parent / "odd.csv").write_text("when,a_label,b_label\nx,1,2\n")
    before = {p: p.read_bytes() for p in air_csv.parent.iterdir()}
    summary = ingest_flow(input=str(air_csv.parent), storage=str(tmp_path / "s"))
    status = {f["file"].rsplit("/", 1)[-1]: f for f in summary.files}
    assert status["AirPassengers.csv"]["status"] == "ingested"
    assert status["broken.csv"]["status"] == "rejected" and "empty_file" in status["broken.csv"]["reason"]
    assert status["odd.csv"]["status"] == "rejected"
    assert summary.curated_rows == 144
    assert len(list((tmp_path / "s" / "quarantine").glob("*.json"))) == 2
    assert {p: p.read_bytes() for p in air_csv.parent.iterdir()} == before  # inputs untouched


def test_forecast_without_champion_writes_nothing(tmp_path, air_csv):
    from flows.forecast import forecast_flow
    from flows.ingest import ingest_flow

    storage = tmp_path / "s"
    ingest_flow(input=str(air_csv), storage=str(storage))
    with pytest.raises(Exception, match="champion"):
        forecast_flow(storage=str(storage))
    assert not (storage / "forecasts").exists()


def test_a_first_training_whose_lstm_loses_still_serves_every_series(tmp_path, long_csv):
    """One epoch at a tiny learning rate: the LSTM loses everywhere, the comparators serve, and the
    scheduled forecast has a champion to load."""
    from flows.forecast import forecast_flow
    from flows.pipeline import pipeline_flow

    storage = tmp_path / "storage"
    over = {
        "training.epochs": 1,
        "training.lr": 1e-6,
        "model.level_norm": False,
        "data.horizon": 6,
        "data.comparators": "auto_ets,seasonal_naive,naive",
    }
    result = pipeline_flow(input=str(long_csv), storage=str(storage), overrides=over)
    train = result.train
    assert train.promoted and train.champion_version == train.model_version
    assert "lstm" not in train.series_per_model
    fc = forecasts_table(storage)
    assert fc["unique_id"].nunique() == 20 and (fc["model"] != "lstm").all()
    assert set(fc["model"]) <= {"auto_ets", "seasonal_naive", "naive", "ensemble"}
    again = forecast_flow(storage=str(storage), overrides=over)
    assert again.series == 20 and again.series_per_model
