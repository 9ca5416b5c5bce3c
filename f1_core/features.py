"""Lap features: what is known when a lap starts, computed the same way for training and serving.

A lap's features use only (a) the driver's earlier laps of the session, (b) the field's laps that
ended before this lap started, (c) what is fixed when the lap starts: lap number, stint, tyres,
whether it starts from the pit lane, the race distance, the weather reading before the start,
the circuit and the session type. Nothing the lap itself produces (its time, sectors, speed traps,
track status, pit entry, position at its end) reaches its own features; `tests/test_features.py`
changes those values and checks that the lap's features do not move.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import deque
from operator import itemgetter
from statistics import median
from typing import NamedTuple

import polars as pl

from f1_core.intent import ONE_LAP_SESSIONS, PUSH_LIMIT
from f1_core.traffic import NO_ROAD, TRAFFIC_FEATURES, Road, road_index, traffic_features, volatility
from f1_core.tyres import NO_DEGRADATION, Degradation, degradation_index, field_degradation

# Fuel: a car starts a Grand Prix with at most 110 kg and burns it evenly over the race
# distance; each kg costs about 0.035 s a lap (the figure teams and public models use).
FUEL_START_KG = 110.0
FUEL_SECONDS_PER_KG = 0.035
RACE_LIKE = ("race", "sprint")

# Dry compounds on one softness scale: 2018's named compounds around today's SOFT/MEDIUM/HARD.
# A compound's softness is its place here (0 hardest).
SOFTNESS = ("SUPERHARD", "HARD", "MEDIUM", "SOFT", "SUPERSOFT", "ULTRASOFT", "HYPERSOFT")
WET_COMPOUNDS = ("INTERMEDIATE", "WET")
CHANGE_WEATHER = ("air_temp_c", "track_temp_c", "humidity_pct")
ROLLING_LAPS = 3
FIELD_WINDOW_LAPS = 20

# What a lap row must carry (the warehouse `laps` columns the features read).
LAP_INPUT = {
    "session_key": pl.String,
    "driver": pl.String,
    "lap_number": pl.Int16,
    "stint": pl.Int16,
    "lap_time_s": pl.Float64,
    "sector1_s": pl.Float64,
    "sector2_s": pl.Float64,
    "sector3_s": pl.Float64,
    "compound": pl.String,
    "tyre_life": pl.Int16,
    "fresh_tyre": pl.Boolean,
    "pit_out_time_s": pl.Float64,
    "pit_in_time_s": pl.Float64,
    "lap_start_time_s": pl.Float64,
    "session_time_s": pl.Float64,
    "track_status": pl.String,
    "position": pl.Int16,
    "deleted": pl.Boolean,
    "is_accurate": pl.Boolean,
    # practice and qualifying: what the driver means the lap to be (`f1_core.intent`), null unknown
    "intent": pl.String,
}
SESSION_INPUT = {
    "session_key": pl.String,
    "season": pl.Int16,
    "circuit_ref": pl.String,
    "session_type": pl.String,
    "total_laps": pl.Int16,
}
WEATHER_INPUT = {
    "session_key": pl.String,
    "session_time_s": pl.Float64,
    "air_temp_c": pl.Float64,
    "track_temp_c": pl.Float64,
    "humidity_pct": pl.Float64,
    "pressure_hpa": pl.Float64,
    "wind_direction_deg": pl.Float64,
    "wind_speed_ms": pl.Float64,
    "rainfall": pl.Boolean,
}

NUMERIC_FEATURES = [
    "lap_number",
    "stint",
    "tyre_life",
    "fresh_tyre",
    "compound_softness",
    "wet_tyre",
    "pit_out_lap",
    "first_lap",
    "fuel_kg",
    "race_progress",
    "prev_lap_time_s",
    "prev_clean_lap_fc_s",
    "laps_since_clean",
    "rolling_clean_mean_s",
    "rolling_clean_std_s",
    "stint_best_fc_s",
    "session_best_fc_s",
    "stint_clean_laps",
    "degradation_s_per_lap",
    "prev_sector1_s",
    "prev_sector2_s",
    "prev_sector3_s",
    "prev_sector1_gap_s",
    "prev_sector2_gap_s",
    "prev_sector3_gap_s",
    "prev_position",
    "prev_lap_green",
    "prev_lap_safety_car",
    "prev_lap_vsc",
    "prev_lap_yellow",
    "field_laps_completed",
    "field_recent_fc_s",
    "field_evolution_s",
    "air_temp_c",
    "track_temp_c",
    "humidity_pct",
    "pressure_hpa",
    "wind_speed_ms",
    "wind_direction_deg",
    "rainfall",
    "has_weather",
    "air_temp_change_c",
    "track_temp_change_c",
    "humidity_change_pct",
    "reference_fc_s",
    "tyre_class_changed",
    *TRAFFIC_FEATURES,
    "field_volatility_s",
    # one-lap sessions: the driver's last push lap so far (`PUSH_LIMIT` of their best so far)
    "prev_push_lap_fc_s",
    "laps_since_push",
]
CATEGORICAL_FEATURES = ["circuit_ref", "session_type", "intent"]
# What only the one-lap sessions' model reads (null or meaningless in races and sprints).
ONE_LAP_FEATURES = ("prev_push_lap_fc_s", "laps_since_push", "intent")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
# Computed like features, but event-grouped cross-validation did not keep them as model inputs
# (`benchmarks/accuracy_changes.py` prints each one's effect): the field's tyre degradation times
# the tyre laps since the reference lap, and a filtered reference pace (0.7 of the last clean
# lap and 0.3 of the median of the stint's last three).
CANDIDATES = ["field_tyre_effect_s", "filtered_pace_fc_s"]
# Not a feature: the reference pace without the wet/dry reset (the driver's last clean lap
# whatever its tyres), what `benchmarks/accuracy_changes.py` measures the reset against.
UNRESET_REFERENCE = "unreset_reference_fc_s"


OUTPUT = {
    "session_key": pl.String,
    "driver": pl.String,
    "lap_number": pl.Int16,
    **{name: pl.Float64 for name in NUMERIC_FEATURES if name != "lap_number"},
    **{name: pl.String for name in CATEGORICAL_FEATURES},
    # not features: what the lap turned out to be (targets and metrics filter on these)
    "lap_time_s": pl.Float64,
    "clean": pl.Boolean,
    "representative": pl.Boolean,
    "not_clean_reason": pl.String,  # the first of NOT_CLEAN_RULES the lap broke, null if clean
    # not features: the baselines' predictions are built from these
    "prev_clean_lap_time_s": pl.Float64,
    "rolling_clean_lap_time_s": pl.Float64,
    "prev_push_lap_time_s": pl.Float64,  # the driver's last lap whose `intent` is push
    **{name: pl.Float64 for name in CANDIDATES},
    UNRESET_REFERENCE: pl.Float64,
    # not features: when the lap started and ended (session seconds), to split a session in time
    "lap_start_time_s": pl.Float64,
    "session_time_s": pl.Float64,
}


# Why a lap is not clean: the first of these rules it breaks (`not_clean_reason`). The first six
# make a lap unrepresentative of pace; `deleted` and `inaccurate` only keep it out of metrics.
NOT_CLEAN_RULES = ("first_lap", "pit_in", "pit_out", "not_green", "untimed", "off_pace", "deleted", "inaccurate")
TIMING_RULES = NOT_CLEAN_RULES[:5]  # what a lap shows alone (`timing_reason`)
REPRESENTATIVE_RULES = NOT_CLEAN_RULES[:6]

# The pace rule: a green lap slower than 107% of the driver's recent pace (the median of their
# last 3 laps that passed the per-lap rules, so a field slowing in rain is followed within a lap
# or two), else of the field's (its last 20 such laps that ended before this one did, at least 5),
# is not racing pace: a restart after a red flag, a formation irregularity. Races and sprints
# only: practice and qualifying alternate push and cool-down laps, which this rule cannot tell
# apart (it would drop 17-34% of their laps).
PACE_LIMIT = 1.07
PACE_LAPS = 3
PACE_FIELD_LAPS = 20
PACE_FIELD_MIN = 5


def timing_reason(lap: dict) -> str | None:
    """The first per-lap rule the lap breaks (what a live timing feed shows of the lap alone):
    not lap 1, no pit in or out, green (an unknown status is not), timed; None if it breaks none."""
    if lap["lap_number"] <= 1:
        return "first_lap"
    if lap["pit_in_time_s"] is not None:
        return "pit_in"
    if lap["pit_out_time_s"] is not None:
        return "pit_out"
    if lap["track_status"] != "1":
        return "not_green"
    if lap["lap_time_s"] is None:
        return "untimed"
    return None


def not_clean_reason(lap: dict) -> str | None:
    """The first of `NOT_CLEAN_RULES` the lap breaks, None for a clean lap. `off_pace` is the pace
    rule's verdict a lap row carries once `judged` (a row without it is not judged off pace)."""
    reason = timing_reason(lap)
    if reason is not None:
        return reason
    if lap.get("off_pace"):
        return "off_pace"
    if lap["deleted"]:
        return "deleted"
    return None if lap["is_accurate"] is True else "inaccurate"


