"""Forecasts from a model bundle and a long history frame (pandas + lstm_model only)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from lstm_model.baselines import seasonal_scale
from lstm_model.bundle import ModelBundle, forecast_packed
from lstm_model.windows import complete
from tasks.prepare import future_dates, prepare, to_frame


def forecast_frame(bundle: ModelBundle, history: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """History (unique_id, ds, y) -> forecasts (unique_id, ds, y_hat, cutoff) of the ``horizon``
    steps after each series' last point, and the ids skipped (fewer than input_size points, or a
    missing point among the last input_size)."""
    prep = prepare(history, bundle.covariates)
    L = bundle.network.input_size
    ok = prep.packed.lengths >= L  # and the last L points all observed:
    ok[ok] = np.isin(prep.packed.offsets[ok] + prep.packed.lengths[ok] - L,
                     complete(prep.packed.observed(), prep.packed.offsets[ok] + prep.packed.lengths[ok] - L, L))
    skipped = [i for i, k in zip(prep.ids, ok) if not k]
    ids = [i for i, k in zip(prep.ids, ok) if k]
    if not ids:
        return pd.DataFrame(columns=["unique_id", "ds", "y_hat", "cutoff"]), skipped
    packed, rows = prep.packed.select(ok)
    stats, _ = bundle.stats_for(ids, packed)
    y_hat = forecast_packed(bundle.build("cpu"), packed, packed.lengths, stats,
                            bundle.covariate_stats_for(ids, packed))  # (S, H)
    last = prep.ds[rows][packed.offsets + packed.lengths - 1]  # (S,)
    out = to_frame(ids, future_dates(last, bundle.meta.get("freq") or prep.freq, bundle.network.horizon), y_hat)
    scale = seasonal_scale(packed, packed.lengths, int(bundle.meta.get("season_length", 1)))[:, None]  # (S, 1)
    for level, q in sorted(bundle.meta.get("conformal", {}).items()):  # conformal half-widths per step
        half = np.asarray(q, dtype=np.float64)[None, :] * scale  # (S, H)
        out[f"y_hat_lo_{level}"] = (y_hat - half).reshape(-1)
        out[f"y_hat_hi_{level}"] = (y_hat + half).reshape(-1)
    out["mase_scale"] = np.repeat(scale[:, 0], bundle.network.horizon)  # scores this forecast when actuals arrive
    out["cutoff"] = last.repeat(bundle.network.horizon)
    return out, skipped
