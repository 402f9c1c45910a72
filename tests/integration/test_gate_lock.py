"""The lock on the storage that serialises champion gates: mutual exclusion across processes, a
lapsed lease taken over after kill -9, two gates at once deciding one after the other, and the
curated version each training records (time travel with --as-of-version)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import mlflow
import pytest

from tasks.adapters.curated import Curated
from tasks.adapters.locks import TIDY_EVERY, LockTimeout, history, hold
from tasks.adapters.settings import load_settings
from tasks.adapters.storage import Storage
from tasks.adapters.tracking import GATE_LOCK, connect
from tasks.ingest.stage import ingest_files
from tasks.train.register import log_and_register
from tasks.train.stage import load_curated, train_stage
from tests.conftest import ROOT

COUNT = (
    "import sys, time; from pathlib import Path; from tasks.adapters.locks import hold; from tasks.adapters.storage import Storage\n"
    "f = Path(sys.argv[2])\n"
    "for _ in range(5):\n"
    "    with hold(Storage(sys.argv[1]), 'counter'):\n"
    "        n = int(f.read_text()); time.sleep(0.05); f.write_text(str(n + 1))\n"
)


def test_the_lock_excludes_across_processes(tmp_path):
    counter = tmp_path / "n"
    counter.write_text("0")
    procs = [
        subprocess.Popen([sys.executable, "-c", COUNT, str(tmp_path / "st"), str(counter)], cwd=ROOT) for _ in range(3)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0]
    assert counter.read_text() == "15"  # no read-sleep-write interleaved
    states = history(Storage(str(tmp_path / "st")), "counter")["state"].tolist()
    assert states == ["held", "released"] * 15


def test_a_killed_holders_lease_lapses(tmp_path):
    st = Storage(str(tmp_path / "st"))
    code = (
        "import sys, time; from tasks.adapters.locks import hold; from tasks.adapters.storage import Storage\n"
        "with hold(Storage(sys.argv[1]), 'gate', ttl=2):\n    print('held', flush=True); time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, st.url], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with pytest.raises(LockTimeout, match="is held by"), hold(st, "gate", wait=0.3):
        pass
    t0 = time.monotonic()
    with hold(st, "gate", wait=30):
        assert time.monotonic() - t0 < 10
    assert history(st, "gate")["state"].tolist() == ["held", "held", "released"]  # taken over, released


def test_the_locks_table_stays_small_however_often_a_lock_is_taken(tmp_path):
    st = Storage(str(tmp_path / "st"))
    for _ in range(70):  # 140 commits: two tidies
        with hold(st, "often"):
            pass
    assert history(st, "often")["state"].tolist() == ["held", "released"] * 70
    from deltalake import DeltaTable

    table = DeltaTable(str(tmp_path / "st" / "locks"))
    assert len(table.file_uris()) <= TIDY_EVERY  # what a read opens (replaced files go after the vacuum retention)
    assert (tmp_path / "st" / "locks" / "_delta_log" / "_last_checkpoint").exists()


@pytest.fixture
def trained(tmp_path, air_csv):
    s = load_settings({"storage.root": str(tmp_path / "storage"), "training.epochs": 30})
    ingest_files(str(air_csv), Storage(s.storage.root), s.ingest)
    return s


def test_two_gates_at_once_decide_one_after_the_other(trained):
    s = trained
    history_ = load_curated(s)
    outcomes = [train_stage(history_, s) for _ in range(2)]
    regs, errors = [], []

    def register(outcome):
        try:
            regs.append(log_and_register(s, outcome, b"", None, lineage=history_.attrs))
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(o,)) for o in outcomes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    first, second = sorted(regs, key=lambda r: r.version)[0], sorted(regs, key=lambda r: r.version)[1]
    reasons = [r.reason for r in regs]
    assert sum("no champion yet" in r for r in reasons) == 1  # the other gate saw the first one's champion
    client = connect(s)
    name = s.tracking.model_name
    champion = str(client.get_model_version_by_alias(name, "champion").version)
    assert champion in {first.version, second.version}
    for r in regs:
        tags = client.get_model_version(name, r.version).tags
        assert tags["gate"] == r.reason and tags["curated_version"] == "1"  # both versions tagged
    assert history(Storage(s.storage.root), GATE_LOCK)["state"].tolist() == ["held", "released"] * 2


def test_training_records_and_can_travel_to_a_curated_version(trained, tmp_path):
    s = trained
    cur = Curated(Storage(s.storage.root))
    first = cur.version()
    shorter = cur.read().iloc[:-12]
    assert first == 1
    extra = tmp_path / "fix.csv"  # a later ingest rewrites the last year
    extra.write_text("Month,#Passengers\n" + "".join(f"1960-{m:02d},{500 + m}\n" for m in range(1, 13)))
    ingest_files(str(extra), Storage(s.storage.root), s.ingest.model_copy(update={"id_col": None}))
    assert cur.version() == 2
    old = load_settings({"storage.root": s.storage.root, "training.epochs": 30, "data.as_of_version": str(first)})
    df = load_curated(old)
    assert df.attrs["curated_version"] == first and df["y"].iloc[-1] == 432.0  # not 512: the earlier snapshot
    assert len(df) == len(shorter) + 12
    reg = log_and_register(old, train_stage(df, old), b"", None, lineage=df.attrs)
    run = mlflow.get_run(reg.run_id)
    assert run.data.tags["curated.version"] == "1" and run.data.tags["curated.uri"] == cur.uri
    (inp,) = run.inputs.dataset_inputs
    assert inp.dataset.name == "curated" and '"delta_table_version": 1' in inp.dataset.source
