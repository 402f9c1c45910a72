"""End to end at scale: ingest -> train (a few sampled epochs) -> forecast, wall time and peak RSS per stage.

    .venv/bin/python bench/scale.py                              # 100 k series x 200 steps
    .venv/bin/python bench/scale.py --series 1000000 --nproc 4   # a GPU machine: 1 M series, DDP on 4 GPUs
    .venv/bin/python bench/scale.py --series 2000 --keep         # a quick run; keep the storage to look at

Each stage is the real command (``lstm-forecast ingest|train|forecast``) in its own process against
one real ``prefect server`` started for the run (so no stage pays for an ephemeral API); the peak
RSS is that process's own (``wait4``), the wall time is the process's, and the flow's own run
time is read back from the Prefect API (the process also spends 3-5 s importing torch, prefect
and mlflow). MLflow is the storage's sqlite file.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_csv(path: Path, n_series: int, n_steps: int, seed: int = 0) -> int:
    """A long CSV (series_id, timestamp, value) of daily series: level, weekly season, trend, noise."""
    rng = np.random.default_rng(seed)
    stamps = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-01") + n_steps).astype(str)
    with pacsv.CSVWriter(
        str(path), pa.schema([("series_id", pa.string()), ("timestamp", pa.string()), ("value", pa.float64())])
    ) as w:
        for lo in range(0, n_series, 20_000):  # bounded memory while writing
            k = min(20_000, n_series - lo)
            t = np.arange(n_steps)[None, :]
            level = rng.uniform(20, 500, (k, 1))
            y = (
                level * (1 + 0.002 * t * rng.uniform(-1, 1, (k, 1)) + 0.2 * np.sin(2 * np.pi * t / 7))
                + rng.normal(0, 0.05, (k, n_steps)) * level
            )
            ids = np.repeat(np.char.add("s", np.arange(lo, lo + k).astype(str)), n_steps)
            w.write_table(
                pa.table({"series_id": ids, "timestamp": np.tile(stamps, k), "value": np.round(y, 3).reshape(-1)})
            )
    return n_series * n_steps


def run_stage(args: list[str], env: dict) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of ``lstm-forecast ARGS`` in its own process."""
    t0 = time.perf_counter()
    out = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    out.seek(0)
    text = out.read().decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"stage {args[0]} failed:\n{text[-4000:]}")
    return seconds, usage.ru_maxrss / 1024, text


def _post(url: str, body: dict) -> list[dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def last_flow_seconds(api: str, name: str) -> tuple[float, str]:
    """Run time of the newest flow run named ``name`` and its slowest tasks (from the Prefect API)."""
    runs = _post(
        f"{api}/flow_runs/filter", {"sort": "START_TIME_DESC", "limit": 1, "flows": {"name": {"any_": [name]}}}
    )
    if not runs:
        return float("nan"), ""
    tasks = _post(f"{api}/task_runs/filter", {"flow_runs": {"id": {"any_": [runs[0]["id"]]}}, "limit": 200})
    per_name: dict[str, list[float]] = {}
    for t in tasks:
        per_name.setdefault(t["name"].rsplit("-", 1)[0], []).append(float(t["total_run_time"]))
    top = sorted(per_name.items(), key=lambda kv: -sum(kv[1]))[:3]
    return float(runs[0]["total_run_time"]), ", ".join(f"{k} {len(v)}x {sum(v):.1f} s" for k, v in top)


def main(argv: list[str] | None = None) -> None:
    from tasks.adapters.servers import free_port, start_servers, stop_servers, wait_healthy
    from tasks.adapters.settings import load_settings, quiet_environment

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--windows-per-epoch", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--nproc", type=int, default=1, help="data-parallel training processes (torchrun)")
    ap.add_argument("--runner", default="default", choices=["default", "dask", "ray"])
    ap.add_argument("--keep", action="store_true", help="keep the storage folder")
    ap.add_argument("--save", action="store_true", help="also write bench/results/scale-<date>.txt")
    a = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="lstmf-scale-"))
    storage, csv = work / "storage", work / "raw" / "series.csv"
    csv.parent.mkdir(parents=True)
    t0 = time.perf_counter()
    rows = write_csv(csv, a.series, a.steps)
    print(
        f"{rows:,} rows ({a.series:,} series x {a.steps} steps), {csv.stat().st_size / 2**20:,.0f} MB CSV "
        f"written in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )

    port = free_port()
    s = load_settings({"storage.root": str(work / "prefect"), "server.prefect_port": port})
    servers = start_servers(s, work / "logs", names=("prefect",))
    api = f"http://127.0.0.1:{port}/api"
    env = quiet_environment({**os.environ, "PREFECT_API_URL": api, "PYTHONUNBUFFERED": "1"})
    env.pop("MLFLOW_TRACKING_URI", None)
    common = ["--storage", str(storage)]
    stages = {
        "ingest": (["ingest", "--input", str(csv), "--runner", a.runner], "ingest"),
        "train": (
            [
                "train",
                "--horizon",
                "7",
                "--input-size",
                "14",
                "--epochs",
                str(a.epochs),
                "--max-windows-per-epoch",
                str(a.windows_per_epoch),
                "--batch-size",
                str(a.batch),
                "--nproc",
                str(a.nproc),
                "--no-progress",
            ],
            "train",
        ),
        # the latest version, whatever the gate decided: the benchmark measures the machinery, not accuracy
        "forecast": (["forecast", "--runner", a.runner, "--serve-alias", "challenger"], "forecast"),
    }
    lines = []
    try:
        wait_healthy(servers)
        for stage, (args, flow) in stages.items():
            wall, rss, text = run_stage([*args, *common], env)
            flow_s, slowest = last_flow_seconds(api, flow)
            summary = next((ln for ln in text.splitlines() if ln.startswith(f"{stage}:")), "")
            lines.append(f"{stage:<9}{wall:>9.1f}{flow_s:>10.1f}{rss:>14,.0f}   {summary[:110]}")
            lines.append(f"{'':<42}   tasks (summed): {slowest}")
            print("\n".join(lines[-2:]), flush=True)
    finally:
        stop_servers(servers)
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    head = [
        f"bench/scale.py, {date.today().isoformat()}, {os.cpu_count()} cores, {a.series:,} series x {a.steps} "
        f"steps, runner {a.runner}, train {a.epochs} epochs x {a.windows_per_epoch:,} windows, nproc {a.nproc}",
        f"{'stage':<9}{'wall s':>9}{'flow s':>10}{'peak RSS MB':>14}   summary",
    ]
    print("\n".join(head + lines))
    if a.keep:
        print(f"storage kept at {storage}")
    if a.save:
        (ROOT / "bench" / "results").mkdir(exist_ok=True)
        (ROOT / "bench" / "results" / f"scale-{date.today().isoformat()}.txt").write_text(
            "\n".join(head + lines) + "\n"
        )


if __name__ == "__main__":
    main()
