"""Laps as a live client sends them (the serving contract), turned into the pipeline's lap rows so
`features` computes their features: one implementation for training and serving.

A lap's features come from one of two contexts, and every answer says which:
- `session`: the service holds the live session's state (`session_state`: every lap the field
  has completed, every weather reading, fed from the same live lap stream the pipeline
  ingests). The lap's features are computed from it as of the lap's start, and equal the
  pipeline's for the same lap.
- `request`: no state for that session (not live, or the store is unreachable). The request
  alone is the session: its `previous_laps` are the driver's completed laps, their session times
  the running sum of their lap times, the lap's weather the request's reading, and "the field"
  the driver alone. Laps the request does not describe (deleted, accuracy) count as not deleted
  and accurate; a new stint starts after a pit-in lap or where the tyres change, unless the
  client gives stints.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

import polars as pl
from pydantic import BaseModel, Field, field_validator, model_validator

from f1_core.catalog import circuit_of_event, session_type
from f1_core.standardize import COMPOUNDS

# as FastF1 writes them; the schema lists these, the API accepts any letter case
SESSION_NAMES = [
    "Practice 1",
    "Practice 2",
    "Practice 3",
    "Qualifying",
    "Sprint Qualifying",
    "Sprint Shootout",
    "Sprint",
    "Race",
]
CONTEXTS = ("session", "request")
# Which weather reading a lap gets: the pipeline's rule (features.weather_index), written where a
# client reads the contract.
WEATHER_RULE = (
    "the weather fields are the session's last reading at or before the lap's start (changes "
    "are measured from its first reading); ignored when the service holds the session's "
    "state, whose readings count"
)


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class PreviousLap(BaseModel):
    lap_number: int = Field(ge=1, le=200)
    lap_time: float | None = Field(default=None, gt=0, le=1200, description="seconds; null if untimed")
    sector1: float | None = Field(default=None, gt=0, le=1200)
    sector2: float | None = Field(default=None, gt=0, le=1200)
    sector3: float | None = Field(default=None, gt=0, le=1200)
    compound: str | None = Field(
        default=None, description="tyre compound (any letter case)", json_schema_extra={"enum": [*COMPOUNDS, None]}
    )
    tyre_life: int | None = Field(default=None, ge=0, le=100)
    pit_in: bool = False
    pit_out: bool = False
    track_status: str = Field(default="1", pattern=r"^[0-9]{1,8}$")
    stint: int | None = Field(
        default=None, ge=1, le=20, description="FastF1's stint number; omitted: derived from tyres and pit stops"
    )

    _finite = field_validator("lap_time", "sector1", "sector2", "sector3")(_finite)

    @field_validator("compound")
    @classmethod
    def _known_compound(cls, value):
        if value is not None and value.upper() not in COMPOUNDS:
            raise ValueError(f"unknown compound {value!r}; expected one of {', '.join(COMPOUNDS)}")
        return None if value is None else value.upper()


class LapToPredict(BaseModel):
    season: int = Field(ge=1950, le=2100)
    event: str = Field(min_length=1, max_length=80, description="e.g. Qatar Grand Prix")
    session: str = Field(
        description="FastF1's session name (any letter case)", json_schema_extra={"enum": SESSION_NAMES}
    )
    driver: str = Field(min_length=1, max_length=8)
    team: str | None = None
    lap_number: int = Field(ge=1, le=200)
    lap_start_time: float | None = Field(
        default=None,
        ge=0,
        le=86400,
        description="session time at the lap's start, seconds (FastF1's LapStartTime); omitted: "
        "lap_start_date on the session's clock, else the end of the driver's previous lap",
    )
    lap_start_date: datetime | None = Field(
        default=None,
        description="wall-clock time of the lap's start (FastF1's LapStartDate), UTC when no offset is given",
    )
    stint: int | None = Field(
        default=None,
        ge=1,
        le=20,
        description="FastF1's stint number, used as the pipeline uses it (null: "
        "unknown, as FastF1 has for some laps); omitted: derived "
        "from tyres and pit stops",
    )
    compound: str | None = Field(
        default=None,
        description="tyre compound (any letter case); null: unknown",
        json_schema_extra={"enum": [*COMPOUNDS, None]},
    )
    tyre_life: int | None = Field(
        default=None, ge=0, le=100, description="laps on this set, this one included; null: unknown"
    )
    fresh_tyre: bool | None = None
    position: int | None = Field(
        default=None, ge=1, le=30, description="position as the lap starts (used without a session state)"
    )
    track_status: str = Field(default="1", pattern=r"^[0-9]{1,8}$")
    total_laps: int | None = Field(
        default=None, ge=1, le=200, description="race distance in laps (races and sprints): the fuel estimate needs it"
    )
    air_temp: float | None = Field(default=None, ge=-30, le=60, description=f"°C; {WEATHER_RULE}")
    track_temp: float | None = Field(default=None, ge=-30, le=80, description="°C")
    humidity: float | None = Field(default=None, ge=0, le=100, description="%")
    pressure: float | None = Field(default=None, ge=500, le=1100, description="hPa")
    rainfall: bool | None = None
    wind_speed: float | None = Field(default=None, ge=0, le=60, description="m/s")
    wind_direction: float | None = Field(default=None, ge=0, le=360, description="degrees")
    pit_out: bool = Field(default=False, description="the lap starts from the pit lane")
    intent: Literal["push", "cool_down", "race_sim"] | None = Field(
        default=None,
        description="practice and qualifying: what the driver means the lap to be (push lap, cool-down "
        "lap, a lap of a race simulation); omitted there: predicted as a push lap, with a band "
        "calibrated on every kind of lap; ignored in races and sprints",
    )
    previous_laps: list[PreviousLap] = Field(default_factory=list, max_length=200)

    _finite = field_validator("air_temp", "track_temp", "humidity", "pressure", "wind_speed", "wind_direction")(_finite)
    _known_compound = field_validator("compound")(PreviousLap._known_compound.__func__)

    @field_validator("session")
    @classmethod
    def _known_session(cls, value):
        session_type(value)  # raises, naming the session names it knows
        return value

    @field_validator("previous_laps")
    @classmethod
    def _earlier_laps(cls, laps):
        numbers = [lap.lap_number for lap in laps]
        if numbers != sorted(set(numbers)):
            raise ValueError("previous_laps must be in lap order, each lap once")
        return laps

    @model_validator(mode="after")
    def _history_before_the_lap(self):
        if self.previous_laps and self.previous_laps[-1].lap_number >= self.lap_number:
            raise ValueError(
                f"previous_laps must end before lap_number {self.lap_number}; the last "
                f"is lap {self.previous_laps[-1].lap_number}"
            )
        return self


def pipeline_rows(lap: LapToPredict, session_key: str) -> tuple[list[dict], dict | None]:
    """The request as the pipeline's lap rows (previous laps, then the lap to predict) and its
    weather reading, as plain rows (a batch becomes one frame); see the module docstring for what
    is assumed."""
    rows, clock, stint, before = [], 0.0, None, None
    for index, prev in enumerate(lap.previous_laps):
        stint = prev.stint if prev.stint is not None else _derived_stint(before, stint, prev.compound, prev.tyre_life)
        start = clock
        end = None if prev.lap_time is None or clock is None else clock + prev.lap_time
        last = index == len(lap.previous_laps) - 1
        rows.append(
            {
                "lap_number": prev.lap_number,
                "stint": stint,
                "lap_time_s": prev.lap_time,
                "sector1_s": prev.sector1,
                "sector2_s": prev.sector2,
                "sector3_s": prev.sector3,
                "compound": prev.compound,
                "tyre_life": prev.tyre_life,
                "pit_out_time_s": start if prev.pit_out else None,
                "pit_in_time_s": end if prev.pit_in else None,
                "lap_start_time_s": start,
                "session_time_s": end,
                "track_status": prev.track_status,
                "position": lap.position if last else None,
            }
        )
        clock = end  # an untimed lap stops the clock: later laps have no session time
        before = prev
    if "stint" in lap.model_fields_set:
        stint = lap.stint
    else:
        stint = _derived_stint(before, stint, lap.compound, lap.tyre_life)
    rows.append(
        {
            "lap_number": lap.lap_number,
            "stint": stint,
            "lap_time_s": None,
            "compound": lap.compound,
            "tyre_life": lap.tyre_life,
            "fresh_tyre": lap.fresh_tyre,
            "intent": lap.intent,
            "pit_out_time_s": clock if lap.pit_out else None,
            "lap_start_time_s": clock,
            "track_status": lap.track_status,
        }
    )
    for row in rows:
        row.update(session_key=session_key, driver=lap.driver, deleted=False, is_accurate=True)
    weather = (
        {
            "session_key": session_key,
            "session_time_s": clock if clock is not None else 0.0,
            "air_temp_c": lap.air_temp,
            "track_temp_c": lap.track_temp,
            "humidity_pct": lap.humidity,
            "pressure_hpa": lap.pressure,
            "wind_direction_deg": lap.wind_direction,
            "wind_speed_ms": lap.wind_speed,
            "rainfall": lap.rainfall,
        }
        if any(
            v is not None
            for v in (
                lap.air_temp,
                lap.track_temp,
                lap.humidity,
                lap.pressure,
                lap.rainfall,
                lap.wind_speed,
                lap.wind_direction,
            )
        )
        else None
    )
    return rows, weather


def _derived_stint(before: PreviousLap | None, stint: int | None, compound: str | None, tyre_life: int | None) -> int:
    """A stint the client did not give: the previous lap's, one more after a pit-in lap or a tyre
    change (FastF1 numbers them the same way)."""
    if before is None:
        return 1
    new = new_tyre_set(before.pit_in, before.compound, before.tyre_life, compound, tyre_life)
    return (stint or 1) + (1 if new else 0)


def new_tyre_set(
    pit_in: bool,
    compound_before: str | None,
    life_before: int | float | None,
    compound: str | None,
    tyre_life: int | float | None,
) -> bool:
    """A lap after a pit-in lap, or on younger tyres or another compound, starts a new stint."""
    younger = life_before is not None and tyre_life is not None and tyre_life < life_before
    other = compound_before is not None and compound is not None and compound != compound_before
    return pit_in or younger or other


def session_row(lap: LapToPredict, session_key: str, circuit_ref: str) -> dict:
    return {
        "session_key": session_key,
        "season": lap.season,
        "circuit_ref": circuit_ref,
        "session_type": session_type(lap.session),
        "total_laps": lap.total_laps,
    }


def features_for(laps: list[LapToPredict], circuit_of=circuit_of_event) -> list[dict]:
    """The feature rows (`features.feature_rows`, the rows of `lap_features`) of each lap to
    predict, in order: what the models predict from (`features.features_frame` makes them a
    frame). `circuit_of(event_name)` names the circuit."""
    from f1_core.features import feature_rows

    rows, weathers, sessions = [], [], []
    width = len(str(len(laps)))
    for index, lap in enumerate(laps):
        key = f"request-{index:0{width}d}"  # sorts as the requests do: feature_rows returns them in order
        lap_rows, weather = pipeline_rows(lap, key)
        rows.extend(lap_rows)
        if weather is not None:
            weathers.append(weather)
        sessions.append(session_row(lap, key, circuit_of(lap.event)))
    # a request is one driver's laps, the lap to predict last: its features are the last lap's
    return feature_rows(rows, sessions, weathers, last_only=True)


def baseline_predict(features: list[dict]) -> pl.DataFrame:
    """What the service answers with no model (`degraded`), from `features_for`'s rows: the
    driver's previous clean lap, else the previous lap; no interval, since nothing calibrates
    one. Null for a first lap."""
    point = [
        row["prev_lap_time_s"] if row["prev_clean_lap_time_s"] is None else row["prev_clean_lap_time_s"]
        for row in features
    ]
    return pl.DataFrame(
        {"lap_time": point, "lower": [None] * len(point), "upper": [None] * len(point)},
        schema=dict.fromkeys(("lap_time", "lower", "upper"), pl.Float64),
    )


def request_for(
    laps: pl.DataFrame,
    lap_number: int,
    *,
    season: int,
    event: str,
    session: str,
    reading: dict | None = None,
    total_laps: int | None = None,
) -> LapToPredict:
    """The request a live client would send as `lap_number` starts, from one driver's standardized
    lap rows (the warehouse `laps` columns) and the last weather reading at or before the lap's
    start: what the replay, the benchmarks and the tests send. Values FastF1 does not have (a
    compound, a tyre life, a stint) are sent as null, as the pipeline has them."""
    earlier = laps.filter(pl.col("lap_number") < lap_number).sort("lap_number")
    lap = laps.filter(pl.col("lap_number") == lap_number).row(0, named=True)
    reading = reading or {}
    return LapToPredict(
        season=season,
        event=event,
        session=session,
        driver=lap["driver"],
        team=lap.get("team"),
        lap_number=lap_number,
        lap_start_time=lap["lap_start_time_s"],
        lap_start_date=lap.get("lap_start_date"),
        stint=lap["stint"],
        compound=lap["compound"],
        tyre_life=lap["tyre_life"],
        fresh_tyre=lap["fresh_tyre"],
        position=earlier["position"][-1] if earlier.height else None,
        total_laps=total_laps,
        pit_out=lap["pit_out_time_s"] is not None,
        intent=lap.get("intent"),
        track_status=lap["track_status"] or "1",
        air_temp=reading.get("air_temp_c"),
        track_temp=reading.get("track_temp_c"),
        humidity=reading.get("humidity_pct"),
        pressure=reading.get("pressure_hpa"),
        rainfall=reading.get("rainfall"),
        wind_speed=reading.get("wind_speed_ms"),
        wind_direction=reading.get("wind_direction_deg"),
        previous_laps=[
            {
                "lap_number": r["lap_number"],
                "lap_time": r["lap_time_s"],
                "sector1": r["sector1_s"],
                "sector2": r["sector2_s"],
                "sector3": r["sector3_s"],
                "compound": r["compound"],
                "tyre_life": r["tyre_life"],
                "stint": r["stint"],
                "pit_in": r["pit_in_time_s"] is not None,
                "pit_out": r["pit_out_time_s"] is not None,
                "track_status": r["track_status"] or "1",
            }
            for r in earlier.iter_rows(named=True)
        ],
    )
