"""Accuracy on the served path, on the real development sets in ``../shared/data/real``.

    .venv/bin/python bench/accuracy.py                      # every set, seed 0
    .venv/bin/python bench/accuracy.py --sets air_passengers --seeds 5
    .venv/bin/python bench/accuracy.py --set data.val_windows=2   # a setting for every run
    .venv/bin/python bench/accuracy.py --dump /tmp/fc            # every forecast, for offline comparisons
    .venv/bin/python bench/accuracy.py --back 1                  # the origin one horizon earlier

For every set: all but the last ``horizon`` points of each series go to the real
``lstm-forecast run`` (a fresh storage, the defaults, only ``--horizon`` given, as a user would);
the forecasts it wrote are scored on the held-out points. ``lstm-forecast forecast --serve-model
lstm`` then forecasts the same cutoff with the LSTM alone. statsforecast's models are fitted on the
same points in the same run. MASE = MAE / in-sample seasonal naive MAE (the set's season), averaged
over series; the summary is the geometric mean over sets of MASE relative to the best
statistical model of each set (both floored at MASE_FLOOR), and the count of sets where the served
forecasts beat seasonal naive.
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
REAL = ROOT.parent / "shared" / "data" / "real"
STATS = ("auto_ets", "auto_theta", "auto_arima", "seasonal_naive", "naive")
CLI = [sys.executable, "-m", "flows.cli"]


def load(name: str) -> pd.DataFrame:
    df = pd.read_csv(REAL / f"{name}.csv")
    df.columns = ["unique_id", "ds", "y"]
    df["ds"] = pd.to_datetime(df["ds"])
    return df.sort_values(["unique_id", "ds"], ignore_index=True)


def split(df: pd.DataFrame, h: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rank = df.groupby("unique_id").cumcount(ascending=False)  # 0 = last point
    return df[rank >= h].reset_index(drop=True), df[rank < h].reset_index(drop=True)


def mase(train: pd.DataFrame, test: pd.DataFrame, fc: pd.DataFrame, col: str, m: int) -> tuple[float, float]:
    """(mean MASE, mean MAPE %) over series; forecasts matched to actuals by (unique_id, step)."""
    out, apes = [], []
    for uid, actual in test.groupby("unique_id"):
        hist = train.loc[train["unique_id"] == uid, "y"].to_numpy()
        f = fc.loc[fc["unique_id"] == uid, col].to_numpy()
        y = actual["y"].to_numpy()
        if f.size != y.size or not np.isfinite(f).all():
            return float("nan"), float("nan")  # a missing forecast counts as a failure of the set
        lag = m if hist.size > m else 1
        scale = np.mean(np.abs(hist[lag:] - hist[:-lag]))
        out.append(np.mean(np.abs(y - f)) / scale if scale > 0 else np.nan)
        nz = y != 0
        apes.append(np.mean(np.abs(y[nz] - f[nz]) / np.abs(y[nz])) * 100 if nz.any() else np.nan)
    return float(np.nanmean(out)), float(np.nanmean(apes))


def statistical(train: pd.DataFrame, h: int, m: int) -> pd.DataFrame:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, Naive, SeasonalNaive

    models = [
        AutoETS(season_length=m, alias="auto_ets"),
        AutoTheta(season_length=m, alias="auto_theta"),
        AutoARIMA(season_length=m, alias="auto_arima"),
        SeasonalNaive(m, alias="seasonal_naive"),
        Naive(alias="naive"),
    ]
    frame = train.assign(ds=train.groupby("unique_id").cumcount())  # steps: business days, gaps and all
    fc = StatsForecast(models=models, freq=1, n_jobs=1, fallback_model=Naive()).forecast(df=frame, h=h)
    return fc.sort_values(["unique_id", "ds"], ignore_index=True)


def served(train: pd.DataFrame, h: int, seed: int, extra: list[str], work: Path) -> tuple[pd.DataFrame, ...]:
    """The forecasts ``lstm-forecast run`` writes, then the LSTM alone for the same cutoff."""
    csv, storage = work / "input.csv", work / "storage"
    train.to_csv(csv, index=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    common = ["--storage", str(storage)]
    run = subprocess.run(
        [*CLI, "run", "--input", str(csv), "--horizon", str(h), "--seed", str(seed), "--no-progress", *common, *extra],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    if run.returncode:
        raise RuntimeError(run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "run failed")
    selected = DeltaTable(str(storage / "forecasts")).to_pandas()
    alone = subprocess.run(
        [*CLI, "forecast", "--serve-model", "lstm", *common], cwd=work, env=env, capture_output=True, text=True
    )
    lstm = DeltaTable(str(storage / "forecasts")).to_pandas() if not alone.returncode else pd.DataFrame()
    if alone.returncode:
        print(f"  LSTM alone: {alone.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    order = lambda f: f.sort_values(["unique_id", "ds"], ignore_index=True) if not f.empty else f  # noqa: E731
    return order(selected), order(lstm), run.stdout


def quantile_coverage(test: pd.DataFrame, fc: pd.DataFrame) -> dict[str, float]:
    """Per quantile column of the served forecasts (y_hat_q10, ...): the share of held-out actuals at
    or below it (``cov_q10``), strictly below it (``below_q10``: the two differ by the ties, the
    held-out zeros at a quantile floored at zero), and the number of points (``n_points``).
    Matched by (unique_id, step), as :func:`mase` matches them: the forecasts of business days
    are dated past a holiday that the actuals skip."""
    cols = [c for c in fc.columns if c.startswith("y_hat_q")]
    if not cols or len(fc) != len(test):
        return {}
    step = lambda f: f.sort_values(["unique_id", "ds"]).assign(step=lambda d: d.groupby("unique_id").cumcount())  # noqa: E731
    both = step(test[["unique_id", "ds", "y"]]).merge(step(fc[["unique_id", "ds", *cols]]), on=["unique_id", "step"])
    if len(both) != len(test):
        return {}
    y = both["y"].to_numpy()
    at_or_below = {f"cov_{c[6:]}": float(np.mean(y <= both[c].to_numpy())) for c in cols}
    below = {f"below_{c[6:]}": float(np.mean(y < both[c].to_numpy())) for c in cols}  # ties (zeros) apart
    return {"n_points": float(y.size), **at_or_below, **below}


def combination(sf: pd.DataFrame, lstm: pd.DataFrame) -> pd.DataFrame:
    """The plain mean of the LSTM alone and the three automatic models, step by step (the served
    ensemble with every member weighing the same, applied to every series): NaN where the LSTM
    wrote nothing."""
    out = sf[["unique_id"]].copy()
    members = [sf[c].to_numpy() for c in ("auto_ets", "auto_theta", "auto_arima")]
    members.append(lstm["y_hat"].to_numpy() if len(lstm) == len(sf) else np.full(len(sf), np.nan))
    out["y_hat"] = np.mean(members, axis=0)
    return out


def dump(path: Path, test: pd.DataFrame, sel: pd.DataFrame, lstm: pd.DataFrame, sf: pd.DataFrame) -> None:
    """Every forecast of one set and seed beside the held-out actuals, one row per point: the served
    forecast, its model and its quantiles, the LSTM alone and each statistical model (for offline
    comparisons)."""
    out = test[["unique_id", "ds", "y"]].reset_index(drop=True)
    if len(sel) == len(out):
        out["served"], out["model"] = sel["y_hat"].to_numpy(), sel["model"].to_numpy()
        for c in (c for c in sel.columns if c.startswith("y_hat_q")):
            out[c] = sel[c].to_numpy()
    out["lstm"] = lstm["y_hat"].to_numpy() if len(lstm) == len(out) else np.nan
    for c in STATS:
        out[c] = sf[c].to_numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_parquet(path, index=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="", help="comma-separated set names (default: every set in INDEX.csv)")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], help="setting for every run, e.g. data.val_windows=2")
    ap.add_argument("--out", default="", help="also write every row to this CSV")
    ap.add_argument("--dump", default="", help="also write every forecast to DIR/<set>-<seed>.parquet")
    ap.add_argument("--back", type=int, default=0, help="an earlier origin: drop the last BACK x horizon points first")
    a = ap.parse_args()
    index = pd.read_csv(REAL / "INDEX.csv")
    if a.sets:
        index = index[index["name"].isin(a.sets.split(","))]
    extra = [x for kv in a.set for x in flag(*kv.split("=", 1))]
    cols = ["served", "lstm", "combo", *STATS]
    print(
        f"{'set':>16} {'h':>3} {'m':>3} " + " ".join(f"{c:>14}" for c in cols) + f" {'best stat':>14} "
        f"{'served/best':>11} {'lstm/best':>9}  served models  seconds"
    )
    rows = []
    for _, r in index.iterrows():
        name, h, m = r["name"], int(r["horizon"]), int(r["season_length"])
        train, test = split(split(load(name), a.back * h)[0], h)
        if train.groupby("unique_id").size().min() < max(2 * m, h) if len(train) else True:
            print(f"{name:>16}: too short for an origin {a.back} horizons back", flush=True)
            continue
        sf = statistical(train, h, m)
        scores = {c: mase(train, test, sf, c, m) for c in STATS}
        for seed in range(a.first_seed, a.first_seed + a.seeds):
            t0 = time.perf_counter()
            coverage: dict[str, float] = {}
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    sel, lstm, _ = served(train, h, seed, extra, Path(tmp))
                    coverage = quantile_coverage(test, sel)
                    scores_s = {
                        "served": mase(train, test, sel, "y_hat", m),
                        "lstm": mase(train, test, lstm, "y_hat", m) if not lstm.empty else (np.nan, np.nan),
                        "combo": mase(train, test, combination(sf, lstm), "y_hat", m),
                    }
                    models = sel.drop_duplicates("unique_id")["model"].value_counts().to_dict()
                    if a.dump:
                        dump(Path(a.dump) / f"{name}-{seed}.parquet", test, sel, lstm, sf)
                except Exception as exc:  # a failed run is a result too
                    scores_s = {k: (np.nan, np.nan) for k in ("served", "lstm", "combo")}
                    models = {"error": str(exc)}
            best = min(STATS, key=lambda c: scores[c][0])
            row = {
                "set": name,
                "seed": seed,
                **{c: v[0] for c, v in {**scores_s, **scores}.items()},
                **{f"{c}_mape": v[1] for c, v in {**scores_s, **scores}.items()},
                "best": best,
                **coverage,
                "seconds": time.perf_counter() - t0,
            }
            rows.append(row)
            print(
                f"{name:>16} {h:>3} {m:>3} "
                + " ".join(f"{row[c]:>14.3f}" for c in cols)
                + f" {best:>14} {ratio(row['served'], row[best]):>11.3f} {ratio(row['lstm'], row[best]):>9.3f}  "
                f"{models}  {row['seconds']:.0f}",
                flush=True,
            )
    t = pd.DataFrame(rows)
    if a.out:
        t.to_csv(a.out, index=False)
    summary(t)


def flag(key: str, value: str) -> list[str]:
    """The CLI flag of a setting: ``model.window_scale=true`` -> ``--window-scale``."""
    name = key.split(".")[-1].replace("_", "-")
    if value.lower() in ("true", "false"):
        return [f"--{name}" if value.lower() == "true" else f"--no-{name}"]
    return [f"--{name}", value]


MASE_FLOOR = 0.01  # a set whose held-out part a model forecasts exactly (all zeros) would make the ratio 0/0


def ratio(a: float, b: float) -> float:
    return max(a, MASE_FLOOR) / max(b, MASE_FLOOR)


def summary(t: pd.DataFrame) -> None:
    by_set = t.groupby("set").mean(numeric_only=True)
    best = by_set[list(STATS)].min(axis=1).clip(lower=MASE_FLOOR)
    gm = lambda x: float(np.exp(np.mean(np.log(x.clip(lower=MASE_FLOOR) / best))))  # noqa: E731
    print(f"\nsets: {len(by_set)}, seeds: {t.groupby('set').size().max()}")
    print(
        f"served: geometric mean of MASE / best statistical model per set {gm(by_set['served']):.3f}; "
        f"beats seasonal naive on {(by_set['served'] < by_set['seasonal_naive']).sum()}/{len(by_set)} sets; "
        f"writes forecasts on {int(np.isfinite(by_set['served']).sum())}/{len(by_set)}"
    )
    print(
        f"combination (LSTM + AutoETS + AutoTheta + AutoARIMA, every series): geometric mean relative to the "
        f"best statistical model {gm(by_set['combo']):.3f}; beats seasonal naive on "
        f"{(by_set['combo'] < by_set['seasonal_naive']).sum()}/{len(by_set)} sets"
    )
    print(
        f"LSTM alone: geometric mean relative to the best statistical model {gm(by_set['lstm']):.3f}; "
        f"beats seasonal naive on {(by_set['lstm'] < by_set['seasonal_naive']).sum()}/{len(by_set)} sets"
    )
    for c in STATS:
        print(f"{c:>14}: geometric mean relative to the best {gm(by_set[c]):.3f}")
    cov = sorted((c for c in t.columns if c.startswith("cov_q")), key=lambda c: float(c[5:]))
    if cov:  # pooled over every held-out point of every set, and the mean over sets
        pooled = {c: float((t[c] * t["n_points"]).sum() / t["n_points"].sum()) for c in cov}
        print(
            "served quantile coverage, pooled over points: "
            + ", ".join(f"{c[4:]} {v:.1%}" for c, v in pooled.items())
            + "; mean over sets: "
            + ", ".join(f"{c[4:]} {by_set[c].mean():.1%}" for c in cov)
            + "; strictly below, pooled: "
            + ", ".join(f"{c[4:]} {(t['below_' + c[4:]] * t['n_points']).sum() / t['n_points'].sum():.1%}" for c in cov)
        )
    if "air_passengers" in set(t["set"]):
        air = t[t["set"] == "air_passengers"]
        print(
            f"AirPassengers served MAPE {air['served_mape'].mean():.2f} ± {air['served_mape'].std(ddof=0):.2f} % "
            f"over {len(air)} seed(s); LSTM alone {air['lstm_mape'].mean():.2f} %"
        )


if __name__ == "__main__":
    main()
