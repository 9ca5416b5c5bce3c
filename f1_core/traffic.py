"""Traffic from the field's line crossings: the car ahead on the road, whether the gap closes,
whether it holds this driver up, DRS, and the field's common mode. Known when a lap starts: every
crossing read here is a lap that ended at or before the start (the features' rule), so the same code trains and serves
from a live session's state.

A crossing is a lap's end (`session_time_s`): the driver crossing the timing line. The car ahead
on the road is the last other car to cross before this lap started, whatever lap it is on (a
lapped car blocks too). The car behind was tried too: cross-validation kept it out.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from statistics import median
from typing import NamedTuple

# DRS: within a second of the car ahead at the detection point (the line stands in for it), from
# the third lap of the race and the second green lap after a safety car.
DRS_GAP_S = 1.0
DRS_GREEN_LAPS = 2
BLOCKED_GAP_S = 1.5
# The common mode: the lap deltas of the last cars to cross ahead on the road, at most this
# many and this long before the start (a wind change, track evolution, a local yellow).
COMMON_CARS = 3
COMMON_WINDOW_S = 30.0
# the crossings looked back through for the car ahead (pit-lane and own crossings are skipped)
LOOK_BACK = 40

TRAFFIC_FEATURES = ("gap_ahead_s", "gap_ahead_change_s", "ahead_pace_s", "blocked", "drs_eligible", "common_mode_s")
NO_TRAFFIC = dict.fromkeys(TRAFFIC_FEATURES)


class Road(NamedTuple):
    """One session's crossings in time order."""

    times: list[float]
    drivers: list[str]
    deltas: list[float | None]  # the lap's fuel-corrected time less the driver's previous representative one
    paces: list[float | None]  # the driver's latest representative fuel-corrected lap, as of the crossing


NO_ROAD = Road([], [], [], [])


def road_index(rows: list[dict]) -> Road:
    """The crossings of one session's prepared lap rows (`features.prepare_laps`, in lap order
    per driver; `representative` and `_fc` set). A representative lap's delta is against the
    driver's previous representative lap of the same stint (a new tyre set is a new pace)."""
    crossings = []
    last: dict = {}  # driver -> (stint, fc) of their latest representative lap
    for lap in rows:
        driver, before = lap["driver"], last.get(lap["driver"])
        delta = None
        if lap["representative"]:
            if before is not None and before[0] == lap["stint"]:
                delta = lap["_fc"] - before[1]
            last[driver] = before = (lap["stint"], lap["_fc"])
        if lap["session_time_s"] is not None:
            crossings.append((lap["session_time_s"], driver or "", delta, None if before is None else before[1]))
    crossings.sort(key=lambda c: (c[0], c[1]))
    return Road(*(list(column) for column in zip(*crossings, strict=True))) if crossings else NO_ROAD


def _ahead(road: Road, driver: str, at: float) -> int | None:
    """The last other car's crossing at or before `at`."""
    index = bisect_right(road.times, at) - 1
    stop = max(index - LOOK_BACK, -1)
    while index > stop:
        if road.drivers[index] != driver:
            return index
        index -= 1
    return None


def traffic_features(lap: dict, road: Road, previous_start: float | None, green_laps: float | None) -> dict:
    """The traffic around `lap` (a feature row with `lap_start_time_s`, `driver`, `lap_number`
    and `reference_fc_s`) when it starts. `previous_start`: when the driver's previous lap
    started; `green_laps`: how many green laps in a row came before this one."""
    start, driver = lap["lap_start_time_s"], lap["driver"] or ""
    ahead = None if start is None else _ahead(road, driver, start)
    if ahead is None:
        return dict(NO_TRAFFIC)
    gap = start - road.times[ahead]
    reference = lap["reference_fc_s"]
    pace = road.paces[ahead]
    ahead_pace = None if pace is None or reference is None else pace - reference
    out = {
        "gap_ahead_s": gap,
        "ahead_pace_s": ahead_pace,
        "blocked": float(gap < BLOCKED_GAP_S and ahead_pace is not None and ahead_pace > 0),
        "drs_eligible": float(gap <= DRS_GAP_S and lap["lap_number"] >= 3 and (green_laps or 0) >= DRS_GREEN_LAPS),
        "gap_ahead_change_s": None,
        "common_mode_s": _common_mode(road, driver, start),
    }
    before = None if previous_start is None else _ahead(road, driver, previous_start)
    if before is not None:  # negative: closing on the car ahead (or a new, nearer one)
        out["gap_ahead_change_s"] = gap - (previous_start - road.times[before])
    return out


def _common_mode(road: Road, driver: str, start: float) -> float | None:
    """The median lap delta of the last `COMMON_CARS` other cars to cross within
    `COMMON_WINDOW_S` before the start, of those whose lap was representative."""
    deltas = []
    index = bisect_right(road.times, start) - 1
    floor = bisect_left(road.times, start - COMMON_WINDOW_S)
    while index >= floor and len(deltas) < COMMON_CARS:
        if road.drivers[index] != driver and road.deltas[index] is not None:
            deltas.append(road.deltas[index])
        index -= 1
    return median(deltas) if deltas else None


# How unsettled the session is: the mean absolute lap delta of the field's last representative
# laps (a drying track, rain or wind spread them; a steady race does not). Not a model input:
# the interval's conformal margins scale with it.
VOLATILITY_LAPS = 40
VOLATILITY_MIN = 10


def volatility(road: Road, start: float | None) -> float | None:
    """Of the last `VOLATILITY_LAPS` crossings with a delta at or before `start` (at least
    `VOLATILITY_MIN` of them)."""
    if start is None:
        return None
    deltas = []
    index = bisect_right(road.times, start) - 1
    while index >= 0 and len(deltas) < VOLATILITY_LAPS:
        if road.deltas[index] is not None:
            deltas.append(abs(road.deltas[index]))
        index -= 1
    return sum(deltas) / len(deltas) if len(deltas) >= VOLATILITY_MIN else None
