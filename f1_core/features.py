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
from bisect import bisect_right
from collections import deque
from functools import cache

import polars as pl

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
    "session_key": pl.String, "driver": pl.String, "lap_number": pl.Int16, "stint": pl.Int16,
    "lap_time_s": pl.Float64, "sector1_s": pl.Float64, "sector2_s": pl.Float64,
    "sector3_s": pl.Float64, "compound": pl.String, "tyre_life": pl.Int16, "fresh_tyre": pl.Boolean,
    "pit_out_time_s": pl.Float64, "pit_in_time_s": pl.Float64, "lap_start_time_s": pl.Float64,
    "session_time_s": pl.Float64, "track_status": pl.String, "position": pl.Int16,
    "deleted": pl.Boolean, "is_accurate": pl.Boolean,
}
SESSION_INPUT = {"session_key": pl.String, "season": pl.Int16, "circuit_ref": pl.String,
                 "session_type": pl.String, "total_laps": pl.Int16}
WEATHER_INPUT = {"session_key": pl.String, "session_time_s": pl.Float64, "air_temp_c": pl.Float64,
                 "track_temp_c": pl.Float64, "humidity_pct": pl.Float64, "pressure_hpa": pl.Float64,
                 "wind_direction_deg": pl.Float64, "wind_speed_ms": pl.Float64, "rainfall": pl.Boolean}

NUMERIC_FEATURES = [
    "lap_number", "stint", "tyre_life", "fresh_tyre", "compound_softness", "wet_tyre",
    "pit_out_lap", "first_lap", "fuel_kg", "race_progress",
    "prev_lap_time_s", "prev_clean_lap_fc_s", "laps_since_clean", "rolling_clean_mean_s",
    "rolling_clean_std_s", "stint_best_fc_s", "session_best_fc_s", "stint_clean_laps",
    "degradation_s_per_lap", "prev_sector1_s", "prev_sector2_s", "prev_sector3_s",
    "prev_sector1_gap_s", "prev_sector2_gap_s", "prev_sector3_gap_s", "prev_position",
    "prev_lap_green", "prev_lap_safety_car", "prev_lap_vsc", "prev_lap_yellow",
    "field_laps_completed", "field_recent_fc_s", "field_evolution_s",
    "air_temp_c", "track_temp_c", "humidity_pct", "pressure_hpa", "wind_speed_ms",
    "wind_direction_deg", "rainfall", "has_weather", "air_temp_change_c", "track_temp_change_c",
    "humidity_change_pct", "reference_fc_s",
]
CATEGORICAL_FEATURES = ["circuit_ref", "session_type"]
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES


def clean_lap() -> pl.Expr:
    """A representative lap that is also not deleted and accurately timed: metrics are reported
    on these (and on all laps)."""
    return representative_lap() & ~pl.col("deleted").fill_null(False) & pl.col("is_accurate").fill_null(False)


def fuel_kg(lap_number: pl.Expr, total_laps: pl.Expr, session_type: pl.Expr) -> pl.Expr:
    """Estimated fuel on board at the start of a lap; unknown (null) outside races and sprints,
    where teams choose their fuel freely."""
    start = pl.min_horizontal(pl.lit(FUEL_START_KG), total_laps.cast(pl.Float64) * 1.9)
    burnt = (lap_number.cast(pl.Float64) - 1) / total_laps.cast(pl.Float64)
    return pl.when(session_type.is_in(RACE_LIKE) & total_laps.is_not_null()).then(
        (start * (1 - burnt)).clip(lower_bound=0.0))


