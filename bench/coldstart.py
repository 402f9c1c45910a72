"""Cold start with a static category: new series with little history, of a store type the training knew.

    .venv/bin/python bench/coldstart.py          # 30 training series x 400 days, 12 new ones with 40 days
    .venv/bin/python bench/coldstart.py --shaped --set model.deseasonalise=false

The generated demand set (``bench/demand.py``, no promotions): the training stage on 30 series,
with and without ``--static-covariates store_type``; then the LSTM alone forecasts 12 series it never
saw, from their last 40 days, and is scored on the 28 days after (MASE against the weekly seasonal
naive of those 40 days), for two seeds. ``--shaped``: the store type also sets the weekday pattern
(a mall, a neighbourhood shop, an office district), which a short history shows only roughly.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.accuracy import STATS, mase, statistical  # noqa: E402
from bench.demand import generate  # noqa: E402

H = 28


def main() -> None:
    from tasks.adapters.settings import load_settings
    from tasks.forecast.predict import forecast_frame
    from tasks.train.stage import train_stage

    ap = argparse.ArgumentParser()
    ap.add_argument("--train", type=int, default=30, help="training series")
    ap.add_argument("--new", type=int, default=12, help="new series, forecast from their last --history days")
    ap.add_argument("--history", type=int, default=40)
    ap.add_argument("--shaped", action="store_true", help="the store type also sets the weekday pattern")
    ap.add_argument("--set", action="append", default=[], help="setting for every training, e.g. training.epochs=60")
    a = ap.parse_args()
    extra = {k: v for k, v in (kv.split("=", 1) for kv in a.set)}
    df = generate(a.train + a.new, 400, seed=3, static=True, shaped=a.shaped).drop(columns="promo")
    # every store type among the new series: the last a.new series in generation order (types cycle)
    new_ids = list(df["unique_id"].unique())[-a.new :]
    train = df[~df["unique_id"].isin(new_ids)][["unique_id", "ds", "y"]]
    static = df.groupby("unique_id", as_index=False)["store_type"].last()
    new = df[df["unique_id"].isin(new_ids)].groupby("unique_id").tail(a.history + H)
    rank = new.groupby("unique_id").cumcount(ascending=False)
    hist, test = new[rank >= H].reset_index(drop=True), new[rank < H].reset_index(drop=True)
    stat = statistical(hist[["unique_id", "ds", "y"]], H, 7)  # statsforecast on the same short histories
    print("  ".join(f"{name} {mase(hist, test, stat, name, 7)[0]:.3f}" for name in STATS), flush=True)
    for use in (False, True):
        for seed in (0, 1):
            with tempfile.TemporaryDirectory() as tmp:
                path = f"{tmp}/stores.csv"
                static.to_csv(path, index=False)
                o = {
                    "storage.root": tmp,
                    "data.horizon": H,
                    "data.comparators": "seasonal_naive,naive",
                    "training.epochs": 30,
                    "training.seed": seed,
                } | extra
                if use:
                    o |= {"storage.static_input": path, "data.static_covariates": "store_type"}
                bundle = train_stage(train, load_settings(o)).bundle
                fc, _ = forecast_frame(bundle, hist[["unique_id", "ds", "y"]], "lstm", None, static if use else None)
                score = mase(hist, test, fc.sort_values(["unique_id", "ds"], ignore_index=True), "y_hat", 7)[0]
                print(
                    f"{'store_type' if use else 'no static':>10}  seed {seed}  cold-start MASE {score:.3f}", flush=True
                )


if __name__ == "__main__":
    main()
