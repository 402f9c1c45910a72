"""The task runner named in the settings applies wherever a flow runs: the CLI (tests/integration/
test_scale.py), a served deployment and a work-pool worker, which both load the flow afresh from its
entrypoint in a new process and call it with nothing but its parameters and their environment."""

from __future__ import annotations

import pytest

from flows.common import SettingsTaskRunner, runner_name
from flows.serve import SCHEDULES, YAML, prefect_yaml, runner_environment
from tasks.adapters.curated import Curated
from tasks.adapters.storage import Storage
from tests.conftest import ROOT, make_long_csv

FANNED_OUT = ("ingest", "forecast")  # the flows whose tasks run under the configured runner


def test_the_flows_a_worker_loads_carry_the_runner_of_their_environment(monkeypatch):
    from prefect.flows import load_flow_from_entrypoint

    loaded = {s.flow: load_flow_from_entrypoint(s.entrypoint) for s in SCHEDULES}  # as a worker loads them
    for name in FANNED_OUT:
        runner = loaded[name].task_runner
        assert isinstance(runner, SettingsTaskRunner)
        with runner.duplicate() as started:  # what the engine does when a run starts
            assert runner_name(started) == "ThreadPoolTaskRunner"
    monkeypatch.setenv("LSTMF_SCALE__RUNNER", "dask")
    monkeypatch.setenv("LSTMF_SCALE__DASK_WORKERS", "1")
    with loaded["forecast"].task_runner.duplicate() as started:
        assert runner_name(started) == "DaskTaskRunner"


def test_serve_hands_its_runner_settings_to_the_runs_it_starts():
    env = runner_environment(
        {
            "scale.runner": "dask",
            "scale.runner_address": "tcp://10.0.0.1:8786",
            "data.horizon": 6,
            "scale.dask_workers": None,
        }
    )
    assert env == {"LSTMF_SCALE__RUNNER": "dask", "LSTMF_SCALE__RUNNER_ADDRESS": "tcp://10.0.0.1:8786"}


def test_prefect_yaml_is_the_schedule_table():
    assert YAML.read_text() == prefect_yaml()
    for s in SCHEDULES:
        assert f"entrypoint: {s.entrypoint}" in YAML.read_text() and (ROOT / s.entrypoint.split(":")[0]).is_file()


@pytest.mark.e2e
def test_a_flow_called_as_deployed_runs_its_tasks_on_the_configured_cluster(tmp_path, monkeypatch, prefect_api):
    from distributed import LocalCluster

    from flows.ingest import ingest_flow

    make_long_csv(tmp_path / "a.csv", n_series=5)
    make_long_csv(tmp_path / "b.csv", n_series=5, seed=1)
    storage = tmp_path / "st"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        start = cluster.scheduler.transition_counter
        ingest_flow(input=str(tmp_path / "a.csv"), storage=str(storage))  # no runner in the environment
        assert cluster.scheduler.transition_counter == start  # this cluster saw nothing: the check can fail
        monkeypatch.setenv("LSTMF_SCALE__RUNNER", "dask")
        monkeypatch.setenv("LSTMF_SCALE__RUNNER_ADDRESS", cluster.scheduler_address)
        ingest_flow(input=str(tmp_path / "b.csv"), storage=str(storage))  # the flow object, as a worker calls it
        assert cluster.scheduler.transition_counter > start  # its file tasks ran on the cluster
    assert Curated(Storage(str(storage))).read()["unique_id"].nunique() == 5  # b's ids are a's: one set of 5


def test_serve_takes_the_runner_flags_and_passes_them_on():
    from flows.cli import build_parser

    args = vars(build_parser().parse_args(["serve", "--storage", "st", "--runner", "dask", "--dask-workers", "3"]))
    overrides = {k: v for k, v in args.items() if v is not None and k != "command"}
    assert runner_environment(overrides) == {"LSTMF_SCALE__RUNNER": "dask", "LSTMF_SCALE__DASK_WORKERS": "3"}
