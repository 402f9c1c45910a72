"""Forecast-vs-actual picture of the backtest (PNG), for the best and worst series by MASE."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from lstm_model.backtest import LEVELS


def forecast_plot(history: pd.DataFrame, frame: pd.DataFrame, table: pd.DataFrame, n: int = 4) -> bytes | None:
    """Last backtest window of the n/2 best and n/2 worst series by served MASE: history, actuals,
    the served forecast (the model chosen for the series), the LSTM with its narrowest interval, seasonal
    naive; None when no series had a backtest window (every series no longer than the horizon)."""
    if frame.empty:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    served = table[table["model"] == "selected"].sort_values("mase")
    picks = list(dict.fromkeys(list(served["unique_id"].head(n // 2)) + list(served["unique_id"].tail(n - n // 2))))
    if not picks:
        picks = list(dict.fromkeys(frame["unique_id"]))[:n]
    fig, axes = plt.subplots(len(picks), 1, figsize=(9, 2.6 * len(picks)), squeeze=False)
    for ax, uid in zip(axes[:, 0], picks):
        f = frame[frame["unique_id"] == uid]
        t = f[f["cutoff"] == f["cutoff"].max()]
        h = history[(history["unique_id"] == uid) & (history["ds"] < t["ds"].min())].tail(4 * len(t))
        ax.plot(h["ds"], h["y"], color="black", lw=1, label="history")
        ax.plot(t["ds"], t["y"], color="black", lw=1, ls="--", label="actual")
        lo, hi = f"lstm_lo_{LEVELS[0]}", f"lstm_hi_{LEVELS[0]}"
        if lo in t:
            ax.fill_between(t["ds"], t[lo], t[hi], color="tab:blue", alpha=0.2, label=f"{LEVELS[0]} %")
        if "lstm" in t:
            ax.plot(t["ds"], t["lstm"], color="tab:blue", lw=1.5, label="LSTM")
        if "seasonal_naive" in t:
            ax.plot(t["ds"], t["seasonal_naive"], color="tab:orange", lw=1, alpha=0.7, label="seasonal naive")
        model = str(t["model"].iloc[0]) if len(t) else ""
        ax.plot(t["ds"], t["selected"], color="tab:green", lw=1.5, ls=":", label=f"served ({model})")
        row = served.loc[served["unique_id"] == uid, "mase"]
        m = float(row.iloc[0]) if len(row) else float("nan")
        ax.set_title(f"{uid}  (served MASE {m:.3f}, {model})" if np.isfinite(m) else uid, fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()
