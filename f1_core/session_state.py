"""A live session's state: every lap the field has completed and every weather reading, as the
pipeline's standardized rows, from which a requested lap's features are computed as of the
lap's start with the pipeline's own functions (`features.lap_features_after`). This is the read
side of the online feature store; `online_store` keeps states, `live_feed` fills them.

A state is a snapshot: built once per change of the session (laps landing), then read by any
number of requests. What every request would otherwise recompute (each lap's derived values,
the field's lap ends and running pace, the weather readings in time order) is computed once, per
race distance (`total_laps`, which the fuel estimate of every lap depends on).
"""

from __future__ import annotations

import functools
import logging
import threading
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median

from f1_core.catalog import session_type, slugify
from f1_core.features import NO_FIELD, Field, field_index, judged, lap_features_after, prepare_laps, weather_index
from f1_core.live import LapToPredict, features_for, new_tyre_set

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4096)
def lookup_key(season: int, event: str, session: str) -> str:
    """How a request names a session (season, event, session name), any letter case or spacing:
    the state's index key. A live session's folder names it the same way in its manifest."""
    return f"{season}|{slugify(event)}|{slugify(session)}"


@dataclass(frozen=True)
class SessionMeta:
    """A live session as its manifest row names it."""

    session_key: str
    season: int
    event_name: str
    session_name: str
    circuit_ref: str
    total_laps: int | None = None  # the race distance, when the manifest gives it

    @property
    def lookup(self) -> str:
        return lookup_key(self.season, self.event_name, self.session_name)

    @property
    def session_type(self) -> str:
        return session_type(self.session_name)

    def as_dict(self) -> dict:
        return {
            "session_key": self.session_key,
            "season": self.season,
            "event_name": self.event_name,
            "session_name": self.session_name,
            "circuit_ref": self.circuit_ref,
            "total_laps": self.total_laps,
        }


@dataclass(frozen=True)
class Prepared:
    """A state's rows as the feature functions read them, for one race distance."""

    session: dict  # the features' session row
    laps_of: dict  # driver -> (lap numbers, prepared rows), in lap order
    field: Field
    weather: tuple | None
    rows: dict  # (driver, lap number) -> prepared row: what the next state reuses


class SessionState:
    """One live session's laps and weather readings at one moment (`version` counts changes)."""

    def __init__(
        self,
        meta: SessionMeta,
        laps: list[dict],
        weather: list[dict],
        version: int,
        updated_at: float,
        previous: SessionState | None = None,
        generation: str | None = None,
    ):
        """`previous`: the state this one follows, whose prepared rows it reuses (a lap's
        prepared row depends only on the lap and the race distance; its pace verdict is judged
        anew). `generation`: the store's for the session, new each time it was written anew
        (`online_store`'s `replace`)."""
        self.meta = meta
        self.generation = generation
        self.laps = laps
        self.weather = weather
        self.version = version
        self.updated_at = updated_at  # when its last row landed (epoch seconds)
        self._prepared: dict[int | None, Prepared] = {}
        self._previous = previous._prepared if previous is not None else {}
        self._clock_origin = None
        self._lock = threading.Lock()

    def warm(self) -> SessionState:
        """Prepares it for each race distance its previous state was read with, so the next
        request finds it ready (called where rows land, off the request path)."""
        for total_laps in list(self._previous):
            self.prepared(total_laps)
        return self

    @property
    def clock_origin(self) -> datetime | None:
        """Session time 0 on the wall clock: the median of each lap's start date less its start time."""
        if self._clock_origin is None:
            offsets = [
                (_date(lap["lap_start_date"]) - EPOCH).total_seconds() - lap["lap_start_time_s"]
                for lap in self.laps
                if lap.get("lap_start_date") is not None and lap["lap_start_time_s"] is not None
            ]
            self._clock_origin = EPOCH + timedelta(seconds=median(offsets)) if offsets else None
        return self._clock_origin

    def prepared(self, total_laps: int | None) -> Prepared:
        found = self._prepared.get(total_laps)
        if found is None:
            with self._lock:
                found = self._prepared.get(total_laps) or self._prepare(total_laps)
                self._prepared[total_laps] = found
        return found

    def _prepare(self, total_laps: int | None) -> Prepared:
        key = self.meta.session_key
        session = {
            "session_key": key,
            "season": self.meta.season,
            "circuit_ref": self.meta.circuit_ref,
            "session_type": self.meta.session_type,
            "total_laps": total_laps,
        }
        before = self._previous.get(total_laps)
        reused = before.rows if before is not None else {}
        by_id = {}
        for lap in self.laps:
            ident = (lap["driver"], lap["lap_number"])
            by_id[ident] = reused.get(ident) or prepare_laps([lap], {key: session})[0]
        # the pace rule judges a lap against the laps around it: anew over the whole state
        rows = judged(sorted(by_id.values(), key=_driver_lap), session["session_type"])
        laps_of: dict = {}
        for row in rows:
            numbers, driver_rows = laps_of.setdefault(row["driver"], ([], []))
            numbers.append(row["lap_number"])
            driver_rows.append(row)
        return Prepared(
            session=session,
            laps_of=laps_of,
            field=field_index(rows).get(key, NO_FIELD),
            weather=weather_index(self.weather).get(key),
            rows=by_id,
        )

    def summary(self) -> dict:
        return {
            **self.meta.as_dict(),
            "laps": len(self.laps),
            "drivers": len({lap["driver"] for lap in self.laps}),
            "weather_rows": len(self.weather),
            "version": self.version,
            "updated_at": self.updated_at,
        }


