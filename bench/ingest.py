"""Ingest benchmark: the project's CSV -> curated Parquet vs bare pyarrow and pandas, same file.

    .venv/bin/python bench/ingest.py                   # 2 M and 10 M rows (100 steps per series)
    .venv/bin/python bench/ingest.py --rows 1000000    # one size

Each contender runs in its own process (so peak RSS is its own) on the same file, one after the
other in this run, and the table prints rows/s, the ratio to bare pyarrow and peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEPS = 100  # points per series: 10 M rows = 100 k series


def make_csv(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    n_series = rows // STEPS
    ids = np.char.add("s", np.char.zfill(np.arange(n_series).astype(str), 6))
    ds = np.datetime64("2020-01-01") + np.arange(STEPS).astype("timedelta64[D]")
    rng = np.random.default_rng(0)
    with pacsv.CSVWriter(path, pa.schema([("series_id", pa.string()), ("timestamp", pa.string()),
                                          ("value", pa.float64())])) as w:
        for lo in range(0, n_series, 10_000):
            k = min(10_000, n_series - lo)
            w.write_table(pa.table({"series_id": np.repeat(ids[lo: lo + k], STEPS),
                                    "timestamp": np.tile(ds.astype(str), k),
                                    "value": rng.normal(100, 10, k * STEPS).round(3)}))


def child(mode: str, csv: str, out: str) -> dict:
    """One contender in this process; imports happen before the clock starts."""
    import pandas as pd
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from tasks.ingest import ingest_files
    from tasks.settings import IngestSettings
    from tasks.storage import Storage

    t0 = time.perf_counter()
    if mode == "project":
        rows = ingest_files(csv, Storage(out), IngestSettings())["rows_accepted"]
    elif mode == "pyarrow":
        t = pacsv.read_csv(csv)
        pq.write_table(t, os.path.join(out, "bare.parquet"))
        rows = t.num_rows
    else:
        df = pd.read_csv(csv, parse_dates=["timestamp"])
        df.to_parquet(os.path.join(out, "pandas.parquet"), index=False)
        rows = len(df)
    seconds = time.perf_counter() - t0
    return {"rows": rows, "seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(mode: str, csv: Path, work: Path) -> dict:
    out = work / f"out-{mode}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, __file__, "--child", mode, str(csv), str(out)], capture_output=True,
                       text=True, env=env, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="*", default=[2_000_000, 10_000_000])
    ap.add_argument("--child", nargs=3, metavar=("MODE", "CSV", "OUT"))
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(*a.child)))
        return
    work = Path(a.workdir or tempfile.mkdtemp(prefix="ingest-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    lines = [f"{'rows':>11} {'file MB':>8} {'contender':>9} {'seconds':>8} {'rows/s':>12} {'vs pyarrow':>10} "
             f"{'peak RSS MB':>11}"]
    try:
        for rows in a.rows:
            csv = work / f"long-{rows}.csv"
            make_csv(csv, rows)
            res = {m: measure(m, csv, work) for m in ("pyarrow", "project", "pandas")}
            base = res["pyarrow"]["rows"] / res["pyarrow"]["seconds"]
            for m, r in res.items():
                rate = r["rows"] / r["seconds"]
                lines.append(f"{rows:>11,} {csv.stat().st_size / 2**20:>8.0f} {m:>9} {r['seconds']:>8.2f} "
                             f"{rate:>12,.0f} {rate / base:>9.2f}x {r['peak_rss_mb']:>11.0f}")
            csv.unlink()
    finally:
        if a.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"cpu cores: {os.cpu_count()}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
