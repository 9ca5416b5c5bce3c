"""The lap-time service: the registry's champion behind `POST /predict` and `/explain`.

Features come from `f1_core.session_state` (a live session's state, fed from the live lap stream
by `f1_core.live_feed`) or, for a session with no state, from the request alone
(`f1_core.live`): the code training uses. See docs/serving.md for the contract, roles and
operations.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import os
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated

# Workers (processes) are the unit of parallelism; within one, polars's thread pool would only
# compete with them for the cores on a request's few rows.
os.environ.setdefault("POLARS_MAX_THREADS", "1")

import bentoml
import polars as pl
from fastapi import FastAPI
from pydantic import Field
from starlette.responses import Response

from f1_core import settings
from f1_core.features import FEATURES, FUEL_SECONDS_PER_KG, OUTPUT, features_frame
from f1_core.intent import predicted_intent
from f1_core.live import LapToPredict, baseline_predict
from f1_core.live_feed import LiveFeed
from f1_core.online_store import StoreUnavailable
from f1_core.prediction_log import PredictionLog
from f1_core.session_state import lookup_key, served_features
from f1_serving.batching import Batcher
from f1_serving.champion import Champion, LoadedModel
from f1_serving.contract import MAX_LAPS, Contribution, Explanation, LiveSessions, ModelInfo, Prediction
from f1_serving.middleware import ApiKeyAuth, OpenApi31, UnprocessableInput

logger = logging.getLogger("f1_serving")

# GET endpoints: BentoML's APIs are POST only
info = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@bentoml.asgi_app(info, path="/")
@bentoml.service(
    name="f1_laptime",
    workers=int(os.environ.get("F1_SERVING_WORKERS", "2")),  # one per core of the target machine
    threads=int(os.environ.get("F1_SERVING_THREADS", "1")),
    # BentoML keeps each request's context (its trace span included, ~4 KB) until its timeout
    # timer fires, answered or not: at 60 s a worker held 300 MB more at full load. A lap's
    # prediction 10 s late is of no use to a live session; a 1000-lap batch takes 0.3-0.4 s.
    traffic={"timeout": 10},
    logging={"access": {"request_content_type": False, "response_content_type": False}},
)
class LapTimeService:
    def __init__(self) -> None:
        import prometheus_client as prom  # after BentoML set up its multiprocess metrics

        logging.getLogger("f1_serving").setLevel(logging.INFO)  # BentoML's root logger shows warnings only
        self.champion = Champion(poll_seconds=float(os.environ.get("F1_SERVING_POLL_SECONDS", "2")))
        self.champion.refresh()  # the first load before the first request, not after
        self.champion.start()
        self.log = PredictionLog(settings.prediction_log_dir(), schema={name: OUTPUT[name] for name in FEATURES})
        self.store = settings.open_online_store()
        self.skipped_rows = prom.Gauge(
            "f1_live_rows_skipped",
            "rows of the live lap stream skipped (malformed, quarantined by the pipeline's rules, landed twice)",
            ["session_key", "table"],
            multiprocess_mode="livemax",
        )
        self.state_laps = prom.Gauge(
            "f1_live_state_laps",
            "laps of a live session in this worker's state",
            ["session_key"],
            multiprocess_mode="all",
        )
        self.feed = None
        if settings.live_feed_enabled():
            self.feed = LiveFeed(
                settings.live_dir(),
                self.store,
                ttl_s=settings.live_state_ttl_s(),
                on_skip=self._count_skipped,
                on_state=self._count_laps,
            )
            self.feed.start()  # after the assignment: its callbacks read self.feed
        self.batcher = Batcher(self._predict_laps, max_items=MAX_LAPS)
        self.predictions = prom.Counter("f1_predictions", "laps predicted", ["model_version", "degraded", "context"])
        self.state_seconds = prom.Histogram(
            "f1_state_seconds",
            "time to read a batch's live session states",
            buckets=(1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1),
        )
        self.version_gauge = prom.Gauge(
            "f1_champion_version", "registry version being served (0: degraded)", multiprocess_mode="livemax"
        )
        self.feature_seconds = prom.Histogram("f1_feature_seconds", "time to compute a batch's features")
        self.batch_seconds = prom.Histogram("f1_batch_seconds", "time to predict a batch of laps")
        self.batch_laps = prom.Histogram(
            "f1_batch_laps", "laps predicted together", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000)
        )
        # The start-up heap (libraries and models, millions of objects) never becomes garbage,
        # yet every full collection walked it: 300-450 ms pauses every second or two under load.
        # Frozen, it is left out, and full collections wait for 1000 younger ones instead of 10
        # (a request's objects are freed by reference counting: they are rarely needed).
        gc.collect()
        gc.freeze()
        gc.set_threshold(*gc.get_threshold()[:2], 1000)

    @bentoml.on_shutdown
    def close(self) -> None:
        self.batcher.stop()
        if self.feed is not None:
            self.feed.stop()
        self.store.close()
        self.champion.stop()
        self.log.close()

    def _count_laps(self, state) -> None:
        self.state_laps.labels(state.meta.session_key).set(len(state.laps))

    def _count_skipped(self, session_key: str, table: str, row: int, reason: str) -> None:
        # the rows one worker skipped; every worker reads the same stream, so the gauge's max
        # across workers is the stream's count
        self.skipped_rows.labels(session_key, table).set(self.feed.skipped[(session_key, table)])

    def __is_ready__(self) -> bool:
        return self.champion.current is not None

    @bentoml.api
    async def predict(
        self, laps: Annotated[list[LapToPredict], Field(min_length=1, max_length=MAX_LAPS)]
    ) -> list[Prediction]:
        """One prediction per lap, in order: lap time and 90% interval in seconds."""
        predictions = await self.batcher.submit(laps)
        return Response(json.dumps(predictions).encode(), media_type="application/json")

    def _predict_laps(self, laps: list[LapToPredict]) -> list[dict]:
        started = time.perf_counter()
        loaded = self.champion.current  # these laps finish on this model, whatever swaps
        features, contexts, out = self._predict(laps, loaded)
        answer = self._answer(laps, features, contexts, out, loaded)
        self.batch_seconds.observe(time.perf_counter() - started)
        self.batch_laps.observe(len(laps))
        return answer

    @bentoml.api
    def explain(self, lap: LapToPredict, top: Annotated[int, Field(ge=1, le=len(FEATURES))] = 10) -> Explanation:
        """The prediction for one lap with its `top` feature contributions (TreeSHAP), in seconds."""
        loaded = self.champion.current
        features, contexts, out = self._predict([lap], loaded)
        prediction = Prediction(**self._answer([lap], features, contexts, out, loaded)[0])
        row = features[0]
        if loaded is None or row["reference_fc_s"] is None:
            return Explanation(prediction=prediction, reference=None, bias=None, contributions=[])
        shap = loaded.model.contributions(features_frame(features)).row(0, named=True)
        bias = shap.pop("bias")
        top_features = sorted(shap, key=lambda name: abs(shap[name]), reverse=True)[:top]
        reference = row["reference_fc_s"] + (row["fuel_kg"] or 0.0) * FUEL_SECONDS_PER_KG
        return Explanation(
            prediction=prediction,
            reference=reference,
            bias=bias,
            contributions=[
                Contribution(feature=name, value=_plain(row[name]), contribution=shap[name]) for name in top_features
            ],
        )

    @bentoml.api
    def reload(self) -> ModelInfo:
        """Re-reads the champion alias now (admin), even a version that failed to load lately."""
        self.champion.refresh(force=True)
        return self._model_info()

    @info.get("/model")
    def model(self) -> ModelInfo:
        """The champion being served: version, training metrics, training data version, and the
        online store live session states come from."""
        return self._model_info()

    @info.get("/sessions")
    def sessions(self) -> LiveSessions:
        """The live sessions in this worker's state (engineer): laps, drivers, weather readings."""
        try:
            states = self.store.sessions()
        except StoreUnavailable:
            states = []
        return LiveSessions(
            worker=os.getpid(), online_store=self.store.status(), sessions=[state.summary() for state in states]
        )

    def _model_info(self) -> ModelInfo:
        loaded = self.champion.current
        return ModelInfo(
            serving=loaded.version if loaded else None,
            degraded=loaded is None,
            card=loaded.card if loaded else None,
            last_error=self.champion.last_error,
            online_store=self.store.status(),
        )

    def _predict(self, laps: list[LapToPredict], loaded: LoadedModel | None):
        started = time.perf_counter()
        states = self._states(laps)
        read = time.perf_counter()
        self.state_seconds.observe(read - started)
        features, contexts = served_features(laps, lambda lap: states[lookup_key(lap.season, lap.event, lap.session)])
        self.feature_seconds.observe(time.perf_counter() - read)
        out = loaded.model.predict(features) if loaded else baseline_predict(features)
        return features, contexts, out

    def _states(self, laps: list[LapToPredict]) -> dict:
        """The state of each session the laps name (None: answered from the request alone),
        read once per batch, with what landed in the live folder until now."""
        states: dict = {}
        for lap in laps:
            key = lookup_key(lap.season, lap.event, lap.session)
            if key in states:
                continue
            try:
                if self.feed is not None:
                    self.feed.sync_session(lap.season, lap.event, lap.session)
                states[key] = self.store.find(lap.season, lap.event, lap.session)
            except StoreUnavailable:
                states[key] = None  # the store says why in /model; it reconnects by itself
            except Exception:  # a bug reading the state must not fail the answer: the request alone
                logger.exception(
                    "live state of %s %s %s not read; answering from the request", lap.season, lap.event, lap.session
                )
                states[key] = None
        return states

    def _answer(
        self, laps, features: list[dict], contexts: list[str], out: pl.DataFrame, loaded: LoadedModel | None
    ) -> list[dict]:
        """Predictions as the contract's `Prediction` fields (checked by the tests; built as
        plain dicts because pydantic objects per lap would cost more than the model)."""
        version = loaded.version if loaded else None
        degraded = loaded is None
        # JSON has no NaN or infinity: a value the model could not make is null
        point, lower, upper = (
            [v if v is None or math.isfinite(v) else None for v in out[name].to_list()]
            for name in ("lap_time", "lower", "upper")
        )
        for context in set(contexts):
            self.predictions.labels(version or "none", str(degraded).lower(), context).inc(contexts.count(context))
        self.version_gauge.set(int(version) if version else 0)
        n = len(laps)
        self.log.append(
            features,
            {
                "logged_at": [datetime.now(UTC).isoformat()] * n,
                "batch_id": [uuid.uuid4().hex] * n,
                "season": [lap.season for lap in laps],
                "event": [lap.event for lap in laps],
                "session": [lap.session for lap in laps],
                "driver": [lap.driver for lap in laps],
                "lap_time": point,
                "lower": lower,
                "upper": upper,
                "model_version": [version] * n,
                "degraded": [degraded] * n,
                "context": contexts,
            },
            shadow=(loaded.shadow_version, loaded.shadow) if loaded and loaded.shadow else None,
        )
        return [
            {
                "lap_time": p,
                "lower": lo,
                "upper": hi,
                "model_version": version,
                "degraded": degraded,
                "context": context,
                **_intent_fields(row),
            }
            for p, lo, hi, context, row in zip(point, lower, upper, contexts, features, strict=True)
        ]


def _intent_fields(row: dict) -> dict:
    intent, assumed = predicted_intent(row["session_type"], row["intent"])
    return {"intent": intent, "intent_assumed": assumed}


def _plain(value):
    return value if value is None or isinstance(value, str) else float(value)


LapTimeService.add_asgi_middleware(UnprocessableInput)
LapTimeService.add_asgi_middleware(ApiKeyAuth)
LapTimeService.add_asgi_middleware(OpenApi31, service=LapTimeService)
