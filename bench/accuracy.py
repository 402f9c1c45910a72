"""Accuracy benchmark: the LSTM against naive, seasonal naive and drift on the same backtest.

    .venv/bin/python bench/accuracy.py              # AirPassengers over 5 seeds + 3 synthetic kinds
    .venv/bin/python bench/accuracy.py --seeds 3 --set model.ensemble=3 --set data.input_size=12

AirPassengers: the last 12 months held out (as ``make run``); interval coverage is counted over
every held-out month at every horizon step (144 points per seed). Synthetic (seeded, 30 monthly
series of 120 points, 3 backtest windows of 12): trend + seasonality, multiplicative
seasonality, noisy random walk.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from tasks.csv_reader import parse_csv
from tasks.settings import load_settings
from tasks.train import train_stage

ROOT = Path(__file__).resolve().parent.parent


def synthetic(kind: str, n_series: int = 30, n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    rows = []
    for i in range(n_series):
        level, season = rng.uniform(50, 500), np.sin(2 * np.pi * (t + rng.integers(12)) / 12)
        if kind == "trend_season":
            y = level + rng.uniform(0.2, 2) * t + 0.15 * level * season + rng.normal(0, 0.03 * level, n)
        elif kind == "multiplicative":
            y = level * (1 + 0.01 * t) * (1 + 0.3 * season) * np.exp(rng.normal(0, 0.03, n))
        else:  # noisy random walk
            y = level + np.cumsum(rng.normal(0, 0.05 * level, n))
        rows.append(pd.DataFrame({"unique_id": f"{kind}-{i:02d}", "y": y,
                                  "ds": pd.date_range("2010-01-01", periods=n, freq="MS")}))
    return pd.concat(rows, ignore_index=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--set", action="append", default=[], help="setting override, e.g. model.ensemble=3")
    a = ap.parse_args()
    base = {k: (int(v) if v.isdigit() else v) for k, v in (kv.split("=", 1) for kv in a.set)}
    air = parse_csv((ROOT / "data" / "AirPassengers.csv").read_bytes(), "AirPassengers.csv").frame
    print(f"settings: {base or 'defaults'}")
    t0 = time.perf_counter()
    res, hits, points = [], [], 0
    for seed in range(a.seeds):
        m = train_stage(air, load_settings({**base, "training.seed": seed, "storage.root": "/tmp"})).metrics
        res.append((m["lstm_mape"], m["lstm_mase"]))
        hits.append(round(m["coverage_80"] * m["coverage_points"]))  # of every 1960 point at every step
        points += int(m["coverage_points"])
    r = np.array(res)
    print(f"AirPassengers, 1960 held out, {a.seeds} seeds ({time.perf_counter() - t0:.0f} s): "
          f"LSTM MAPE {r[:, 0].mean():.2f} ± {r[:, 0].std():.2f} %, MASE {r[:, 1].mean():.3f} ± {r[:, 1].std():.3f}, "
          f"80 % coverage {sum(hits) / points:.0%} ({sum(hits)}/{points} points; per seed {hits}); seasonal naive MAPE {m['snaive_mape']:.2f} %, MASE {m['snaive_mase']:.3f}")
    print(f"{'kind':>16} {'LSTM':>7} {'s.naive':>7} {'naive':>7} {'drift':>7}  (MASE over 30 series x 3 cutoffs)"
          f"  LSTM beats s.naive on   80 % / 95 % coverage")
    for kind in ("trend_season", "multiplicative", "random_walk"):
        s = load_settings({**base, "storage.root": "/tmp", "data.n_windows": 3})
        out = train_stage(synthetic(kind), s)
        m, tab = out.metrics, out.table.pivot(index="unique_id", columns="model", values="mase")
        wins = int((tab["lstm"] < tab["snaive"]).sum())
        print(f"{kind:>16} {m['lstm_mase']:7.3f} {m['snaive_mase']:7.3f} {m['naive_mase']:7.3f} "
              f"{m['drift_mase']:7.3f}  {wins:>21}/{len(tab)} series   {m['coverage_80']:.0%} / {m['coverage_95']:.0%}")


if __name__ == "__main__":
    main()