def _conform(frame: pl.DataFrame, schema: dict) -> pl.DataFrame:
    if frame.schema == schema:  # as served requests arrive: nothing to do
        return frame
    missing = [name for name in schema if name not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in schema.items()
                               if name in missing)
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def lap_features(laps: pl.DataFrame, sessions: pl.DataFrame,
                 weather: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per lap: keys (session_key, driver, lap_number), `FEATURES`, and the target
    `lap_time_s` with `clean` and `fuel_kg` beside it. `sessions` gives each session's circuit,
    type and race distance (`total_laps`, null when unknown).

    What a lap shows on its own is computed by polars expressions over all laps at once. What
    depends on the laps before it (the driver's history, the field's pace, the last weather
    reading) is one pass over them in time order (`_driver_history`, `_field_state`,
    `_weather_at_start`): a served request is one driver's few dozen laps, and a pass costs
    microseconds where a polars window, join or as-of join costs a fixed ~0.1 ms each, which made
    a served lap's features 11 ms (README "Serving")."""
    laps = _conform(laps, LAP_INPUT)
    sessions = _conform(sessions, SESSION_INPUT)
    weather = _conform(weather if weather is not None else pl.DataFrame(), WEATHER_INPUT)

    frame = (
        laps.join(sessions, on="session_key", how="left")
        .sort("session_key", "driver", "lap_number")
        .with_columns(_per_lap())
    )
    columns = frame.select(*PASS_INPUT).to_dict(as_series=False)
    earlier = {**_driver_history(columns), **_field_state(columns),
               **_weather_at_start(columns, weather)}
    # The pace this lap is measured against, fuel corrected: the driver's last clean lap (the
    # strongest single predictor), else the field's recent pace, else the driver's previous lap.
    # Models learn the difference.
    earlier["reference_fc_s"] = [
        next((value for value in values if value is not None), None)
        for values in zip(earlier["prev_clean_lap_fc_s"], earlier["field_recent_fc_s"], earlier["prev_lap_fc_s"])]
    earlier = pl.DataFrame(earlier, schema=dict.fromkeys(earlier, pl.Float64))
    return frame.hstack(earlier).select(_output())


@cache
def _per_lap() -> list[pl.Expr]:
    """What a lap shows on its own (built once: building polars expressions costs a served
    request more than evaluating them)."""
    fuel = fuel_kg(pl.col("lap_number"), pl.col("total_laps"), pl.col("session_type"))
    return [
        clean_lap().alias("clean"),
        representative_lap().alias("representative"),
        fuel.alias("fuel_kg"),
        (pl.col("lap_time_s") - fuel.fill_null(0.0) * FUEL_SECONDS_PER_KG).alias("_fc"),
        # an enum's index: replace_strict would cost a served request 0.4 ms, this 0.03 ms
        pl.col("compound").cast(pl.Enum(SOFTNESS), strict=False).to_physical().cast(pl.Float64)
        .alias("compound_softness"),
        pl.col("compound").is_in(WET_COMPOUNDS).cast(pl.Float64).alias("wet_tyre"),
        pl.col("pit_out_time_s").is_not_null().cast(pl.Float64).alias("pit_out_lap"),
        (pl.col("lap_number") == 1).cast(pl.Float64).alias("first_lap"),
        (pl.col("lap_number").cast(pl.Float64) / pl.col("total_laps").cast(pl.Float64)).alias("race_progress"),
    ]


@cache
def _output() -> list:
    return [
        "session_key", "driver", "lap_number",
        # the passes and the per-lap columns give floats already
        *[pl.col(name).cast(pl.Float64) if LAP_INPUT.get(name, pl.Float64) != pl.Float64 else name
          for name in NUMERIC_FEATURES if name != "lap_number"],
        *CATEGORICAL_FEATURES,
        # not features: what the lap turned out to be (targets and metrics filter on these)
        "lap_time_s", "clean", "representative",
        # not features: the baselines' predictions are built from these
        "prev_clean_lap_time_s", "rolling_clean_lap_time_s",
        # not features: when the lap started and ended (session seconds), to split a session in time
        "lap_start_time_s", "session_time_s",
    ]


# what the passes read, as plain lists
PASS_INPUT = ("session_key", "driver", "lap_number", "stint", "lap_time_s", "_fc", "representative",
              "tyre_life", "position", "track_status", "sector1_s", "sector2_s", "sector3_s",
              "lap_start_time_s", "session_time_s")
HISTORY = ("prev_lap_time_s", "prev_lap_fc_s", "prev_clean_lap_fc_s", "laps_since_clean",
           "rolling_clean_mean_s", "rolling_clean_std_s", "rolling_clean_lap_time_s",
           "prev_clean_lap_time_s", "stint_best_fc_s", "session_best_fc_s", "stint_clean_laps",
           "degradation_s_per_lap", "prev_position", "prev_lap_green", "prev_lap_safety_car",
           "prev_lap_vsc", "prev_lap_yellow", "prev_sector1_s", "prev_sector2_s", "prev_sector3_s",
           "prev_sector1_gap_s", "prev_sector2_gap_s", "prev_sector3_gap_s")
SECTORS = ("sector1_s", "sector2_s", "sector3_s")


def _groups(keys: list) -> list[range]:
    """Runs of equal keys in a sorted list, as index ranges."""
    runs, start = [], 0
    for index in range(1, len(keys) + 1):
        if index == len(keys) or keys[index] != keys[start]:
            runs.append(range(start, index))
            start = index
    return runs


def _driver_history(c: dict[str, list]) -> dict[str, list]:
    """The driver's laps before this one (rows sorted by session, driver, lap): the previous
    lap, the last clean ("representative") laps and their rolling pace, the stint's and
    session's best, the tyre degradation fitted over the stint's clean laps so far, and the
    previous lap's sectors, position and track status."""
    out = {name: [None] * len(c["lap_number"]) for name in HISTORY}
    drivers = list(zip(c["session_key"], c["driver"]))
    for laps in _groups(drivers):
        _driver_pass(c, laps, out)
    return out


def _driver_pass(c: dict[str, list], laps: range, out: dict[str, list]) -> None:
    fc_window: deque = deque(maxlen=ROLLING_LAPS)
    raw_window: deque = deque(maxlen=ROLLING_LAPS)
    previous = clean = None  # rows of the previous lap and of the last clean one
    rolling = (None, None, None)  # mean, std (fuel corrected) and raw mean at the last clean lap
    session_best = None
    sector_best = [None, None, None]
    stints: dict = {}  # stint -> [clean laps, sum x, sum y, sum xy, sum xx, best]
    for row in laps:
        stint = stints.get(c["stint"][row])
        if previous is not None:
            status = c["track_status"][previous]
            sectors = [c[name][previous] for name in SECTORS]
            _put(out, row, prev_lap_time_s=c["lap_time_s"][previous], prev_lap_fc_s=c["_fc"][previous],
                 prev_position=c["position"][previous],
                 prev_lap_green=None if status is None else float(status == "1"),
                 prev_lap_safety_car=None if status is None else float("4" in status),
                 prev_lap_vsc=None if status is None else float("6" in status or "7" in status),
                 prev_lap_yellow=None if status is None else float("2" in status),
                 prev_sector1_s=sectors[0], prev_sector2_s=sectors[1], prev_sector3_s=sectors[2],
                 prev_sector1_gap_s=_minus(sectors[0], sector_best[0]),
                 prev_sector2_gap_s=_minus(sectors[1], sector_best[1]),
                 prev_sector3_gap_s=_minus(sectors[2], sector_best[2]))
        if clean is not None:
            _put(out, row, prev_clean_lap_fc_s=c["_fc"][clean], prev_clean_lap_time_s=c["lap_time_s"][clean],
                 laps_since_clean=float(c["lap_number"][row] - c["lap_number"][clean]),
                 rolling_clean_mean_s=rolling[0], rolling_clean_std_s=rolling[1],
                 rolling_clean_lap_time_s=rolling[2], session_best_fc_s=session_best)
        if stint is not None:
            n, sx, sy, sxy, sxx, best = stint
            out["stint_clean_laps"][row] = float(n)
            out["stint_best_fc_s"][row] = best
            # least squares over (tyre life, fuel-corrected time) of the stint's clean laps
            out["degradation_s_per_lap"][row] = _divide(n * sxy - sx * sy, n * sxx - sx ** 2) if n >= 3 else None
        else:
            out["stint_clean_laps"][row] = 0.0
        # then this lap joins the history of the laps after it
        if stint is None:
            stint = stints[c["stint"][row]] = [0, 0.0, 0.0, 0.0, 0.0, None]
        for index, name in enumerate(SECTORS):
            sector_best[index] = _least(sector_best[index], c[name][row])
        if c["representative"][row]:
            fc, life = c["_fc"][row], c["tyre_life"][row]
            x = 0.0 if life is None else float(life)
            stint[0] += 1
            stint[1] += x
            stint[2] += fc
            stint[3] += x * fc
            stint[4] += x * x
            stint[5] = _least(stint[5], fc)
            session_best = _least(session_best, fc)
            fc_window.append(fc)
            raw_window.append(c["lap_time_s"][row])
            rolling = (_mean(fc_window), _std(fc_window), _mean(raw_window))
            clean = row
        previous = row


def _field_state(c: dict[str, list]) -> dict[str, list]:
    """What the whole field had shown when the lap started: laps completed, recent pace, and how
    that pace compares with the session's first laps (track evolution)."""
    rows = len(c["lap_number"])
    out = {name: [None] * rows for name in ("field_laps_completed", "field_recent_fc_s", "field_evolution_s")}
    for laps in _groups(c["session_key"]):
        done = sorted((c["session_time_s"][row], row) for row in laps if c["session_time_s"][row] is not None)
        ends = [end for end, _ in done]
        clean = [(end, c["_fc"][row]) for end, row in done if c["representative"][row]]
        clean_ends = [end for end, _ in clean]
        total = [0.0]  # running sums of the clean laps' fuel-corrected times, in the order they ended
        for _, fc in clean:
            total.append(total[-1] + fc)
        for row in laps:
            start = c["lap_start_time_s"][row]
            if start is None:
                out["field_laps_completed"][row] = 0.0
                continue
            out["field_laps_completed"][row] = float(bisect_right(ends, start))
            seen = bisect_right(clean_ends, start)
            if seen >= 5:
                window = min(seen, FIELD_WINDOW_LAPS)
                recent = (total[seen] - total[seen - window]) / window
                early = total[min(seen, FIELD_WINDOW_LAPS)] / min(seen, FIELD_WINDOW_LAPS)
                out["field_recent_fc_s"][row] = recent
                out["field_evolution_s"][row] = recent - early
    return out


def _weather_at_start(c: dict[str, list], weather: pl.DataFrame) -> dict[str, list]:
    """The last weather reading before the lap started. Sessions without weather get nulls and
    `has_weather` 0: a normal case the models see in training. The changes say how conditions
    moved since the session began: comparable across circuits, unlike the levels (which mostly
    say where the race is)."""
    levels = [name for name in WEATHER_INPUT if name not in ("session_key", "session_time_s")]
    rows = len(c["lap_number"])
    changes = {name: name.replace("_c", "_change_c").replace("_pct", "_change_pct") for name in CHANGE_WEATHER}
    out = {name: [None] * rows for name in (*levels, *changes.values())}
    out["has_weather"] = [0.0] * rows
    r = (weather.drop_nulls("session_time_s").sort("session_key", "session_time_s", maintain_order=True)
         .to_dict(as_series=False))
    by_session = {r["session_key"][runs.start]: runs for runs in _groups(r["session_key"])}
    for row in range(rows) if by_session else ():
        runs, start = by_session.get(c["session_key"][row]), c["lap_start_time_s"][row]
        if runs is None or start is None:
            continue
        seen = bisect_right(r["session_time_s"], start, runs.start, runs.stop) - 1
        if seen < runs.start:
            continue
        for name in levels:
            out[name][row] = r[name][seen]
        out["rainfall"][row] = None if r["rainfall"][seen] is None else float(r["rainfall"][seen])
        out["has_weather"][row] = float(r["air_temp_c"][seen] is not None)
        for name, change in changes.items():
            out[change][row] = _minus(r[name][seen], r[name][runs.start])
    return out


def _put(out: dict[str, list], row: int, **values) -> None:
    for name, value in values.items():
        out[name][row] = value


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


def _divide(a: float, b: float) -> float:
    """IEEE division, as polars divides: x/0 is ±inf, 0/0 NaN."""
    if b == 0:
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def representative_lap() -> pl.Expr:
    """A lap whose time says something about pace, judged only from what a live timing feed
    carries (so serving can judge it too): not lap 1, no pit in or out, green (an unknown status is
    not), timed."""
    return (
        (pl.col("lap_number") > 1) & pl.col("pit_in_time_s").is_null()
        & pl.col("pit_out_time_s").is_null() & (pl.col("track_status") == "1").fill_null(False)
        & pl.col("lap_time_s").is_not_null()
    )
