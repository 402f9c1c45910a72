"""Scaling out on existing engines: shard reads of the curated data (pushdown), the forecast fanned
out under Dask (local cluster and a scheduler address) and Ray, and S3 storage on a real S3 endpoint."""

from __future__ import annotations

import socket
import zlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from tasks.adapters import tables
from tasks.adapters.curated import Curated, bucket_of, shard_range
from tasks.adapters.settings import ScaleSettings, load_settings
from tasks.adapters.storage import Storage
from tasks.ingest.stage import ingest_files
from tests.conftest import forecasts_table, make_long_csv

LINEAGE_PER_RUN = ["created_at", "flow_run_id"]
SMALL = ["--horizon", "6", "--epochs", "20"]  # 20 series, a few seconds of training, promoted


def test_shard_reads_partition_the_series_and_touch_only_their_partitions(tmp_path):
    make_long_csv(tmp_path / "many.csv", n_series=200)
    storage = Storage(str(tmp_path / "st"))
    ingest_files(str(tmp_path / "many.csv"), storage, load_settings().ingest)
    cur = Curated(storage)
    full = cur.read()
    assert list(full.columns) == ["unique_id", "ds", "y"]  # the bucket columns stay inside the table

    n = 4
    shards = [cur.read(shard=(k, n)) for k in range(n)]
    union = pd.concat(shards).sort_values(["unique_id", "ds"], ignore_index=True)
    pd.testing.assert_frame_equal(union, full)
    assert len({i for s in shards for i in s["unique_id"].unique()}) == full["unique_id"].nunique()  # disjoint
    for k, part in enumerate(shards):
        lo, hi = shard_range((k, n))
        assert len(part) > 0
        assert all(lo <= zlib.crc32(i.encode()) % 256 < hi for i in part["unique_id"].unique())
    assert bucket_of(pa.array(["s00", "s01", "s00"])).to_pylist() == [
        zlib.crc32(b"s00") % 256,
        zlib.crc32(b"s01") % 256,
        zlib.crc32(b"s00") % 256,
    ]
    # 32 buckets per partition: shard 1 of 4 (buckets 64-127) lives in partitions 2-3 only. With every
    # other partition's files gone, it still reads whole: it never opens them.
    table = tmp_path / "st" / "curated"
    assert sorted(p.name for p in table.glob("bucket_group=*")) == sorted(f"bucket_group={g}" for g in range(8))
    for g in [0, 1, *range(4, 8)]:
        for f in (table / f"bucket_group={g}").glob("*.parquet"):
            f.unlink()
    pd.testing.assert_frame_equal(cur.read(shard=(1, n)), shards[1])
    with pytest.raises(Exception):  # the full read does need them: the check above can fail
        cur.read()
    # shards that split a partition (n = 16: two per partition) read their own buckets only
    halves = [cur.read(shard=(k, 16)) for k in (4, 5)]  # partition 2
    assert set().union(*(h["unique_id"] for h in halves)) <= set(shards[1]["unique_id"])
    assert not set(halves[0]["unique_id"]) & set(halves[1]["unique_id"])


def test_task_runner_choice():
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from flows.common import task_runner

    assert isinstance(task_runner(ScaleSettings()), ThreadPoolTaskRunner)
    local = task_runner(ScaleSettings(runner="dask", dask_workers=3))
    assert isinstance(local, DaskTaskRunner) and local.cluster_kwargs["n_workers"] == 3
    remote = task_runner(ScaleSettings(runner="dask", runner_address="tcp://127.0.0.1:8786"))
    assert remote.address == "tcp://127.0.0.1:8786"
    try:
        import prefect_ray  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match=r"pip install -e '\.\[ray\]'"):
            task_runner(ScaleSettings(runner="ray"))


def _forecasts(storage: Path) -> pd.DataFrame:
    return forecasts_table(storage).sort_values(["unique_id", "ds"], ignore_index=True).drop(columns=LINEAGE_PER_RUN)


@pytest.fixture(scope="module")
def dask_run(tmp_path_factory, prefect_api) -> tuple[Path, str]:
    """The whole pipeline under a 2-process local Dask cluster, forecast in 4 shards."""
    from flows.cli import main

    tmp = tmp_path_factory.mktemp("dask")
    make_long_csv(tmp / "many.csv")
    storage = tmp / "storage"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(
            [
                "run",
                "--input",
                str(tmp / "many.csv"),
                "--storage",
                str(storage),
                *SMALL,
                "--runner",
                "dask",
                "--dask-workers",
                "2",
                "--dask-processes",
                "--forecast-shards",
                "4",
            ]
        )
    assert rc == 0, out.getvalue()
    return storage, out.getvalue()


