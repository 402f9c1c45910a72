"""Ingest benchmark: the project's CSV -> curated Parquet vs bare pyarrow and pandas, same file.

    .venv/bin/python bench/ingest.py                   # 2 M and 10 M rows (100 steps per series)
    .venv/bin/python bench/ingest.py --rows 1000000    # one size
    .venv/bin/python bench/ingest.py --growth 10 100 1000   # cost of one more daily file after N ingests

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
    with pacsv.CSVWriter(
        path, pa.schema([("series_id", pa.string()), ("timestamp", pa.string()), ("value", pa.float64())])
    ) as w:
        for lo in range(0, n_series, 10_000):
            k = min(10_000, n_series - lo)
            w.write_table(
                pa.table(
                    {
                        "series_id": np.repeat(ids[lo : lo + k], STEPS),
                        "timestamp": np.tile(ds.astype(str), k),
                        "value": rng.normal(100, 10, k * STEPS).round(3),
                    }
                )
            )


def child(mode: str, csv: str, out: str) -> dict:
    """One contender in this process; imports happen before the clock starts."""
    import pandas as pd
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from tasks.adapters.settings import IngestSettings
    from tasks.adapters.storage import Storage
    from tasks.ingest.stage import ingest_files

    t0 = time.perf_counter()
    if mode == "project":
        rows = ingest_files(csv, Storage(out), IngestSettings()).rows_accepted
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
    r = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(csv), str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(r.stdout.strip().splitlines()[-1])


def growth(marks: list[int], work: Path, series: int = 1_000, probes: int = 8) -> list[str]:
    """One daily file of ``series`` rows ingested after each other (compaction on, as the ingest flow
    runs it); at each mark: the median time of ``probes`` more ingests, of reading the whole table,
    of reading the last day (time-filtered, as scoring reads) and the table's data files; the mean
    of the probes includes the compactions that fell due (one ingest in about four)."""
    import statistics

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from tasks.adapters.curated import Curated
    from tasks.adapters.settings import IngestSettings
    from tasks.adapters.storage import Storage
    from tasks.ingest.stage import ingest_files

    st, cfg = Storage(str(work / "growth")), IngestSettings()
    ids = [f"s{i:05d}" for i in range(series)]
    day = 0

    def ingest_one() -> float:
        nonlocal day
        f = work / "day.csv"
        ds = str((pd.Timestamp("2000-01-01") + pd.Timedelta(days=day)).date())
        f.write_text(
            "unique_id,ds,y\n"
            + "".join(f"{u},{ds},{v:.3f}\n" for u, v in zip(ids, np.random.default_rng(day).normal(100, 10, series)))
        )
        day += 1
        t0 = time.perf_counter()
        ingest_files(str(f), st, cfg)
        return time.perf_counter() - t0

    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    lines = [
        f"{'after':>6} {'ingest ms':>9} {'mean ms':>8} {'read all ms':>11} {'rows':>10} {'read last day ms':>16} "
        f"{'files':>6}"
    ]
    cur = Curated(st)
    for mark in marks:
        while day < mark:
            ingest_one()
        times = [ingest_one() for _ in range(probes)]
        ing, mean = statistics.median(times), statistics.fmean(times)  # the mean includes the compactions due
        read = statistics.median(timed(cur.read) for _ in range(probes))
        since = pa.scalar(pd.Timestamp("2000-01-01") + pd.Timedelta(days=day - 1), pa.timestamp("us"))
        last = statistics.median(
            timed(lambda since=since: cur.read_table(where=pc.field("ds") >= since)) for _ in range(probes)
        )
        rows, files = cur.size()
        lines.append(
            f"{mark:>6} {ing * 1000:>9.0f} {mean * 1000:>8.0f} {read * 1000:>11.0f} {rows:>10,} {last * 1000:>16.0f} {files:>6}"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="*", default=[2_000_000, 10_000_000])
    ap.add_argument("--child", nargs=3, metavar=("MODE", "CSV", "OUT"))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--growth", type=int, nargs="*", default=None, metavar="N")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(*a.child)))
        return
    work = Path(a.workdir or tempfile.mkdtemp(prefix="ingest-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if a.growth:
        try:
            print(f"cpu cores: {os.cpu_count()}")
            print("\n".join(growth(a.growth, work)))
        finally:
            if a.workdir is None:
                shutil.rmtree(work, ignore_errors=True)
        return
    lines = [
        f"{'rows':>11} {'file MB':>8} {'contender':>9} {'seconds':>8} {'rows/s':>12} {'vs pyarrow':>10} "
        f"{'peak RSS MB':>11}"
    ]
    try:
        for rows in a.rows:
            csv = work / f"long-{rows}.csv"
            make_csv(csv, rows)
            res = {m: measure(m, csv, work) for m in ("pyarrow", "project", "pandas")}
            base = res["pyarrow"]["rows"] / res["pyarrow"]["seconds"]
            for m, r in res.items():
                rate = r["rows"] / r["seconds"]
                lines.append(
                    f"{rows:>11,} {csv.stat().st_size / 2**20:>8.0f} {m:>9} {r['seconds']:>8.2f} "
                    f"{rate:>12,.0f} {rate / base:>9.2f}x {r['peak_rss_mb']:>11.0f}"
                )
            csv.unlink()
    finally:
        if a.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"cpu cores: {os.cpu_count()}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
