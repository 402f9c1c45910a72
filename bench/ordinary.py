"""Ordinary files, as users have them, through the real ``lstm-forecast run``.

    .venv/bin/python bench/ordinary.py              # every case but the two long ones (~15 min on 2 cores)
    .venv/bin/python bench/ordinary.py --long       # also a year of hours and 12 weeks of half-hours (~45 min)
    .venv/bin/python bench/ordinary.py --cases years,european

Each case is a generated file of one ordinary shape (names, date and number formats, lengths,
seasons, magnitudes, gaps; nothing from a packaged data set). All but the last ``h`` points of each
series go to ``lstm-forecast run`` with only ``--horizon h`` (a fresh storage, the defaults); the
forecasts it wrote are scored on the held-out points: MASE of the served forecast and of seasonal
naive, scaled by the in-sample seasonal naive error. A case passes when the run succeeds and every
series longer than ``h`` gets ``h`` finite forecasts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from deltalake import DeltaTable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ordinary_shapes import CASES, LONG, MANY_SERIES, Case  # noqa: E402

CLI = [sys.executable, "-m", "flows.cli"]


def _split(df: pd.DataFrame, h: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    back = df.groupby("unique_id").cumcount(ascending=False)
    size = df.groupby("unique_id")["y"].transform("size")
    keep = (back >= h) | (size <= h)  # a series no longer than h goes in whole (nothing to score)
    return df[keep], df[~keep]


def _mase(train: pd.DataFrame, test: pd.DataFrame, fc: pd.DataFrame, m: int) -> tuple[float, float, bool]:
    """Mean over the scored series of the served and of seasonal naive's MASE, and whether every
    series longer than h got h finite forecasts."""
    served, naive, complete = [], [], True
    for uid, actual in test.groupby("unique_id"):
        y = train.loc[train["unique_id"] == uid, "y"].to_numpy(float)
        f = fc[fc["unique_id"] == str(uid)].sort_values("ds")["y_hat"].to_numpy()
        if f.size != len(actual) or not np.isfinite(f).all():
            complete = False
            continue
        scale = np.mean(np.abs(y[m:] - y[:-m])) if y.size > m else np.nan
        if not scale > 0:
            continue
        a = actual["y"].to_numpy(float)
        served.append(np.mean(np.abs(a - f)) / scale)
        naive.append(np.mean(np.abs(a - np.resize(y[-m:], a.size))) / scale)
    return float(np.mean(served)) if served else np.nan, float(np.mean(naive)) if naive else np.nan, complete


def run_case(name: str, case: Case, work: Path, seed: int) -> dict:
    h, m, make, write = case
    data = make(np.random.default_rng(seed))
    data["y"] = data["y"].astype(float)
    train, test = _split(data, h)
    path = work / f"{name}.csv"
    if write is None:
        train.to_csv(path, index=False)
    else:
        write(train.reset_index(drop=True), path)
    storage = work / f"storage-{name}"
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [*CLI, "run", "--input", str(path), "--horizon", str(h), "--storage", str(storage), "--no-progress"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if out.returncode:
        error = next((line for line in out.stderr.splitlines() if "error:" in line), out.stderr.strip()[-200:])
        return {
            "case": name,
            "ok": False,
            "seconds": seconds,
            "served": np.nan,
            "seasonal_naive": np.nan,
            "note": error,
        }
    fc = DeltaTable(str(storage / "forecasts")).to_pandas()
    if write is not None and name not in MANY_SERIES:  # a single series: named after the file
        fc["unique_id"] = str(train["unique_id"].iloc[0])
    served, naive, complete = _mase(train, test, fc, m)
    models = fc["model"].value_counts().to_dict()
    return {
        "case": name,
        "ok": complete,
        "seconds": seconds,
        "served": served,
        "seasonal_naive": naive,
        "note": str(models),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="", help="comma-separated case names (default: every short case)")
    ap.add_argument("--long", action="store_true", help="also the two long cases")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    every = {**CASES, **LONG}
    names = [c for c in args.cases.split(",") if c] or [*CASES, *(LONG if args.long else {})]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            rows.append(run_case(name, every[name], Path(tmp), args.seed))
            r = rows[-1]
            print(
                f"{r['case']:>20} {'ok' if r['ok'] else 'FAIL':>4} {r['seconds']:7.0f} s  served {r['served']:.3f}  "
                f"seasonal naive {r['seasonal_naive']:.3f}  {r['note']}",
                flush=True,
            )
    t = pd.DataFrame(rows)
    print(
        f"\n{int(t['ok'].sum())}/{len(t)} cases ran and forecast every series; served beats seasonal naive on "
        f"{int((t['served'] < t['seasonal_naive']).sum())} of {int(t['served'].notna().sum())} scored"
    )
    sys.exit(0 if t["ok"].all() else 1)


if __name__ == "__main__":
    main()
