"""The last guard before the forecasts table: no non-finite forecast or bound is ever written."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.forecast.stage import finite_only


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b", "c", "c"],
            "y_hat": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "y_hat_lo_80": [0.5, 1.5, 2.5, np.nan, 4.5, 5.5],
            "y_hat_hi_80": [1.5, 2.5, 3.5, 4.5, 5.5, np.inf],
            "mase_scale": [1.0] * 6,
        }
    )


def test_series_with_a_non_finite_value_are_skipped_with_the_columns_named_the_others_kept():
    skipped = {"z": "fewer than two observed points"}
    kept = finite_only(_frame(), skipped)
    assert kept["unique_id"].tolist() == ["a", "a"]
    assert skipped == {
        "z": "fewer than two observed points",
        "b": "a non-finite forecast value in y_hat_lo_80",
        "c": "a non-finite forecast value in y_hat_hi_80",
    }


def test_a_finite_frame_passes_untouched():
    f = _frame().fillna(0.0).replace(np.inf, 9.0)
    skipped: dict[str, str] = {}
    assert finite_only(f, skipped) is f and not skipped
