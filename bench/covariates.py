"""Covariates on the served path: the generated demand set (``bench/demand.py``), last 28 days held out.

    .venv/bin/python bench/covariates.py                  # 50 series x 730 days, US holidays, seed 0

The history goes to the real ``lstm-forecast run --horizon 28`` twice: without covariates, then with
``--calendar --holidays US --future-covariates promo --future-input <the held-out days' promo>``;
the forecasts each run wrote are scored on the held-out days (MASE against the in-sample weekly
seasonal naive, mean over series), beside statsforecast's models fitted on the same history, and
the LSTM alone (``forecast --serve-model lstm``) of each run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.accuracy import STATS, mase, quantile_coverage, served, split, statistical  # noqa: E402
from bench.demand import generate  # noqa: E402

H, SEASON = 28, 7


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=50)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--country", default="US")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=40, help="the same budget for both runs")
    ap.add_argument("--quantiles", default="", help="also ask for these quantiles (e.g. 0.1,0.5,0.9): their coverage")
    ap.add_argument("--only-covariates", action="store_true", help="skip the run without covariates")
    a = ap.parse_args()
    df = generate(a.series, a.days, a.country, a.seed)
    train, test = split(df, H)
    t0 = time.perf_counter()
    sf = statistical(train[["unique_id", "ds", "y"]], H, SEASON)
    rows = {c: mase(train, test, sf, c, SEASON)[0] for c in STATS}
    print(f"statsforecast: {time.perf_counter() - t0:.0f} s", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        future = Path(tmp) / "future.csv"
        test[["unique_id", "ds", "promo"]].to_csv(future, index=False)
        runs = {
            "no covariates": ["--epochs", str(a.epochs)],
            "calendar + holidays + promo": [
                "--epochs",
                str(a.epochs),
                "--calendar",
                "--holidays",
                a.country,
                "--future-covariates",
                "promo",
                "--future-input",
                str(future),
            ],
        }
        if a.only_covariates:
            del runs["no covariates"]
        for extra in runs.values():
            extra += ["--quantiles", a.quantiles] if a.quantiles else []
        for name, extra in runs.items():
            work = Path(tmp) / name.replace(" ", "_").replace("+", "")
            work.mkdir()
            t0 = time.perf_counter()
            sel, lstm, _ = served(train, H, a.seed, extra, work)
            rows[f"served, {name}"] = mase(train, test, sel, "y_hat", SEASON)[0]
            rows[f"LSTM alone, {name}"] = mase(train, test, lstm, "y_hat", SEASON)[0] if not lstm.empty else np.nan
            models = sel.drop_duplicates("unique_id")["model"].value_counts().to_dict()
            for col, share in quantile_coverage(test, sel).items():
                if col.startswith("cov_"):
                    print(f"  {name}: {share:.1%} of held-out points at or below y_hat_{col[4:]}")
            print(f"{name}: {time.perf_counter() - t0:.0f} s, served by {models}", flush=True)
    best = min(STATS, key=lambda c: rows[c])
    print(f"\n{a.series} series x {a.days} days, last {H} days held out, holidays {a.country}, seed {a.seed}")
    for k, v in rows.items():
        print(f"{k:>40}  MASE {v:.3f}")
    if a.only_covariates:
        return
    base, cov = rows["served, no covariates"], rows["served, calendar + holidays + promo"]
    print(
        f"\nserved with covariates: {1 - cov / base:.1%} lower MASE than without; "
        f"{cov / rows[best]:.3f}x the best statistical model ({best})"
    )


if __name__ == "__main__":
    main()
