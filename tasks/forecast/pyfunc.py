"""The registered model's code (MLflow "models from code"): logged as a file, never pickled.

Its artifacts are ``weights.safetensors`` and ``model.json``. ``predict`` takes a long frame
(unique_id, ds, y) of history and returns the next ``horizon`` steps of every series it can
forecast: unique_id, ds, y_hat. For a model that reads future-known covariates, the frame also
holds each series' next ``horizon`` rows with ``y`` empty and those covariates' values.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
from mlflow.pyfunc import PythonModel

from lstm_model.bundle import ModelBundle
from tasks.forecast.predict import forecast_frame
from tasks.series.features import FeatureSpec


class LSTMForecastModel(PythonModel):
    def load_context(self, context) -> None:
        weights = Path(context.artifacts["weights"]).read_bytes()
        config = Path(context.artifacts["config"]).read_text()
        self.bundle = ModelBundle.from_payloads(weights, config)

    def predict(self, context, model_input, params=None):  # long frame -> long frame (see signature)
        spec = FeatureSpec.from_dict(self.bundle.meta.get("features"))
        static = None
        if spec.static:  # constant columns of the frame: each series' last value
            static = model_input.groupby("unique_id", as_index=False)[list(spec.static)].last()
        if not self.bundle.network.n_future:
            return forecast_frame(self.bundle, model_input, "selected", None, static)[0]
        seen = model_input["y"].notna()
        last = model_input["ds"].where(seen).groupby(model_input["unique_id"]).transform("max")
        later = model_input["ds"] > last  # the rows after each series' last observed value: its future
        return forecast_frame(self.bundle, model_input[~later], "selected", model_input[later], static)[0]


mlflow.models.set_model(LSTMForecastModel())
