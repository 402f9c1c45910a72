"""Writers at once on one storage: ingest processes (different files, overlapping keys, the same
file twice) and a forecast, five times over; then two champion gates at once."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable

from tasks.adapters.curated import read_curated
from tasks.adapters.settings import load_settings
from tasks.adapters.storage import Storage
from tasks.forecast.stage import load_history
from tasks.ingest.stage import ingest_files
from tasks.train.register import log_and_register
from tasks.train.stage import train_stage
from tests.conftest import ROOT, forecasts_table

pytestmark = pytest.mark.e2e

INGEST = (
    "import sys, json; from tasks.ingest.stage import ingest_files; from tasks.adapters.settings import IngestSettings;"
    "from tasks.adapters.storage import Storage;"
    "s = ingest_files(sys.argv[1], Storage(sys.argv[2]), IngestSettings());"
    "print(json.dumps([f['status'] for f in s.files]))"
)
FORECAST = (
    "import sys, json; from tasks.forecast.stage import forecast_stage, load_history;"
    "from tasks.adapters.settings import load_settings;"
    "s = load_settings({'storage.root': sys.argv[1], 'data.horizon': 6});"
    "r = forecast_stage(s, load_history(s)); print(json.dumps([r.curated_version, r.rows, r.skipped_reasons]))"
)


def monthly(uid: str, start: str, n: int, level: float) -> pd.DataFrame:
    ds = pd.date_range(start, periods=n, freq="MS")
    return pd.DataFrame(
        {
            "unique_id": uid,
            "ds": ds.strftime("%Y-%m-%d"),
            "y": level + 10 * np.sin(np.arange(n) * np.pi / 6) + np.arange(n) % 5,
        }
    )


def test_four_ingests_and_a_forecast_at_once_lose_nothing(tmp_path):
    root = tmp_path / "storage"
    s = load_settings({"storage.root": str(root), "data.horizon": 6, "training.epochs": 20})
    base = pd.concat([monthly(f"s{i}", "2015-01-01", 60, 100 + i) for i in range(8)])
    base.to_csv(tmp_path / "base.csv", index=False)
    ingest_files(str(tmp_path / "base.csv"), Storage(s.storage.root), s.ingest)
    assert log_and_register(s, train_stage(load_history(s), s), b"", None).promoted
    expected = base.assign(ds=pd.to_datetime(base["ds"]))
    for rep in range(5):
        start = pd.Timestamp("2020-01-01") + pd.DateOffset(months=2 * rep)
        new = [monthly(f"s{i}", str(start.date()), 2, 200 + rep) for i in range(8)]
        files = []
        for k, rows in enumerate(
            [
                pd.concat(new[:3]),
                pd.concat(new[3:6]),
                pd.concat(new[5:8]),  # s5 in two files
                pd.concat(new[6:8]),
            ]
        ):  # s6, s7 in two files, the same values
            files.append(tmp_path / f"r{rep}-{k}.csv")
            rows.to_csv(files[-1], index=False)
        files.append(files[0])  # and one file ingested by two processes at once
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", INGEST, str(f), str(root)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for f in files
        ]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", FORECAST, str(root)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        outs = [p.communicate(timeout=300) for p in procs]
        assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outs]
        statuses = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs[:-1]]
        assert sorted(st for (st,) in (statuses[0], statuses[-1])) == ["ingested", "unchanged"]  # the shared file
        version, rows, skipped = json.loads(outs[-1][0].strip().splitlines()[-1])
        assert rows == 8 * 6 and version is not None, (version, rows, skipped)

        expected = pd.concat([expected, *(n.assign(ds=pd.to_datetime(n["ds"])) for n in new)])
        got = read_curated(str(root))
        assert len(got) == len(expected) and not got.duplicated(["unique_id", "ds"]).any()
        want = expected.sort_values(["unique_id", "ds"], ignore_index=True)
        np.testing.assert_allclose(got["y"].to_numpy(), want["y"].to_numpy())
        # every file of the current version is there: no writer deleted another's file
        table = DeltaTable(str(root / "curated"))
        assert table.to_pyarrow_table().num_rows == len(expected)
        fc = forecasts_table(root)
        assert (fc["curated_version"] <= table.version()).all()  # the version the forecast read
