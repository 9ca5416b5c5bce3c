"""Lap features: what is known when a lap starts, computed the same way for training and serving.

A lap's features use only (a) the driver's earlier laps of the session, (b) the field's laps that
ended before this lap started, (c) what is fixed when the lap starts: lap number, stint, tyres,
whether it starts from the pit lane, the race distance, the weather reading before the start,
the circuit and the session type. Nothing the lap itself produces (its time, sectors, speed traps,
track status, pit entry, position at its end) reaches its own features; `tests/test_features.py`
changes those values and checks that the lap's features do not move.
"""

from __future__ import annotations

import polars as pl

# Fuel: a car starts a Grand Prix with at most 110 kg and burns it evenly over the race
# distance; each kg costs about 0.035 s a lap (the figure teams and public models use).
FUEL_START_KG = 110.0
FUEL_SECONDS_PER_KG = 0.035
RACE_LIKE = ("race", "sprint")

# Dry compounds on one softness scale: 2018's named compounds around today's SOFT/MEDIUM/HARD.
SOFTNESS = {"SUPERHARD": 0, "HARD": 1, "MEDIUM": 2, "SOFT": 3, "SUPERSOFT": 4, "ULTRASOFT": 5,
            "HYPERSOFT": 6}
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
    type and race distance (`total_laps`, null when unknown)."""
    laps = _conform(laps, LAP_INPUT)
    sessions = _conform(sessions, SESSION_INPUT)
    weather = _conform(weather if weather is not None else pl.DataFrame(), WEATHER_INPUT)

    frame = (
        laps.join(sessions, on="session_key", how="left")
        .sort("session_key", "driver", "lap_number")
        .with_columns(
            clean_lap().alias("clean"),
            representative_lap().alias("representative"),
            fuel_kg(pl.col("lap_number"), pl.col("total_laps"), pl.col("session_type")).alias("fuel_kg"),
        )
        .with_columns(
            (pl.col("lap_time_s") - pl.col("fuel_kg").fill_null(0.0) * FUEL_SECONDS_PER_KG).alias("_fc"),
        )
    )
    frame = _driver_history(frame)
    frame = _field_state(frame)
    frame = _weather_at_start(frame, weather)
    frame = frame.with_columns(
        pl.col("compound").replace_strict(SOFTNESS, default=None, return_dtype=pl.Float64)
        .alias("compound_softness"),
        pl.col("compound").is_in(WET_COMPOUNDS).cast(pl.Float64).alias("wet_tyre"),
        pl.col("pit_out_time_s").is_not_null().cast(pl.Float64).alias("pit_out_lap"),
        (pl.col("lap_number") == 1).cast(pl.Float64).alias("first_lap"),
        pl.col("fresh_tyre").cast(pl.Float64),
        (pl.col("lap_number").cast(pl.Float64) / pl.col("total_laps").cast(pl.Float64)).alias("race_progress"),
        # The pace this lap is measured against, fuel corrected: the driver's last clean lap (the
        # strongest single predictor), else the field's recent pace, else the driver's previous
        # lap. Models learn the difference.
        pl.coalesce("prev_clean_lap_fc_s", "field_recent_fc_s", "prev_lap_fc_s").alias("reference_fc_s"),
    )
    return frame.select(
        "session_key", "driver", "lap_number",
        *[pl.col(name).cast(pl.Float64) for name in NUMERIC_FEATURES if name != "lap_number"],
        *CATEGORICAL_FEATURES,
        # not features: what the lap turned out to be (targets and metrics filter on these)
        "lap_time_s", "clean", "representative",
        # not features: the baselines' predictions are built from these
        "prev_clean_lap_time_s", "rolling_clean_lap_time_s",
        # not features: when the lap started and ended (session seconds), to split a session in time
        "lap_start_time_s", "session_time_s",
    )


def _driver_history(frame: pl.DataFrame) -> pl.DataFrame:
    driver = ["session_key", "driver"]
    stint = [*driver, "stint"]
    usable = representative_lap()
    rolling = (
        frame.filter(usable)
        .with_columns(
            pl.col("_fc").rolling_mean(ROLLING_LAPS, min_samples=1).over(driver).alias("_roll_mean"),
            pl.col("_fc").rolling_std(ROLLING_LAPS, min_samples=2).over(driver).alias("_roll_std"),
            pl.col("lap_time_s").rolling_mean(ROLLING_LAPS, min_samples=1).over(driver).alias("_roll_raw"),
        )
        .select(*driver, "lap_number", "_roll_mean", "_roll_std", "_roll_raw")
    )
    x = pl.when(usable).then(pl.col("tyre_life").cast(pl.Float64))
    y = pl.when(usable).then(pl.col("_fc"))
    frame = frame.join(rolling, on=[*driver, "lap_number"], how="left", maintain_order="left").with_columns(
        usable.cast(pl.Float64).alias("_n"), x.fill_null(0).alias("_x"), y.fill_null(0).alias("_y"),
        (x * y).fill_null(0).alias("_xy"), (x * x).fill_null(0).alias("_xx"),
        y.alias("_usable_fc"),
        pl.when(usable).then(pl.col("lap_number")).alias("_usable_lap"),
    )
    sums = {name: pl.col(name).cum_sum().over(stint) for name in ("_n", "_x", "_y", "_xy", "_xx")}
    n = sums["_n"]
    slope = pl.when(n >= 3).then(
        (n * sums["_xy"] - sums["_x"] * sums["_y"]) / (n * sums["_xx"] - sums["_x"] ** 2)
    )
    earlier = lambda expr, over=driver: expr.shift(1).over(over)  # noqa: E731
    carried = lambda expr, over=driver: expr.shift(1).forward_fill().over(over)  # noqa: E731
    status = pl.col("track_status").shift(1).over(driver)
    frame = frame.with_columns(
        earlier(pl.col("lap_time_s")).alias("prev_lap_time_s"),
        earlier(pl.col("_fc")).alias("prev_lap_fc_s"),
        carried(pl.col("_usable_fc")).alias("prev_clean_lap_fc_s"),
        (pl.col("lap_number") - carried(pl.col("_usable_lap"))).alias("laps_since_clean"),
        carried(pl.col("_roll_mean")).alias("rolling_clean_mean_s"),
        carried(pl.col("_roll_std")).alias("rolling_clean_std_s"),
        carried(pl.col("_roll_raw")).alias("rolling_clean_lap_time_s"),
        carried(pl.when(usable).then(pl.col("lap_time_s"))).alias("prev_clean_lap_time_s"),
        carried(pl.col("_usable_fc").cum_min(), stint).alias("stint_best_fc_s"),
        carried(pl.col("_usable_fc").cum_min()).alias("session_best_fc_s"),
        earlier(n, stint).fill_null(0).alias("stint_clean_laps"),
        earlier(slope, stint).alias("degradation_s_per_lap"),
        earlier(pl.col("position")).alias("prev_position"),
        (status == "1").alias("prev_lap_green"),
        status.str.contains("4").alias("prev_lap_safety_car"),
        status.str.contains("[67]").alias("prev_lap_vsc"),
        status.str.contains("2").alias("prev_lap_yellow"),
        *(earlier(pl.col(f"sector{i}_s")).alias(f"prev_sector{i}_s") for i in (1, 2, 3)),
        *(
            (earlier(pl.col(f"sector{i}_s")) - carried(pl.col(f"sector{i}_s").cum_min()))
            .alias(f"prev_sector{i}_gap_s")
            for i in (1, 2, 3)
        ),
    )
    return frame


def _field_state(frame: pl.DataFrame) -> pl.DataFrame:
    """What the whole field had shown when the lap started: laps completed, recent pace, and how
    that pace compares with the session's first laps (track evolution)."""
    done = frame.filter(pl.col("session_time_s").is_not_null()).sort("session_time_s")
    completed = done.select(
        "session_key", "session_time_s",
        pl.int_range(1, pl.len() + 1).over("session_key").alias("field_laps_completed"),
    )
    clean = done.filter(representative_lap())
    index = pl.int_range(1, pl.len() + 1).over("session_key")
    pace = clean.select(
        "session_key", "session_time_s",
        pl.col("_fc").rolling_mean(FIELD_WINDOW_LAPS, min_samples=5).over("session_key")
        .alias("field_recent_fc_s"),
        pl.when(index <= FIELD_WINDOW_LAPS)
        .then(pl.col("_fc").cum_sum().over("session_key") / index)
        .forward_fill().over("session_key").alias("_field_early_fc"),
    )
    starts = frame.with_row_index("_row").sort("lap_start_time_s")
    for right in (completed, pace):
        starts = starts.join_asof(
            right.sort("session_time_s").rename({"session_time_s": "_done_at"}),
            left_on="lap_start_time_s", right_on="_done_at", by="session_key", strategy="backward",
            check_sortedness=False,  # sorted just above; polars cannot verify it within groups
        ).drop("_done_at")
    return starts.sort("_row").drop("_row").with_columns(
        pl.col("field_laps_completed").fill_null(0),
        (pl.col("field_recent_fc_s") - pl.col("_field_early_fc")).alias("field_evolution_s"),
    )