EPOCH = datetime(1970, 1, 1)


def _driver_lap(row: dict) -> tuple:
    return row["driver"] is not None, row["driver"], row["lap_number"] is not None, row["lap_number"]


def _date(value) -> datetime:
    """A lap's start date as naive UTC (a client may write it with an offset)."""
    return _utc_naive(value if isinstance(value, datetime) else datetime.fromisoformat(value))


def features_in_session(lap, state: SessionState) -> dict:
    """The feature row of `lap` (a `live.LapToPredict`) as of its start, from the session's state:
    the driver's earlier laps and the field's and weather's as the state holds them, so the row
    equals the pipeline's for the same lap. Earlier laps of the driver the state does not hold
    yet (landing behind the request) are taken from the request's `previous_laps`. The race
    distance is the request's `total_laps`, else the live manifest's."""
    prepared = state.prepared(lap.total_laps or state.meta.total_laps)
    numbers, rows = prepared.laps_of.get(lap.driver, ((), ()))
    history = list(rows[: bisect_left(numbers, lap.lap_number)])
    if lap.previous_laps:
        history = _with_request_laps(history, lap, prepared.session)
    start = lap_start(lap, history, state)
    previous = history[-1] if history else None
    target = {
        "session_key": state.meta.session_key,
        "driver": lap.driver,
        "lap_number": lap.lap_number,
        "stint": lap.stint if "stint" in lap.model_fields_set else _next_stint(previous, lap),
        "compound": lap.compound,
        "tyre_life": lap.tyre_life,
        "fresh_tyre": lap.fresh_tyre,
        "intent": lap.intent,
        "pit_out_time_s": (start if start is not None else 0.0) if lap.pit_out else None,
        "lap_start_time_s": start,
        "track_status": lap.track_status,
        "deleted": False,
        "is_accurate": True,
    }
    weather = prepared.weather if prepared.weather is not None else _request_reading(lap, state.meta.session_key)
    return lap_features_after(history, target, prepared.session, prepared.field, weather)


