"""A generated demand set: daily sales of many store-items with what planners know in advance.

Each series: a level set by its store type (a static category), a weekday pattern, a yearly swing,
public holidays of one country (sales drop on the day, rise the day before), promotions planned
ahead (a flag, known for the horizon, that lifts sales) and multiplicative noise.

    .venv/bin/python bench/demand.py --out demand.csv            # the history, promo column included
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

WEEKDAY = np.array([0.85, 0.9, 0.95, 1.0, 1.15, 1.35, 0.8])  # Monday .. Sunday
STORE_TYPES = {"A": 300.0, "B": 120.0, "C": 40.0}  # store type -> typical daily sales
# store type -> its own weekday pattern (``shaped``): a mall, a neighbourhood shop, an office district
TYPE_WEEKDAY = {
    "A": WEEKDAY,
    "B": np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 0.95]),
    "C": np.array([1.2, 1.25, 1.25, 1.2, 1.1, 0.55, 0.45]),
}


def generate(
    n_series: int = 50,
    days: int = 730,
    country: str = "US",
    seed: int = 0,
    start: str = "2022-01-01",
    static: bool = False,
    shaped: bool = False,
) -> pd.DataFrame:
    """unique_id, ds, y, promo[, store_type]: ``n_series`` daily series of ``days`` days; with
    ``shaped`` the store type also sets the weekday pattern (``TYPE_WEEKDAY``), not only the level."""
    import holidays

    rng = np.random.default_rng(seed)
    ds = pd.date_range(start, periods=days, freq="D")
    cal = holidays.country_holidays(country, years=range(ds[0].year, ds[-1].year + 1))
    hol = np.array([d.date() in cal for d in ds])
    eve = np.roll(hol, -1) & ~hol
    types = list(STORE_TYPES)
    frames = []
    for i in range(n_series):
        kind = types[i % len(types)]
        level = STORE_TYPES[kind] * rng.uniform(0.8, 1.2)
        promo = (rng.random(days) < 0.12).astype(np.float64)
        lift = rng.uniform(1.4, 1.8)
        yearly = 1 + 0.1 * np.sin(2 * np.pi * (ds.dayofyear.to_numpy() / 365.25 + rng.uniform()))
        weekday = TYPE_WEEKDAY[kind] if shaped else WEEKDAY
        mean = level * weekday[ds.dayofweek] * yearly * np.where(promo > 0, lift, 1.0)
        mean = mean * np.where(hol, 0.45, 1.0) * np.where(eve, 1.3, 1.0)
        y = mean * rng.lognormal(0.0, 0.08, days)
        frames.append(
            pd.DataFrame({"unique_id": f"{kind}{i:03d}", "ds": ds, "y": y.round(2), "promo": promo, "store_type": kind})
        )
    out = pd.concat(frames, ignore_index=True)
    return out if static else out.drop(columns="store_type")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=50)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="demand.csv")
    a = ap.parse_args()
    generate(a.series, a.days, seed=a.seed).to_csv(a.out, index=False)


if __name__ == "__main__":
    main()
