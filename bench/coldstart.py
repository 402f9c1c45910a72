"""Cold start with a static category: new series with little history, of a store type the training knew.

    .venv/bin/python bench/coldstart.py          # 30 training series x 400 days, 6 new ones with 40 days

The generated demand set (``bench/demand.py``, no promotions): the training stage on 30 series,
with and without ``--static-covariates store_type``; then the LSTM alone forecasts 6 series it never
saw, from their last 40 days, and is scored on the 28 days after (MASE against the weekly seasonal
naive of those 40 days), for two seeds.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.accuracy import mase  # noqa: E402
from bench.demand import generate  # noqa: E402

H, HISTORY = 28, 40


def main() -> None:
    from tasks.adapters.settings import load_settings
    from tasks.forecast.predict import forecast_frame
    from tasks.train.stage import train_stage

    df = generate(36, 400, seed=3, static=True).drop(columns="promo")
    new_ids = sorted(df["unique_id"].unique())[-6:]
    train = df[~df["unique_id"].isin(new_ids)][["unique_id", "ds", "y"]]
    static = df.groupby("unique_id", as_index=False)["store_type"].last()
    new = df[df["unique_id"].isin(new_ids)].groupby("unique_id").tail(HISTORY + H)
    rank = new.groupby("unique_id").cumcount(ascending=False)
    hist, test = new[rank >= H].reset_index(drop=True), new[rank < H].reset_index(drop=True)
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
                }
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