def lap_start(lap, history: list[dict], state: SessionState) -> float | None:
    """When the lap started (session seconds): the request's `lap_start_time`, else its
    `lap_start_date` on the session's clock, else the end of the driver's previous lap (FastF1's
    own rule for a lap's start)."""
    if lap.lap_start_time is not None:
        return lap.lap_start_time
    if lap.lap_start_date is not None and state.clock_origin is not None:
        return (_utc_naive(lap.lap_start_date) - state.clock_origin).total_seconds()
    if history and history[-1]["lap_number"] == lap.lap_number - 1:
        return history[-1]["session_time_s"]
    return None


def _utc_naive(value: datetime) -> datetime:
    return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)


def _next_stint(previous: dict | None, lap) -> float:
    """A stint the client did not give: the previous lap's (a state row), one more when
    `live.new_tyre_set` says so."""
    if previous is None:
        return 1.0
    new = new_tyre_set(
        previous["pit_in_time_s"] is not None, previous["compound"], previous["tyre_life"], lap.compound, lap.tyre_life
    )
    return (previous["stint"] or 1.0) + (1 if new else 0)


def _with_request_laps(history: list[dict], lap, session: dict) -> list[dict]:
    """`history` and the request's earlier laps it lacks, in lap order (their session times are
    unknown: they only make the driver's history)."""
    known = {row["lap_number"] for row in history}
    missing = [prev for prev in lap.previous_laps if prev.lap_number not in known]
    if not missing:
        return history
    merged = sorted(history, key=lambda row: row["lap_number"])
    for prev in missing:
        earlier = [row for row in merged if row["lap_number"] < prev.lap_number]
        row = {
            "session_key": session["session_key"],
            "driver": lap.driver,
            "lap_number": prev.lap_number,
            "stint": prev.stint if prev.stint is not None else _next_stint(earlier[-1] if earlier else None, prev),
            "lap_time_s": prev.lap_time,
            "sector1_s": prev.sector1,
            "sector2_s": prev.sector2,
            "sector3_s": prev.sector3,
            "compound": prev.compound,
            "tyre_life": prev.tyre_life,
            "pit_out_time_s": 0.0 if prev.pit_out else None,
            "pit_in_time_s": 0.0 if prev.pit_in else None,
            "track_status": prev.track_status,
            "deleted": False,
            "is_accurate": True,
        }
        merged.insert(len(earlier), prepare_laps([row], {session["session_key"]: session})[0])
    return merged


def _request_reading(lap, session_key: str) -> tuple | None:
    """The request's own weather reading, for a state that has none: taken at the lap's start."""
    values = {
        "air_temp_c": lap.air_temp,
        "track_temp_c": lap.track_temp,
        "humidity_pct": lap.humidity,
        "pressure_hpa": lap.pressure,
        "wind_direction_deg": lap.wind_direction,
        "wind_speed_ms": lap.wind_speed,
        "rainfall": lap.rainfall,
    }
    if all(value is None for value in values.values()):
        return None
    reading = {"session_key": session_key, "session_time_s": float("-inf"), **values}
    return [reading], [reading["session_time_s"]]


def served_features(laps: list[LapToPredict], state_of) -> tuple[list[dict], list[str]]:
    """Each lap's feature row and its context (`live.CONTEXTS`): `session` where
    `state_of(lap)` gives the lap's session state, `request` (`live.features_for`) where it
    gives None."""
    rows: list = [None] * len(laps)
    contexts = ["request"] * len(laps)
    alone = []
    for index, lap in enumerate(laps):
        state = state_of(lap)
        if state is None:
            alone.append(index)
            continue
        try:
            rows[index] = features_in_session(lap, state)
            contexts[index] = "session"
        except Exception:  # a state that cannot answer this lap must not fail it: the request alone
            logger.exception(
                "features of %s lap %d from the state of %s failed; answering from the request",
                lap.driver,
                lap.lap_number,
                state.meta.session_key,
            )
            alone.append(index)
    if alone:
        for index, row in zip(alone, features_for([laps[i] for i in alone]), strict=True):
            rows[index] = row
    return rows, contexts
