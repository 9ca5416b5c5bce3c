"""The MLflow pyfunc wrapper of the lap-time model. Its own module because it imports mlflow at
the top (MLflow needs the class importable by name); only `registry` imports it, lazily."""

import pickle

import mlflow
import pandas as pd
import polars as pl


class LapTimePyfunc(mlflow.pyfunc.PythonModel):
    """Features in (pandas, `f1_core.features.FEATURES`), `lap_time`, `lower`, `upper` out: every
    consumer gets the point prediction and its 90% interval."""

    def load_context(self, context):
        with open(context.artifacts["model"], "rb") as handle:
            self.model = pickle.load(handle)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.model.predict(pl.from_pandas(model_input)).to_pandas()
