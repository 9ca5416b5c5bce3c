"""What the service answers (the requests are `f1_core.live.LapToPredict`, shared with training)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

MAX_LAPS = 1000


class Prediction(BaseModel):
    lap_time: float | None = Field(
        description="predicted lap time, seconds; null only when degraded and the driver has no earlier timed lap"
    )
    lower: float | None = Field(description="lower end of the 90% interval, seconds (null when degraded)")
    upper: float | None = Field(description="upper end of the 90% interval, seconds (null when degraded)")
    model_version: str | None = Field(description="registry version of the model; null when degraded")
    degraded: bool = Field(
        description="true: no model could be loaded, this is the baseline (the driver's previous clean lap)"
    )
    intent: Literal["push", "cool_down", "race_sim"] | None = Field(
        default=None,
        description="practice and qualifying: the kind of lap predicted, as asked or `push` when "
        "the request gave none; null in races and sprints",
    )
    intent_assumed: bool = Field(
        default=False, description="true: the request gave no intent, and this is the push-lap prediction"
    )
    context: Literal["session", "request"] = Field(
        description="what the features knew: `session`, the live session's state as of the lap's "
        "start (every lap of the field, the weather readings); `request`, the request "
        "alone (the service holds no state for that session)"
    )


class Contribution(BaseModel):
    feature: str
    value: float | str | None = Field(description="the feature's value for this lap")
    contribution: float = Field(description="seconds this feature adds to the prediction (SHAP)")


class Explanation(BaseModel):
    prediction: Prediction
    reference: float | None = Field(
        description="the pace the model starts from: reference pace plus "
        "fuel effect, seconds; null when the lap has none"
    )
    bias: float | None = Field(description="the model's average correction, seconds")
    contributions: list[Contribution] = Field(description="largest first; they add up to lap_time - reference - bias")


class ModelInfo(BaseModel):
    serving: str | None = Field(description="version being served; null when degraded")
    degraded: bool
    card: dict | None = Field(description="registry version, aliases, training metrics, data version")
    last_error: str | None = Field(description="the last model-loading error, if the last load failed")
    online_store: dict = Field(
        description="where live session states come from: backend, whether it is reachable and, if not, why"
    )


class LiveSession(BaseModel):
    session_key: str
    season: int
    event_name: str
    session_name: str
    circuit_ref: str
    laps: int = Field(description="laps of the field in the state")
    drivers: int
    weather_rows: int
    version: int = Field(description="changes of the state since this process first read it")
    updated_at: float = Field(description="when its last row landed (Unix seconds)")


class LiveSessions(BaseModel):
    worker: int = Field(description="process id of the worker that answered")
    online_store: dict
    sessions: list[LiveSession]