def is_representative(lap: dict) -> bool:
    """A lap whose time says something about pace, judged only from what a live timing feed
    carries (so serving can judge it too): it breaks none of `REPRESENTATIVE_RULES`."""
    return not_clean_reason(lap) not in REPRESENTATIVE_RULES


def is_clean(lap: dict) -> bool:
    """A representative lap that is also not deleted and accurately timed: metrics are reported
    on these (and on all laps)."""
    return not_clean_reason(lap) is None


def off_pace(laps: list[dict], session_type: str | None) -> list[bool]:
    """The pace rule's verdict on each of one session's laps (lap rows, any order). Causal: a
    lap's verdict reads only the driver's earlier laps and the field's laps that ended before it
    ended, so the features of the driver's next lap, computed when it starts, can know it."""
    verdicts = [False] * len(laps)
    if session_type not in RACE_LIKE:
        return verdicts
    timed = [i for i, lap in enumerate(laps) if timing_reason(lap) is None]
    # sorted by value, so laps ending at the same moment give one window whatever the rows' order
    field = sorted(
        (laps[i]["session_time_s"], laps[i]["lap_time_s"]) for i in timed if laps[i]["session_time_s"] is not None
    )
    ends, times = [end for end, _ in field], [time for _, time in field]
    own: dict = {}
    for i in sorted(timed, key=lambda i: (laps[i]["driver"] or "", laps[i]["lap_number"])):
        lap = laps[i]
        window = own.setdefault(lap["driver"], deque(maxlen=PACE_LAPS))
        reference = median(window) if len(window) == PACE_LAPS else _field_pace(lap, ends, times)
        verdicts[i] = reference is not None and lap["lap_time_s"] > PACE_LIMIT * reference
        window.append(lap["lap_time_s"])
    return verdicts


