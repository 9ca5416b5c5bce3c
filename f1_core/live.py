"""Laps as a live client sends them (the serving contract), turned into the pipeline's lap rows so
`features.lap_features` computes their features: one implementation for training and serving.

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
features in `REQUEST_LIMITED` are therefore computed from the request alone and differ from the
pipeline's (the service has to keep that session state itself: issue 4); every other feature is
the pipeline's, as `tests/test_live.py` checks against whole real sessions.
"""

from __future__ import annotations

import math

import polars as pl
from pydantic import BaseModel, Field, field_validator

from f1_core.catalog import SESSION_TYPES, session_type, slugify
from f1_core.standardize import COMPOUNDS

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
    compound: str | None = Field(default=None, description="SOFT, MEDIUM, HARD, INTERMEDIATE, WET, ...")
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
    session: str = Field(description="FastF1's session name: Practice 1, Qualifying, Sprint, Race, ...")
    driver: str = Field(min_length=1, max_length=8)
    team: str | None = None
    lap_number: int = Field(ge=1, le=200)
    stint: int | None = Field(default=None, ge=1, le=20,
                              description="informative: the stint is derived from tyres and pit stops")
    compound: str
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


def pipeline_rows(lap: LapToPredict, session_key: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The request as the pipeline's lap rows (previous laps, then the lap to predict) and its
    weather reading; see the module docstring for what is assumed."""
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
    laps = pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.lit(session_key).alias("session_key"), pl.lit(lap.driver).alias("driver"),
        pl.lit(False).alias("deleted"), pl.lit(True).alias("is_accurate"))
    weather = pl.DataFrame([{
        "session_key": session_key, "session_time_s": clock if clock is not None else 0.0,
        "air_temp_c": lap.air_temp, "track_temp_c": lap.track_temp, "humidity_pct": lap.humidity,
        "pressure_hpa": lap.pressure, "wind_direction_deg": lap.wind_direction,
        "wind_speed_ms": lap.wind_speed, "rainfall": lap.rainfall,
    }]) if any(v is not None for v in (lap.air_temp, lap.track_temp, lap.humidity, lap.pressure,
                                        lap.rainfall, lap.wind_speed, lap.wind_direction)) else None
    return laps, weather


def _new_set(before: PreviousLap, compound: str | None, tyre_life: int | None) -> bool:
    younger = before.tyre_life is not None and tyre_life is not None and tyre_life < before.tyre_life
    other = before.compound is not None and compound is not None and compound != before.compound
    return before.pit_in or younger or other


def session_row(lap: LapToPredict, session_key: str, circuit_ref: str) -> dict:
    return {"session_key": session_key, "season": lap.season, "circuit_ref": circuit_ref,
            "session_type": session_type(lap.session), "total_laps": lap.total_laps}


def features_for(laps: list[LapToPredict], circuit_of=None) -> pl.DataFrame:
    """Feature rows (as `features.lap_features` gives them) for each lap to predict, in order.
    `circuit_of(event_name)` names the circuit (default: a slug of the event name)."""
    from f1_core.features import lap_features

    circuit_of = circuit_of or (lambda event: slugify(event).removesuffix("-grand-prix").replace("-", "_"))
    frames, weathers, sessions = [], [], []
    for index, lap in enumerate(laps):
        key = f"request-{index}"
        rows, weather = pipeline_rows(lap, key)
        frames.append(rows)
        if weather is not None:
            weathers.append(weather)
        sessions.append(session_row(lap, key, circuit_of(lap.event)))
    features = lap_features(pl.concat(frames, how="diagonal_relaxed"), pl.DataFrame(sessions),
                            pl.concat(weathers, how="diagonal_relaxed") if weathers else None)
    wanted = pl.DataFrame({"session_key": [f"request-{i}" for i in range(len(laps))],
                           "lap_number": [lap.lap_number for lap in laps]},
                          schema={"session_key": pl.String, "lap_number": pl.Int16})
    return wanted.join(features, on=["session_key", "lap_number"], how="left", maintain_order="left")