@pytest.mark.e2e
def test_forecast_under_dask_equals_the_default_runner(dask_run, capsys):
    from flows.cli import main

    storage, printed = dask_run
    assert "4 shard(s) under DaskTaskRunner" in printed and "promoted" in printed
    under_dask = _forecasts(storage)
    assert len(under_dask) == 20 * 6
    assert main(["forecast", "--storage", str(storage), "--forecast-shards", "4"]) == 0
    assert "4 shard(s) under ThreadPoolTaskRunner" in capsys.readouterr().out
    pd.testing.assert_frame_equal(_forecasts(storage), under_dask)


@pytest.mark.e2e
def test_forecast_on_a_running_dask_scheduler(dask_run, capsys):
    from distributed import LocalCluster

    from flows.cli import main

    storage, _ = dask_run
    expected = _forecasts(storage)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster:
        before = cluster.scheduler.transition_counter
        assert (
            main(
                [
                    "forecast",
                    "--storage",
                    str(storage),
                    "--runner",
                    "dask",
                    "--runner-address",
                    cluster.scheduler_address,
                    "--forecast-shards",
                    "3",
                ]
            )
            == 0
        )
        assert cluster.scheduler.transition_counter > before  # the tasks ran on this cluster
    assert "3 shard(s) under DaskTaskRunner" in capsys.readouterr().out
    pd.testing.assert_frame_equal(_forecasts(storage), expected)


@pytest.mark.e2e
def test_forecast_under_ray_equals_the_default_runner(dask_run, capsys):
    pytest.importorskip("prefect_ray")
    from flows.cli import main

    storage, _ = dask_run
    expected = _forecasts(storage)
    assert main(["forecast", "--storage", str(storage), "--runner", "ray", "--forecast-shards", "4"]) == 0
    assert "4 shard(s) under RayTaskRunner" in capsys.readouterr().out
    pd.testing.assert_frame_equal(_forecasts(storage), expected)


@pytest.fixture
def s3_endpoint(monkeypatch):
    """A real S3 API (moto's server) on a free local port; credentials only from the environment."""
    import s3fs
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
    }.items():
        monkeypatch.setenv(k, v)
    s3fs.S3FileSystem.clear_instance_cache()
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir("lstmf")
    yield fs
    s3fs.S3FileSystem.clear_instance_cache()
    server.stop()


@pytest.mark.e2e
def test_pipeline_on_s3_storage(tmp_path, s3_endpoint, prefect_api, capsys):
    from flows.cli import main
    from tasks.adapters.curated import read_curated

    fs = s3_endpoint
    make_long_csv(tmp_path / "many.csv")
    root = "s3://lstmf/prefix"
    db = tmp_path / "tracking" / "mlflow.db"
    db.parent.mkdir()
    assert (
        main(
            [
                "run",
                "--input",
                str(tmp_path / "many.csv"),
                "--storage",
                root,
                *SMALL,
                "--tracking-uri",
                f"sqlite:///{db}",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "promoted" in printed and f"{root}/forecasts/cutoff_date=" in printed

    keys = fs.find("lstmf/prefix")
    assert "lstmf/prefix/curated/_delta_log/00000000000000000000.json" in keys  # curated: a Delta table
    assert any(k.startswith("lstmf/prefix/curated/bucket_group=") for k in keys)
    assert not [k for k in keys if "/.tmp-" in k]  # every atomic write was completed (copy + delete)
    assert "lstmf/prefix/forecasts/_delta_log/00000000000000000000.json" in keys  # a Delta table, committed
    fc = tables.read(Storage(root), "forecasts")  # delta-rs's own S3 store, the same environment
    assert len(fc) == 20 * 6 and fc["model_version"].eq("1").all()
    assert db.exists() and (db.parent / "mlartifacts").is_dir()  # tracking stays local, artifacts beside it
    full = read_curated(root)
    halves = [read_curated(root, shard=(k, 2)) for k in range(2)]
    pd.testing.assert_frame_equal(pd.concat(halves).sort_values(["unique_id", "ds"], ignore_index=True), full)
