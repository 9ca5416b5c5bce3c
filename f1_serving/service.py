"""The lap-time service: the registry's champion behind `POST /predict` and `/explain`.

Features come from `f1_core.live`, the code training uses. See README "Serving" for the
contract, roles and operations.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from datetime import datetime, timezone
from typing import Annotated

import bentoml
import numpy as np
import polars as pl
from fastapi import FastAPI
from pydantic import Field

from f1_core import settings
from f1_core.features import FEATURES, FUEL_SECONDS_PER_KG
from f1_core.live import LapToPredict, baseline_predict, features_for
from f1_core.prediction_log import PredictionLog
from f1_serving.champion import Champion, LoadedModel
from f1_serving.contract import MAX_LAPS, Contribution, Explanation, ModelInfo, Prediction
from f1_serving.middleware import ApiKeyAuth, OpenApi31, UnprocessableInput

logger = logging.getLogger("f1_serving")

# GET endpoints: BentoML's APIs are POST only
info = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@bentoml.asgi_app(info, path="/")
@bentoml.service(
    name="f1_laptime",
    workers=int(os.environ.get("F1_SERVING_WORKERS", "1")),
    threads=int(os.environ.get("F1_SERVING_THREADS", "4")),
    traffic={"timeout": 60},
    logging={"access": {"request_content_type": False, "response_content_type": False}},
)
class LapTimeService:
    def __init__(self) -> None:
        import prometheus_client as prom  # after BentoML set up its multiprocess metrics

        self.champion = Champion(poll_seconds=float(os.environ.get("F1_SERVING_POLL_SECONDS", "2")))
        self.champion.refresh()  # the first load before the first request, not after
        self.champion.start()
        self.log = PredictionLog(settings.prediction_log_dir())
        self.predictions = prom.Counter("f1_predictions", "laps predicted", ["model_version", "degraded"])
        self.version_gauge = prom.Gauge("f1_champion_version", "registry version being served "
                                        "(0: degraded)", multiprocess_mode="livemax")
        self.feature_seconds = prom.Histogram("f1_feature_seconds", "time to compute a request's features")

    @bentoml.on_shutdown
    def close(self) -> None:
        self.champion.stop()
        self.log.close()

    def __is_ready__(self) -> bool:
        return self.champion.current is not None

    @bentoml.api
    def predict(self, laps: Annotated[list[LapToPredict], Field(min_length=1, max_length=MAX_LAPS)]
                ) -> list[Prediction]:
        """One prediction per lap, in order: lap time and 90% interval in seconds."""
        loaded = self.champion.current  # this request finishes on this model, whatever swaps
        features, out = self._predict(laps, loaded)
        return self._answer(laps, features, out, loaded)

    @bentoml.api
    def explain(self, lap: LapToPredict, top: Annotated[int, Field(ge=1, le=len(FEATURES))] = 10
                ) -> Explanation:
        """The prediction for one lap with its `top` feature contributions (TreeSHAP), in seconds."""
        loaded = self.champion.current
        features, out = self._predict([lap], loaded)
        prediction = self._answer([lap], features, out, loaded)[0]
        if loaded is None or features["reference_fc_s"][0] is None:
            return Explanation(prediction=prediction, reference=None, bias=None, contributions=[])
        shap = loaded.model.contributions(features).row(0, named=True)
        bias = shap.pop("bias")
        top_features = sorted(shap, key=lambda name: abs(shap[name]), reverse=True)[:top]
        reference = features["reference_fc_s"][0] + (features["fuel_kg"][0] or 0.0) * FUEL_SECONDS_PER_KG
        return Explanation(
            prediction=prediction, reference=reference, bias=bias,
            contributions=[Contribution(feature=name, value=_plain(features[name][0]),
                                        contribution=shap[name]) for name in top_features])

    @bentoml.api
    def reload(self) -> ModelInfo:
        """Re-reads the champion alias now (admin), even a version that failed to load lately."""
        self.champion.refresh(force=True)
        return self._model_info()

    @info.get("/model")
    def model(self) -> ModelInfo:
        """The champion being served: version, training metrics, training data version."""
        return self._model_info()

    def _model_info(self) -> ModelInfo:
        loaded = self.champion.current
        return ModelInfo(serving=loaded.version if loaded else None, degraded=loaded is None,
                         card=loaded.card if loaded else None, last_error=self.champion.last_error)

    def _predict(self, laps: list[LapToPredict], loaded: LoadedModel | None):
        started = time.perf_counter()
        features = features_for(laps)
        self.feature_seconds.observe(time.perf_counter() - started)
        out = loaded.model.predict(features) if loaded else baseline_predict(features)
        return features, out

    def _answer(self, laps, features: pl.DataFrame, out: pl.DataFrame,
                loaded: LoadedModel | None) -> list[Prediction]:
        version = loaded.version if loaded else None
        degraded = loaded is None
        predictions = [Prediction(lap_time=_number(r["lap_time"]), lower=_number(r["lower"]),
                                  upper=_number(r["upper"]), model_version=version, degraded=degraded)
                       for r in out.iter_rows(named=True)]
        self.predictions.labels(version or "none", str(degraded).lower()).inc(len(predictions))
        self.version_gauge.set(int(version) if version else 0)
        self._log(laps, features, predictions)
        return predictions

    def _log(self, laps: list[LapToPredict], features: pl.DataFrame, predictions: list[Prediction]) -> None:
        request_id, now = uuid.uuid4().hex, datetime.now(timezone.utc).isoformat()
        rows = features.select(FEATURES).with_columns(pl.col(pl.Float64).fill_nan(None)).to_dicts()
        self.log.append([
            {"logged_at": now, "request_id": request_id, "season": lap.season, "event": lap.event,
             "session": lap.session, "driver": lap.driver, **row, "lap_number": lap.lap_number,
             **p.model_dump()}
            for lap, row, p in zip(laps, rows, predictions)
        ])


def _number(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _plain(value):
    return value if value is None or isinstance(value, str) else float(value)


LapTimeService.add_asgi_middleware(UnprocessableInput)
LapTimeService.add_asgi_middleware(ApiKeyAuth)
LapTimeService.add_asgi_middleware(OpenApi31, service=LapTimeService)
