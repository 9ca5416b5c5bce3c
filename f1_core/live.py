"""Laps as a live client sends them (the serving contract), turned into the pipeline's lap rows so
`features.feature_rows` (what `lap_features` runs) computes their features: one implementation
for training and serving.

A request carries, per lap to predict, what is known when it starts plus the driver's completed
laps of the session (`previous_laps`). The pipeline's rows are built from exactly that:
- a new stint starts after a pit-in lap, or where the tyres change (younger or another
  compound), so a missing in-lap does not merge two stints (FastF1 numbers them the same way);
- session times are the running sum of the previous lap times (the request has no clock), so the
  lap's start is when its previous lap ended, as in the pipeline;
- the current weather is a reading taken at the lap's start;
- a previous lap's `position` is the request's position (where the car is as the lap starts);
- laps the request does not describe (deleted, accuracy) count as not deleted and accurate.

What one request cannot carry: the field's laps and the session's first weather reading. The
features in `REQUEST_LIMITED` are therefore computed from the request alone: equal to what the
pipeline computes from the same laps and reading, but not to the pipeline's on the whole session
(the service keeps no session state across requests, which two workers would each see a part
of). Every other feature is the pipeline's on the whole session; `tests/test_live.py` checks both
against real sessions.
"""

from __future__ import annotations

import math

import polars as pl
from pydantic import BaseModel, Field, field_validator, model_validator

from f1_core.catalog import circuit_of_event, session_type
from f1_core.standardize import COMPOUNDS

# as FastF1 writes them; the schema lists these, the API accepts any letter case
SESSION_NAMES = ["Practice 1", "Practice 2", "Practice 3", "Qualifying", "Sprint Qualifying",
                 "Sprint Shootout", "Sprint", "Race"]
REQUEST_LIMITED = ("field_laps_completed", "field_recent_fc_s", "field_evolution_s",
                   "air_temp_change_c", "track_temp_change_c", "humidity_change_pct")


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
    compound: str | None = Field(default=None, description="tyre compound (any letter case)",
                                 json_schema_extra={"enum": [*COMPOUNDS, None]})
    tyre_life: int | None = Field(default=None, ge=0, le=100)
    pit_in: bool = False
    pit_out: bool = False
    track_status: str = Field(default="1", pattern=r"^[0-9]{1,8}$")

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
    session: str = Field(description="FastF1's session name (any letter case)",
                         json_schema_extra={"enum": SESSION_NAMES})
    driver: str = Field(min_length=1, max_length=8)
    team: str | None = None
    lap_number: int = Field(ge=1, le=200)
    stint: int | None = Field(default=None, ge=1, le=20,
                              description="informative: the stint is derived from tyres and pit stops")
    compound: str = Field(description="tyre compound (any letter case)",
                          json_schema_extra={"enum": list(COMPOUNDS)})
    tyre_life: int = Field(ge=0, le=100)
    fresh_tyre: bool | None = None
    position: int | None = Field(default=None, ge=1, le=30)
    track_status: str = Field(default="1", pattern=r"^[0-9]{1,8}$")
    total_laps: int | None = Field(default=None, ge=1, le=200)
    air_temp: float | None = Field(default=None, ge=-30, le=60)
    track_temp: float | None = Field(default=None, ge=-30, le=80)
    humidity: float | None = Field(default=None, ge=0, le=100)
    pressure: float | None = Field(default=None, ge=500, le=1100)
    rainfall: bool | None = None
    wind_speed: float | None = Field(default=None, ge=0, le=60)
    wind_direction: float | None = Field(default=None, ge=0, le=360)
    pit_out: bool = Field(default=False, description="the lap starts from the pit lane")
    previous_laps: list[PreviousLap] = Field(default_factory=list, max_length=200)

    _finite = field_validator("air_temp", "track_temp", "humidity", "pressure", "wind_speed",
                              "wind_direction")(_finite)
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
            raise ValueError(f"previous_laps must end before lap_number {self.lap_number}; the last "
                             f"is lap {self.previous_laps[-1].lap_number}")
        return self


