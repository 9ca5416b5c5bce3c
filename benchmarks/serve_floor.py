"""The floor under the prediction service's latency: a BentoML service with the same request
contract (the same pydantic validation of the laps), the same workers and the same hand-built
JSON answer, but no API keys, features, model or prediction log. `serve_load.py --floor` loads it
exactly as it loads the real service: what it measures is what BentoML, the HTTP stack and the
load generator cost on this machine before the service does any work of its own."""

import json
import os
from typing import Annotated

import bentoml
from pydantic import Field
from starlette.responses import Response

from f1_core.live import LapToPredict


@bentoml.service(name="f1_floor", workers=int(os.environ.get("F1_SERVING_WORKERS", "2")), threads=1)
class Floor:
    @bentoml.api
    async def predict(self, laps: Annotated[list[LapToPredict], Field(min_length=1, max_length=1000)]) -> list[dict]:
        answer = [
            {"lap_time": 90.0, "lower": 88.0, "upper": 92.0, "model_version": "0", "degraded": False} for _ in laps
        ]
        return Response(json.dumps(answer).encode(), media_type="application/json")