def _weather_at_start(frame: pl.DataFrame, weather: pl.DataFrame) -> pl.DataFrame:
    """The last weather reading before the lap started. Sessions without weather get nulls and
    `has_weather` 0: a normal case the models see in training."""
    readings = weather.drop_nulls("session_time_s").sort("session_time_s").rename(
        {"session_time_s": "_read_at"})
    first = readings.group_by("session_key").agg(
        pl.col(name).first().alias(f"_first_{name}") for name in CHANGE_WEATHER)
    return (
        frame.with_row_index("_row").sort("lap_start_time_s")
        .join_asof(readings, left_on="lap_start_time_s", right_on="_read_at", by="session_key",
                   strategy="backward", check_sortedness=False)
        .sort("_row").drop("_row", "_read_at")
        .with_columns(pl.col("air_temp_c").is_not_null().cast(pl.Float64).alias("has_weather"),
                      pl.col("rainfall").cast(pl.Float64))
        # how conditions moved since the session began: comparable across circuits, unlike
        # the levels (which mostly say where the race is)
        .join(first, on="session_key", how="left")
        .with_columns((pl.col(name) - pl.col(f"_first_{name}")).alias(name.replace("_c", "_change_c")
                      .replace("_pct", "_change_pct")) for name in CHANGE_WEATHER)
    )


def representative_lap() -> pl.Expr:
    """A lap whose time says something about pace, judged only from what a live timing feed
    carries (so serving can judge it too): not lap 1, no pit in or out, green, timed."""
    return (
        (pl.col("lap_number") > 1) & pl.col("pit_in_time_s").is_null()
        & pl.col("pit_out_time_s").is_null() & (pl.col("track_status") == "1")
        & pl.col("lap_time_s").is_not_null()
    )