def _field_pace(lap: dict, ends: list[float], times: list[float]) -> float | None:
    if lap["session_time_s"] is None:
        return None
    seen = bisect_left(ends, lap["session_time_s"])
    recent = times[max(seen - PACE_FIELD_LAPS, 0) : seen]
    return median(recent) if len(recent) >= PACE_FIELD_MIN else None


def judged(rows: list[dict], session_type: str | None) -> list[dict]:
    """One session's prepared rows with the pace rule's verdict (`off_pace`) and `representative`
    to match. A row whose verdict changes is replaced by a copy: a live state's rows are shared
    with the states after it and must not change under their readers."""
    out = []
    for row, verdict in zip(rows, off_pace(rows, session_type), strict=True):
        if verdict != row["off_pace"]:
            row = {**row, "off_pace": verdict}
            row["representative"] = is_representative(row)
        out.append(row)
    return out


def clean_laps(laps: pl.DataFrame, sessions: pl.DataFrame) -> pl.Series:
    """`is_clean` of each row of a frame holding the warehouse `laps` columns, the pace rule
    judged within each session (`sessions` gives each one's `session_type`)."""
    reasons = not_clean_reasons(laps, sessions)
    return pl.Series("clean", reasons.is_null().to_list(), pl.Boolean)


def not_clean_reasons(laps: pl.DataFrame, sessions: pl.DataFrame) -> pl.Series:
    """`not_clean_reason` of each row of a frame holding the warehouse `laps` columns."""
    if "session_type" not in sessions.columns:
        raise ValueError("sessions: a `session_type` column is needed to judge the pace rule")
    type_of = dict(sessions.select("session_key", "session_type").iter_rows())
    rows = _conform(laps, LAP_INPUT).to_dicts()
    by_session: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_session.setdefault(row["session_key"], []).append(index)
    for key, indices in by_session.items():
        for index, verdict in zip(indices, off_pace([rows[i] for i in indices], type_of.get(key)), strict=True):
            rows[index]["off_pace"] = verdict
    return pl.Series("not_clean_reason", [not_clean_reason(row) for row in rows], pl.String)


