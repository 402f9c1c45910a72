"""The per-series scalers behave as scikit-learn's, series by series, and the metrics agree with
``sklearn.metrics``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, mean_squared_error
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from lstm_model import metrics
from tasks.series.scalers import SeriesScaler


def long_frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = [
        pd.DataFrame({"unique_id": uid, "ds": np.arange(n), "y": rng.normal(loc, spread, n)})
        for uid, n, loc, spread in (("a", 30, 5.0, 2.0), ("b", 17, -3.0, 0.5), ("c", 44, 100.0, 30.0))
    ]
    return pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed)  # any row order


@pytest.mark.parametrize(
    ("name", "reference"), [("standard", StandardScaler()), ("minmax", MinMaxScaler(feature_range=(-1, 1)))]
)
def test_each_series_is_scaled_as_sklearn_scales_it_alone(name, reference):
    df = long_frame()
    out = SeriesScaler(scaler=name).fit_transform(df)
    assert list(out.columns) == list(df.columns) and out.index.equals(df.index)
    for _uid, part in df.groupby("unique_id"):
        want = clone(reference).fit_transform(part[["y"]]).ravel()
        np.testing.assert_allclose(out.loc[part.index, "y"].to_numpy(), want, rtol=1e-12, atol=1e-12)


def test_inverse_restores_the_values_and_unseen_series_are_refused():
    df = long_frame(1)
    sc = SeriesScaler(log_transform="auto").fit(df)
    positive = (df.groupby("unique_id")["y"].min() > 0).to_numpy()  # b is negative, c positive
    assert sc.stats_.log.tolist() == positive.tolist() and not positive[1] and positive[2]
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(df))["y"], df["y"], rtol=1e-10)
    with pytest.raises(ValueError, match="not seen by fit"):
        sc.transform(pd.DataFrame({"unique_id": ["zz"], "y": [1.0]}))


def test_params_clone_and_pipeline():
    sc = SeriesScaler(scaler="minmax", value_col="y")
    assert sc.get_params() == {"scaler": "minmax", "log_transform": "none", "series_col": "unique_id", "value_col": "y"}
    assert clone(sc).set_params(scaler="standard").get_params()["scaler"] == "standard"
    df = long_frame(2)
    pipe = Pipeline([("scale", SeriesScaler())])
    np.testing.assert_allclose(pipe.fit_transform(df)["y"], SeriesScaler().fit_transform(df)["y"])
    np.testing.assert_allclose(pipe.inverse_transform(pipe.transform(df))["y"], df["y"], rtol=1e-10)


def test_metrics_agree_with_sklearn_metrics_row_by_row():
    rng = np.random.default_rng(3)
    y = rng.uniform(1.0, 10.0, (6, 12))
    y_hat = y + rng.normal(0.0, 1.0, y.shape)
    got = metrics.all_metrics(y, y_hat, np.ones(6))
    for i in range(6):
        assert got["mae"][i] == pytest.approx(mean_absolute_error(y[i], y_hat[i]))
        assert got["rmse"][i] == pytest.approx(np.sqrt(mean_squared_error(y[i], y_hat[i])))
        assert got["mape"][i] == pytest.approx(100 * mean_absolute_percentage_error(y[i], y_hat[i]))
        assert got["mase"][i] == pytest.approx(mean_absolute_error(y[i], y_hat[i]))  # scale 1