def pipeline_rows(lap: LapToPredict, session_key: str) -> tuple[list[dict], dict | None]:
    """The request as the pipeline's lap rows (previous laps, then the lap to predict) and its
    weather reading, as plain rows (a batch becomes one frame); see the module docstring for what
    is assumed."""
    rows, clock, stint, before = [], 0.0, 1, None
    for index, prev in enumerate(lap.previous_laps):
        if before is not None and _new_set(before, prev.compound, prev.tyre_life):
            stint += 1
        start = clock
        end = None if prev.lap_time is None or clock is None else clock + prev.lap_time
        last = index == len(lap.previous_laps) - 1
        rows.append({
            "lap_number": prev.lap_number, "stint": stint, "lap_time_s": prev.lap_time,
            "sector1_s": prev.sector1, "sector2_s": prev.sector2, "sector3_s": prev.sector3,
            "compound": prev.compound, "tyre_life": prev.tyre_life,
            "pit_out_time_s": start if prev.pit_out else None,
            "pit_in_time_s": end if prev.pit_in else None,
            "lap_start_time_s": start, "session_time_s": end, "track_status": prev.track_status,
            "position": lap.position if last else None,
        })
        clock = end  # an untimed lap stops the clock: later laps have no session time
        before = prev
    if before is not None and _new_set(before, lap.compound, lap.tyre_life):
        stint += 1
    rows.append({
        # the derived stint, not the request's: the lap must share its stint with its history
        "lap_number": lap.lap_number, "stint": stint, "lap_time_s": None,
        "compound": lap.compound, "tyre_life": lap.tyre_life, "fresh_tyre": lap.fresh_tyre,
        "pit_out_time_s": clock if lap.pit_out else None, "lap_start_time_s": clock,
        "track_status": lap.track_status,
    })
    for row in rows:
        row.update(session_key=session_key, driver=lap.driver, deleted=False, is_accurate=True)
    weather = {
        "session_key": session_key, "session_time_s": clock if clock is not None else 0.0,
        "air_temp_c": lap.air_temp, "track_temp_c": lap.track_temp, "humidity_pct": lap.humidity,
        "pressure_hpa": lap.pressure, "wind_direction_deg": lap.wind_direction,
        "wind_speed_ms": lap.wind_speed, "rainfall": lap.rainfall,
    } if any(v is not None for v in (lap.air_temp, lap.track_temp, lap.humidity, lap.pressure,
                                        lap.rainfall, lap.wind_speed, lap.wind_direction)) else None
    return rows, weather


def _new_set(before: PreviousLap, compound: str | None, tyre_life: int | None) -> bool:
    younger = before.tyre_life is not None and tyre_life is not None and tyre_life < before.tyre_life
    other = before.compound is not None and compound is not None and compound != before.compound
    return before.pit_in or younger or other


def session_row(lap: LapToPredict, session_key: str, circuit_ref: str) -> dict:
    return {"session_key": session_key, "season": lap.season, "circuit_ref": circuit_ref,
            "session_type": session_type(lap.session), "total_laps": lap.total_laps}


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
    point = [row["prev_lap_time_s"] if row["prev_clean_lap_time_s"] is None else row["prev_clean_lap_time_s"]
             for row in features]
    return pl.DataFrame({"lap_time": point, "lower": [None] * len(point), "upper": [None] * len(point)},
                        schema=dict.fromkeys(("lap_time", "lower", "upper"), pl.Float64))


def request_for(laps: pl.DataFrame, lap_number: int, *, season: int, event: str, session: str,
                reading: dict | None = None, total_laps: int | None = None) -> LapToPredict:
    """The request a live client would send as `lap_number` starts, from one driver's standardized
    lap rows (the warehouse `laps` columns) and the last weather reading before the lap started:
    what the replay and the tests send."""
    earlier = laps.filter(pl.col("lap_number") < lap_number).sort("lap_number")
    lap = laps.filter(pl.col("lap_number") == lap_number).row(0, named=True)
    reading = reading or {}
    return LapToPredict(
        season=season, event=event, session=session, driver=lap["driver"], team=lap.get("team"),
        lap_number=lap_number, stint=lap["stint"], compound=lap["compound"] or "UNKNOWN",
        tyre_life=max(lap["tyre_life"] or 0, 0), fresh_tyre=lap["fresh_tyre"],
        position=earlier["position"][-1] if earlier.height else None, total_laps=total_laps,
        pit_out=lap["pit_out_time_s"] is not None,
        air_temp=reading.get("air_temp_c"), track_temp=reading.get("track_temp_c"),
        humidity=reading.get("humidity_pct"), pressure=reading.get("pressure_hpa"),
        rainfall=reading.get("rainfall"), wind_speed=reading.get("wind_speed_ms"),
        wind_direction=reading.get("wind_direction_deg"),
        previous_laps=[{
            "lap_number": r["lap_number"], "lap_time": r["lap_time_s"], "sector1": r["sector1_s"],
            "sector2": r["sector2_s"], "sector3": r["sector3_s"], "compound": r["compound"],
            "tyre_life": r["tyre_life"], "pit_in": r["pit_in_time_s"] is not None,
            "pit_out": r["pit_out_time_s"] is not None, "track_status": r["track_status"] or "1",
        } for r in earlier.iter_rows(named=True)],
    )