def removed_by_rule(frame: pl.DataFrame) -> pl.DataFrame:
    """Per session (of an `OUTPUT` frame): its laps, its clean laps, and how many laps each rule
    of `NOT_CLEAN_RULES` removed (the first rule each lap broke, so each lap counts once)."""
    reason = pl.col("not_clean_reason")
    return (
        frame.group_by("session_key")
        .agg(
            pl.len().alias("laps"),
            reason.is_null().sum().alias("clean"),
            *((reason == rule).sum().alias(rule) for rule in NOT_CLEAN_RULES),
        )
        .sort("session_key")
    )


def fuel_kg(lap_number: int, total_laps: int | None, session_type: str | None) -> float | None:
    """Estimated fuel on board at the start of a lap; unknown (None) outside races and sprints,
    where teams choose their fuel freely, and when the race distance is unknown."""
    if session_type not in RACE_LIKE or not total_laps:
        return None
    start = min(FUEL_START_KG, total_laps * 1.9)
    return max(start * (1 - (lap_number - 1) / total_laps), 0.0)


def _conform(frame: pl.DataFrame, schema: dict) -> pl.DataFrame:
    if frame.schema == schema:
        return frame
    missing = [name for name in schema if name not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in schema.items() if name in missing)
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def lap_features(laps: pl.DataFrame, sessions: pl.DataFrame, weather: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per lap (`OUTPUT`): keys (session_key, driver, lap_number), `FEATURES`, and the
    target `lap_time_s` with `clean` beside it, sorted by session, driver and lap. `sessions`
    gives each session's circuit, type and race distance (`total_laps`, null when unknown)."""
    return features_frame(
        feature_rows(
            _conform(laps, LAP_INPUT).to_dicts(),
            _conform(sessions, SESSION_INPUT).to_dicts(),
            _conform(weather if weather is not None else pl.DataFrame(), WEATHER_INPUT).to_dicts(),
        )
    )


def features_frame(rows: list[dict]) -> pl.DataFrame:
    """`feature_rows`' rows as the `OUTPUT` frame."""
    return pl.DataFrame(rows, schema=OUTPUT, orient="row")


def feature_rows(laps: list[dict], sessions: list[dict], weather: list[dict], last_only: bool = False) -> list[dict]:
    """`lap_features` on plain rows: `laps`, `sessions` and `weather` hold the columns of
    `LAP_INPUT`, `SESSION_INPUT` and `WEATHER_INPUT` as Python values (a missing lap column is
    null). Returns one dict per lap, sorted by session, driver and lap, holding (at least) the
    `OUTPUT` columns; with `last_only`, only each driver's last lap of each session, the laps
    before it only making its history (what a served request asks).

    Plain Python, not polars expressions, because of what a served request is: one driver's few
    dozen laps. A lap's features are a fold over the laps before it, microseconds in Python,
    while a query engine spends a fixed ~0.05-0.5 ms on each window, join or column whatever
    the rows: the polars version of this function took 11 ms per served lap, this one 0.06 ms
    (docs/serving.md). Polars still holds every table around it."""
    session_of = {session["session_key"]: session for session in sessions}
    rows = prepare_laps(laps, session_of)
    drivers = _runs(rows, "session_key", "driver")
    targets = [laps[-1] for laps in drivers] if last_only else rows
    for row in targets:
        _own_features(row, session_of.get(row["session_key"], EMPTY_SESSION))
    for laps in drivers:
        _driver_history(laps, last_only)
    fields, readings = field_index(rows), weather_index(weather)
    for row in targets:
        _at_start(row, fields.get(row["session_key"], NO_FIELD), readings.get(row["session_key"]))
    return targets


def prepare_laps(laps: list[dict], session_of: dict[str, dict]) -> list[dict]:
    """Lap rows (the `LAP_INPUT` columns) in lap order, with what the laps after them read of
    them: the rows `field_index` and `lap_features_after` take."""
    rows = [
        _lap_state({**EMPTY_LAP, **lap}, session_of.get(lap["session_key"], EMPTY_SESSION))
        for lap in sorted(laps, key=_lap_order)
    ]
    return [
        row
        for session in _runs(rows, "session_key")
        for row in judged(session, session_of.get(session[0]["session_key"], EMPTY_SESSION)["session_type"])
    ]


def lap_features_after(history: list[dict], lap: dict, session: dict, field: Field, weather: tuple | None) -> dict:
    """The feature row of one lap (a lap row: what is known when it starts) from what came
    before it: `history`, the driver's earlier laps of the session (`prepare_laps` rows, in lap
    order), and the session's `field_index` and `weather_index` entries. The same functions as
    `feature_rows`, so a lap served from a live session's state gets the pipeline's features."""
    target = _lap_state({**EMPTY_LAP, **lap}, session)
    _own_features(target, session)
    _driver_history([*history, target], last_only=True)
    _at_start(target, field, weather)
    return target


# In practice and qualifying the driver's last clean lap is as often a cool-down lap as a push
# lap: their last push lap comes first there.
_REFERENCES = {
    False: ("prev_clean_lap_fc_s", "field_recent_fc_s", "prev_lap_fc_s"),
    True: ("prev_push_lap_fc_s", "prev_clean_lap_fc_s", "field_recent_fc_s", "prev_lap_fc_s"),
}


def _at_start(row: dict, field: Field, weather: tuple | None) -> None:
    _field_features(row, field)
    _weather_features(row, weather)
    # The pace this lap is measured against, fuel corrected: the driver's last clean lap (the
    # strongest single predictor), else the field's recent pace, else the driver's previous lap.
    # Models learn the difference. A lap on wet tyres after a clean lap on slicks, or the other
    # way round, is a different car on a different track: its reference is the field's recent
    # pace on its own tyre class, and while no lap of the field has shown it, none (the model's
    # circuit fallback, with its wide band: CV preferred that to the old tyres' lap).
    unreset = next(
        (row[name] for name in _REFERENCES[row["session_type"] in ONE_LAP_SESSIONS] if row[name] is not None), None
    )
    row[UNRESET_REFERENCE] = unreset
    row["reference_fc_s"] = _class_pace(row, field) if row["tyre_class_changed"] else unreset
    row.update(traffic_features(row, field.road, row["_previous_start"], row["_green_laps"]))
    row["field_volatility_s"] = volatility(field.road, row["lap_start_time_s"])
    slope = field_degradation(row["compound"], row["lap_start_time_s"], field.tyres)
    since = _minus(row["tyre_life"], row["_reference_tyre_life"])
    row["field_tyre_effect_s"] = None if slope is None or since is None else slope * since


EMPTY_LAP = dict.fromkeys(LAP_INPUT)
EMPTY_SESSION = dict.fromkeys(SESSION_INPUT)


def _lap_order(lap: dict) -> tuple:
    session, driver, number = lap["session_key"], lap["driver"], lap["lap_number"]
    return session is not None, session, driver is not None, driver, number is not None, number


def _lap_state(lap: dict, session: dict) -> dict:
    """What the laps after this one read of it (every lap, `_driver_history` and `field_index`)."""
    fuel = fuel_kg(lap["lap_number"], session["total_laps"], session["session_type"])
    time = lap["lap_time_s"]
    lap["off_pace"] = False  # until `judged` against the laps around it
    lap.update(
        representative=is_representative(lap),
        fuel_kg=fuel,
        stint=_float(lap["stint"]),
        tyre_life=_float(lap["tyre_life"]),
        _fc=None if time is None else time - (fuel or 0.0) * FUEL_SECONDS_PER_KG,
    )
    return lap


def _own_features(lap: dict, session: dict) -> None:
    """The rest of what a lap shows on its own, for the laps whose features are asked."""
    number, total, compound = lap["lap_number"], session["total_laps"], lap["compound"]
    lap.update(
        season=session["season"],
        circuit_ref=session["circuit_ref"],
        session_type=session["session_type"],
        total_laps=total,
        not_clean_reason=(reason := not_clean_reason(lap)),
        clean=reason is None,
        compound_softness=_softness.get(compound),
        wet_tyre=None if compound is None else float(compound in WET_COMPOUNDS),
        pit_out_lap=float(lap["pit_out_time_s"] is not None),
        first_lap=float(number == 1),
        race_progress=number / total if total else None,
        fresh_tyre=_float(lap["fresh_tyre"]),
        intent=lap["intent"] if session["session_type"] in ONE_LAP_SESSIONS else None,
    )


_softness = {compound: float(index) for index, compound in enumerate(SOFTNESS)}


def tyre_class(compound: str | None) -> str | None:
    """'wet' (intermediates, full wets), 'dry' (slicks), None when the compound is unknown."""
    if compound is None:
        return None
    return "wet" if compound in WET_COMPOUNDS else "dry"


def _float(value) -> float | None:
    return None if value is None else float(value)


SECTORS = ("sector1_s", "sector2_s", "sector3_s")
WEATHER_LEVELS = [name for name in WEATHER_INPUT if name not in ("session_key", "session_time_s")]
WEATHER_CHANGES = {name: name.replace("_c", "_change_c").replace("_pct", "_change_pct") for name in CHANGE_WEATHER}
# a lap's history before anything is known of it: its first lap, or no clean lap yet
NO_PREVIOUS = dict.fromkeys(
    (
        "prev_lap_time_s",
        "prev_lap_fc_s",
        "prev_position",
        "prev_lap_green",
        "prev_lap_safety_car",
        "prev_lap_vsc",
        "prev_lap_yellow",
        "_previous_start",
        *(f"prev_{name}" for name in SECTORS),
        *(f"prev_{name[:-2]}_gap_s" for name in SECTORS),
    )
)
NO_CLEAN = dict.fromkeys(
    (
        "prev_clean_lap_fc_s",
        "prev_clean_lap_time_s",
        "laps_since_clean",
        "rolling_clean_mean_s",
        "rolling_clean_std_s",
        "rolling_clean_lap_time_s",
        "session_best_fc_s",
        "_reference_tyre_life",
    )
) | {"tyre_class_changed": 0.0}
NO_WEATHER = {**dict.fromkeys((*WEATHER_LEVELS, *WEATHER_CHANGES.values())), "has_weather": 0.0}


def _runs(rows: list[dict], *keys: str) -> list[list[dict]]:
    """Consecutive rows sharing `keys` (rows are sorted by them)."""
    runs: list[list[dict]] = []
    last, key_of = object(), itemgetter(*keys)
    for row in rows:
        key = key_of(row)
        if key != last:
            runs.append([])
            last = key
        runs[-1].append(row)
    return runs


def _driver_history(laps: list[dict], last_only: bool) -> None:
    """What one driver's laps of a session before each lap (`last_only`: before the last) show:
    the previous lap, the last clean ("representative") laps and their rolling pace, the stint's
    and session's best, the tyre degradation fitted over the stint's clean laps so far, and the
    previous lap's sectors, position and track status."""
    fc_window: deque = deque(maxlen=ROLLING_LAPS)
    raw_window: deque = deque(maxlen=ROLLING_LAPS)
    previous = clean = None  # the previous lap and the last clean one
    session_best = None
    green = 0.0  # green laps in a row so far
    sector_best = [None, None, None]
    stints: dict = {}  # stint -> [clean laps, sum x, sum y, sum xy, sum xx, best, last 3 fc]
    push = labelled_push = None  # the last push lap (within PUSH_LIMIT of the best so far), the last labelled one
    for lap in laps:
        stint = stints.get(lap["stint"])
        if not last_only or lap is laps[-1]:
            _history_of(lap, previous, clean, (fc_window, raw_window), session_best, sector_best, stint)
            lap["_green_laps"] = green
            lap["prev_push_lap_fc_s"] = None if push is None else push["_fc"]
            lap["laps_since_push"] = None if push is None else float(lap["lap_number"] - push["lap_number"])
            lap["prev_push_lap_time_s"] = None if labelled_push is None else labelled_push["lap_time_s"]
        if stint is None:
            stint = stints[lap["stint"]] = [0, 0.0, 0.0, 0.0, 0.0, None, deque(maxlen=PACE_LAPS)]
        # then this lap joins the history of the laps after it
        for index, name in enumerate(SECTORS):
            sector_best[index] = _least(sector_best[index], lap[name])
        if lap["representative"]:
            fc = lap["_fc"]
            x = lap["tyre_life"] or 0.0
            stint[0] += 1
            stint[1] += x
            stint[2] += fc
            stint[3] += x * fc
            stint[4] += x * x
            stint[5] = _least(stint[5], fc)
            stint[6].append(fc)
            session_best = _least(session_best, fc)
            if fc <= PUSH_LIMIT * session_best:
                push = lap
            fc_window.append(fc)
            raw_window.append(lap["lap_time_s"])
            clean = lap
        green = green + 1 if lap["track_status"] == "1" else 0.0
        if lap["intent"] == "push" and lap["lap_time_s"] is not None:
            labelled_push = lap
        previous = lap


def _history_of(
    lap: dict,
    previous: dict | None,
    clean: dict | None,
    windows: tuple[deque, deque],
    session_best: float | None,
    sector_best: list,
    stint: list | None,
) -> None:
    """Writes the history features of `lap` from the state the laps before it left."""
    if previous is None:
        lap.update(NO_PREVIOUS)
    else:
        status = previous["track_status"]
        sectors = [previous[name] for name in SECTORS]
        lap.update(
            prev_lap_time_s=previous["lap_time_s"],
            prev_lap_fc_s=previous["_fc"],
            _previous_start=previous["lap_start_time_s"],
            prev_position=_float(previous["position"]),
            prev_lap_green=None if status is None else float(status == "1"),
            prev_lap_safety_car=None if status is None else float("4" in status),
            prev_lap_vsc=None if status is None else float("6" in status or "7" in status),
            prev_lap_yellow=None if status is None else float("2" in status),
            prev_sector1_s=sectors[0],
            prev_sector2_s=sectors[1],
            prev_sector3_s=sectors[2],
            prev_sector1_gap_s=_minus(sectors[0], sector_best[0]),
            prev_sector2_gap_s=_minus(sectors[1], sector_best[1]),
            prev_sector3_gap_s=_minus(sectors[2], sector_best[2]),
        )
    if clean is None:
        lap.update(NO_CLEAN)
    else:
        before, now = tyre_class(clean["compound"]), tyre_class(lap["compound"])
        lap["tyre_class_changed"] = float(before is not None and now is not None and before != now)
        lap.update(
            prev_clean_lap_fc_s=clean["_fc"],
            prev_clean_lap_time_s=clean["lap_time_s"],
            laps_since_clean=float(lap["lap_number"] - clean["lap_number"]),
            # the windows hold the last clean laps: they only move on a clean lap
            rolling_clean_mean_s=_mean(windows[0]),
            rolling_clean_std_s=_std(windows[0]),
            rolling_clean_lap_time_s=_mean(windows[1]),
            session_best_fc_s=session_best,
            _reference_tyre_life=clean["tyre_life"] if clean["stint"] == lap["stint"] else None,
        )
    if stint is None:
        lap.update(stint_clean_laps=0.0, stint_best_fc_s=None, degradation_s_per_lap=None, filtered_pace_fc_s=None)
    else:
        n, sx, sy, sxy, sxx, best, recent = stint
        lap["filtered_pace_fc_s"] = 0.7 * recent[-1] + 0.3 * median(recent) if len(recent) == PACE_LAPS else None
        # least squares over (tyre life, fuel-corrected time) of the stint's clean laps so far;
        # unknown while all of them share one tyre life
        denominator = n * sxx - sx**2
        lap.update(
            stint_clean_laps=float(n),
            stint_best_fc_s=best,
            degradation_s_per_lap=(n * sxy - sx * sy) / denominator if n >= 3 and denominator else None,
        )


class Field(NamedTuple):
    """What one session's field had shown, by the session time of each lap's end."""

    ends: list[float]  # every lap's end, in time order
    clean_ends: list[float]  # every representative lap's end
    total: list[float]  # running sums of those laps' fuel-corrected times, from 0
    road: Road
    tyres: Degradation
    # per tyre class ('wet', 'dry'): the ends of its representative laps and the running sums of
    # their fuel-corrected times, as `clean_ends` and `total` are for the whole field
    by_class: dict[str | None, tuple[list[float], list[float]]]


def field_index(rows: list[dict]) -> dict[str, Field]:
    """Per session, what the whole field had shown by each moment: the session times at which
    laps ended, those at which clean laps ended, running sums of the clean laps' fuel-corrected
    times, the crossings (`traffic.Road`) and the field's tyre degradation (`tyres`). `rows`
    are `prepare_laps` rows of sessions in turn, each session's in lap order per driver."""
    field = {}
    for session in _runs(rows, "session_key"):
        laps = sorted((lap for lap in session if lap["session_time_s"] is not None), key=itemgetter("session_time_s"))
        if not laps:
            continue
        clean = [lap for lap in laps if lap["representative"]]
        of_class: dict[str | None, list[dict]] = {}
        for lap in clean:
            of_class.setdefault(tyre_class(lap["compound"]), []).append(lap)
        field[laps[0]["session_key"]] = Field(
            [lap["session_time_s"] for lap in laps],
            *_pace_index(clean),
            road_index(session),
            degradation_index(session),
            {name: _pace_index(class_laps) for name, class_laps in of_class.items()},
        )
    return field


def _pace_index(laps: list[dict]) -> tuple[list[float], list[float]]:
    """The laps' ends (in time order) and running sums of their fuel-corrected times, from 0."""
    total = [0.0]
    for lap in laps:
        total.append(total[-1] + lap["_fc"])
    return [lap["session_time_s"] for lap in laps], total


NO_FIELD = Field([], [], [0.0], NO_ROAD, NO_DEGRADATION, {})
NO_PACE: tuple[list[float], list[float]] = ([], [0.0])
FIELD_MIN_LAPS = 5


# After a wet/dry change the reference is the field's last 10 laps on the new tyre class, from the
# first such lap on: conditions move fast then, and one lap on the right tyres is nearer than the
# driver's own on the wrong ones (event-grouped CV chose these among 5/10/20 laps and 1/2/3/5).
CLASS_WINDOW_LAPS = 10
CLASS_MIN_LAPS = 1


def _seen(ends: list[float], start: float | None) -> int:
    """How many of these laps (their ends, in time order) had ended by `start`."""
    return 0 if start is None else bisect_right(ends, start)


def _mean_of_last(total: list[float], seen: int, laps: int) -> float:
    """The mean of the last `laps` of the first `seen` laps, from their running sums."""
    window = min(seen, laps)
    return (total[seen] - total[seen - window]) / window


def _class_pace(lap: dict, field: Field) -> float | None:
    """The field's recent pace on the lap's own tyre class when it starts, None before
    `CLASS_MIN_LAPS` laps on it."""
    ends, total = field.by_class.get(tyre_class(lap["compound"]), NO_PACE)
    seen = _seen(ends, lap["lap_start_time_s"])
    return _mean_of_last(total, seen, CLASS_WINDOW_LAPS) if seen >= CLASS_MIN_LAPS else None


def _field_features(lap: dict, field: Field) -> None:
    """What the field had shown when the lap started: laps completed, recent pace, and how that
    pace compares with the session's first laps (track evolution)."""
    start, total = lap["lap_start_time_s"], field.total
    lap["field_laps_completed"] = float(_seen(field.ends, start))
    seen = _seen(field.clean_ends, start)
    lap["field_recent_fc_s"] = lap["field_evolution_s"] = None
    if seen >= FIELD_MIN_LAPS:
        recent = _mean_of_last(total, seen, FIELD_WINDOW_LAPS)
        lap["field_recent_fc_s"] = recent
        lap["field_evolution_s"] = recent - _mean_of_last(total, min(seen, FIELD_WINDOW_LAPS), FIELD_WINDOW_LAPS)


def weather_index(weather: list[dict]) -> dict[str, tuple]:
    """Per session, its readings in time order and their session times."""
    readings: dict[str, list[dict]] = {}
    for reading in sorted(
        (r for r in weather if r["session_time_s"] is not None), key=lambda r: (r["session_key"], r["session_time_s"])
    ):
        readings.setdefault(reading["session_key"], []).append(reading)
    return {key: (session, [r["session_time_s"] for r in session]) for key, session in readings.items()}


def _weather_features(lap: dict, weather: tuple | None) -> None:
    """The last weather reading at or before the lap's start. Sessions without weather get nulls
    and `has_weather` 0: a normal case the models see in training. The changes say how conditions
    moved since the session began: comparable across circuits, unlike the levels (which mostly
    say where the race is)."""
    start = lap["lap_start_time_s"]
    seen = 0 if weather is None or start is None else bisect_right(weather[1], start)
    if seen == 0:
        lap.update(NO_WEATHER)
        return
    reading, first = weather[0][seen - 1], weather[0][0]
    lap.update({name: reading[name] for name in WEATHER_LEVELS})
    lap["rainfall"] = _float(reading["rainfall"])
    lap["has_weather"] = float(reading["air_temp_c"] is not None)
    lap.update({change: _minus(reading[name], first[name]) for name, change in WEATHER_CHANGES.items()})


def _minus(a, b):
    return None if a is None or b is None else a - b


def _least(a, b):
    return b if a is None else a if b is None else min(a, b)


def _mean(values) -> float:
    return sum(values) / len(values)


def _std(values) -> float | None:
    if len(values) < 2:
        return None
    mean = _mean(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
