"""What a driver meant a lap to be in practice and qualifying: a push lap, a cool-down lap, or a
lap of a race simulation. No lap history tells them apart before the lap starts; the engineer of
the car knows. The model takes it as an input (`intent`), learnt from labels derived after the
session from the laps' times, and a lap asked for without one is predicted as a push lap.

Labels (`labelled`), per driver and session, among the laps a timing feed shows as timed, green
and not starting or ending in the pit lane (the others get none):
- `race_sim`: a run of at least `RACE_SIM_LAPS` such laps in a row, each within
  `RACE_SIM_LIMIT` of the driver's best lap of the session (a long run at race pace);
- `push`: any other lap within `PUSH_LIMIT` of that best;
- `cool_down`: the rest.
"""

from __future__ import annotations

import polars as pl

INTENTS = ("push", "cool_down", "race_sim")
ONE_LAP_SESSIONS = ("practice", "qualifying", "sprint_qualifying")
# a lap of a one-lap session asked for without an intent is predicted as this
ASSUMED_INTENT = "push"
PUSH_LIMIT = 1.03
RACE_SIM_LIMIT = 1.10
RACE_SIM_LAPS = 5


def labelled(laps: list[dict], timed: list[bool]) -> list[str | None]:
    """Each lap's intent after the fact: `laps` are one driver's laps of one session in lap
    order (`lap_number`, `stint`, `lap_time_s`), `timed` says which the labels are for."""
    times = [lap["lap_time_s"] for lap, ok in zip(laps, timed, strict=True) if ok]
    if not times:
        return [None] * len(laps)
    best = min(times)
    labels: list[str | None] = [None] * len(laps)
    run: list[int] = []  # the laps in a row within RACE_SIM_LIMIT so far
    for i, lap in enumerate(laps):
        near = timed[i] and lap["lap_time_s"] <= RACE_SIM_LIMIT * best
        last = laps[run[-1]] if run else None
        follows = last is not None and lap["lap_number"] == last["lap_number"] + 1 and lap["stint"] == last["stint"]
        if not (near and follows):
            _end_run(run, labels)
            run = []
        if near:
            run.append(i)
    _end_run(run, labels)
    for i, lap in enumerate(laps):
        if timed[i] and labels[i] is None:
            labels[i] = "push" if lap["lap_time_s"] <= PUSH_LIMIT * best else "cool_down"
    return labels


def predicted_intent(session_type: str | None, intent: str | None) -> tuple[str | None, bool]:
    """What a prediction is for, and whether that was assumed: in a one-lap session the intent
    asked for, else `ASSUMED_INTENT`; none in races and sprints."""
    if session_type not in ONE_LAP_SESSIONS:
        return None, False
    return (intent, False) if intent is not None else (ASSUMED_INTENT, True)


def _end_run(run: list[int], labels: list[str | None]) -> None:
    if len(run) >= RACE_SIM_LAPS:
        for i in run:
            labels[i] = "race_sim"


def with_intents(laps: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """`laps` (warehouse `laps` columns) with an `intent` column: the label after the fact for
    the laps of one-lap sessions (`sessions` gives each one's `session_type`), an intent
    already given kept as it is, null in races and sprints."""
    from f1_core.features import _runs, timing_reason

    type_of = dict(sessions.select("session_key", "session_type").iter_rows())
    rows = laps.with_row_index("_row").sort("session_key", "driver", "lap_number").to_dicts()
    intents = laps["intent"].to_list() if "intent" in laps.columns else [None] * laps.height
    for driver in _runs(rows, "session_key", "driver"):
        if type_of.get(driver[0]["session_key"]) not in ONE_LAP_SESSIONS:
            continue
        for lap, label in zip(driver, labelled(driver, [timing_reason(lap) is None for lap in driver]), strict=True):
            intents[lap["_row"]] = intents[lap["_row"]] or label
    return laps.with_columns(pl.Series("intent", intents, pl.String))
