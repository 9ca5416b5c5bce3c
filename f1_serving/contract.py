"""What the service answers (the requests are `f1_core.live.LapToPredict`, shared with training)."""

from __future__ import annotations

from pydantic import BaseModel, Field

MAX_LAPS = 1000


class Prediction(BaseModel):
    lap_time: float | None = Field(description="predicted lap time, seconds; null only when degraded "
                                               "and the driver has no earlier timed lap")
    lower: float | None = Field(description="lower end of the 90% interval, seconds (null when degraded)")
    upper: float | None = Field(description="upper end of the 90% interval, seconds (null when degraded)")
    model_version: str | None = Field(description="registry version of the model; null when degraded")
    degraded: bool = Field(description="true: no model could be loaded, this is the baseline "
                                       "(the driver's previous clean lap)")


class Contribution(BaseModel):
    feature: str
    value: float | str | None = Field(description="the feature's value for this lap")
    contribution: float = Field(description="seconds this feature adds to the prediction (SHAP)")


class Explanation(BaseModel):
    prediction: Prediction
    reference: float | None = Field(description="the pace the model starts from: reference pace plus "
                                                "fuel effect, seconds; null when the lap has none")
    bias: float | None = Field(description="the model's average correction, seconds")
    contributions: list[Contribution] = Field(description="largest first; they add up to "
                                                          "lap_time - reference - bias")


class ModelInfo(BaseModel):
    serving: str | None = Field(description="version being served; null when degraded")
    degraded: bool
    card: dict | None = Field(description="registry version, aliases, training metrics, data version")
    last_error: str | None = Field(description="the last model-loading error, if the last load failed")
