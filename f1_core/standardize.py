"""Raw FastF1 text tables → typed, standardized tables, and the rows that break a rule.

A row that breaks a rule is never dropped silently: it goes to the quarantine with the rule, the
column, the offending value and the whole original record. `laps + quarantined laps = source laps`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl

from f1_core.catalog import SessionRef

# FastF1 compounds across seasons. 2018 names its softest five tyres by name, not by hardness;
# UNKNOWN and TEST_UNKNOWN are FastF1's own labels for tyres it could not identify.
COMPOUNDS = (
    "HYPERSOFT",
    "ULTRASOFT",
    "SUPERSOFT",
    "SOFT",
    "MEDIUM",
    "HARD",
    "SUPERHARD",
    "INTERMEDIATE",
    "WET",
    "UNKNOWN",
    "TEST_UNKNOWN",
)
# The shortest F1 lap of the archive is 67 s, the longest timed one under 3 min; outside these a
# lap time is a timing fault, not a lap.
LAP_TIME_RANGE_S = (40.0, 1200.0)
SECTOR_TIME_RANGE_S = (5.0, 1200.0)

DURATION_COLUMNS = {
    "Time": "session_time_s",
    "LapTime": "lap_time_s",
    "PitOutTime": "pit_out_time_s",
    "PitInTime": "pit_in_time_s",
    "Sector1Time": "sector1_s",
    "Sector2Time": "sector2_s",
    "Sector3Time": "sector3_s",
    "LapStartTime": "lap_start_time_s",
}
NUMBER_COLUMNS = {
    "LapNumber": ("lap_number", pl.Int16),
    "Stint": ("stint", pl.Int16),
    "TyreLife": ("tyre_life", pl.Int16),
    "Position": ("position", pl.Int16),
    "SpeedI1": ("speed_i1", pl.Float64),
    "SpeedI2": ("speed_i2", pl.Float64),
    "SpeedFL": ("speed_fl", pl.Float64),
    "SpeedST": ("speed_st", pl.Float64),
}
BOOL_COLUMNS = {
    "IsPersonalBest": "is_personal_best",
    "FreshTyre": "fresh_tyre",
    "Deleted": "deleted",
    "FastF1Generated": "fastf1_generated",
    "IsAccurate": "is_accurate",
}
TEXT_COLUMNS = {
    "DriverNumber": "driver_number",
    "Team": "team",
    "TrackStatus": "track_status",
    "DeletedReason": "deleted_reason",
}
WEATHER_NUMBERS = {
    "AirTemp": ("air_temp_c", (-30.0, 60.0)),
    "TrackTemp": ("track_temp_c", (-30.0, 80.0)),
    "Humidity": ("humidity_pct", (0.0, 100.0)),
    # Mexico City sits at 2,240 m: about 780 hPa
    "Pressure": ("pressure_hpa", (500.0, 1100.0)),
    "WindDirection": ("wind_direction_deg", (0.0, 360.0)),
    "WindSpeed": ("wind_speed_ms", (0.0, 60.0)),
}

QUARANTINE_SCHEMA = {
    "session_key": pl.String,
    "source_table": pl.String,
    "source_row": pl.Int32,
    "rule": pl.String,
    "column_name": pl.String,
    "value": pl.String,
    "details": pl.String,
    "record": pl.String,
    "quarantined_at": pl.Datetime("us"),
}


@dataclass(frozen=True)
class StandardSession:
    session: pl.DataFrame  # one row
    laps: pl.DataFrame
    weather: pl.DataFrame
    quarantine: pl.DataFrame


def seconds(text: pl.Expr) -> pl.Expr:
    """pandas timedelta text (`0 days 00:01:37.167000`, `-1 days +23:59:55`) or plain seconds."""
    parts = text.str.extract_groups(r"^\s*(-?\d+) days \+?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)\s*$")
    from_timedelta = (
        parts.struct.field("1").cast(pl.Float64) * 86400
        + parts.struct.field("2").cast(pl.Float64) * 3600
        + parts.struct.field("3").cast(pl.Float64) * 60
        + parts.struct.field("4").cast(pl.Float64)
    )
    return pl.coalesce(from_timedelta, text.str.strip_chars().cast(pl.Float64, strict=False))


def boolean(text: pl.Expr) -> pl.Expr:
    lowered = text.str.strip_chars().str.to_lowercase()
    return (
        pl.when(lowered.is_in(["true", "1", "1.0"]))
        .then(True)
        .when(lowered.is_in(["false", "0", "0.0"]))
        .then(False)
        .otherwise(None)
    )


def number(text: pl.Expr, dtype) -> pl.Expr:
    value = text.str.strip_chars().cast(pl.Float64, strict=False)
    if dtype == pl.Float64:
        return value
    # FastF1 writes counts as floats ("12.0"); a fraction is not a count
    return pl.when(value == value.round(0)).then(value).otherwise(None).cast(dtype, strict=False)


def _failure(rule: str, column: str, failed: pl.Expr, value: pl.Expr) -> pl.Expr:
    return pl.when(failed).then(pl.struct(rule=pl.lit(rule), column=pl.lit(column), value=value.cast(pl.String)))


def _unparseable(raw_column: str, parsed: pl.Expr) -> pl.Expr:
    return _failure(
        "unparseable_value", raw_column, pl.col(raw_column).is_not_null() & parsed.is_null(), pl.col(raw_column)
    )


def _split(
    frame: pl.DataFrame, failures: list[pl.Expr], session_key: str, table: str, raw_columns: list[str], now: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows with no failure, and one quarantine row per failing source row (first rule first)."""
    checked = frame.with_columns(
        pl.concat_list(failures).list.drop_nulls().alias("_failures"),
    )
    bad = checked.filter(pl.col("_failures").list.len() > 0)
    good = checked.filter(pl.col("_failures").list.len() == 0).drop("_failures")
    if bad.height == 0:
        return good, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    records = [json.dumps({c: row[c] for c in raw_columns}) for row in bad.select(raw_columns).iter_rows(named=True)]
    quarantine = bad.select(
        pl.lit(session_key).alias("session_key"),
        pl.lit(table).alias("source_table"),
        pl.col("source_row").cast(pl.Int32),
        pl.col("_failures").list.first().struct.field("rule").alias("rule"),
        pl.col("_failures").list.first().struct.field("column").alias("column_name"),
        pl.col("_failures").list.first().struct.field("value").alias("value"),
        pl.col("_failures")
        .list.eval(
            pl.element().struct.field("rule")
            + pl.lit("(")
            + pl.element().struct.field("column")
            + pl.lit("=")
            + pl.element().struct.field("value").fill_null("null")
            + pl.lit(")")
        )
        .list.join("; ")
        .alias("details"),
    ).with_columns(
        pl.Series("record", records, dtype=pl.String),
        pl.lit(now).cast(pl.Datetime("us")).alias("quarantined_at"),
    )
    return good, quarantine.select(list(QUARANTINE_SCHEMA))


@functools.cache
def _lap_rules() -> tuple[list[pl.Expr], list[pl.Expr]]:
    """The typed columns and the rules of a laps table: built once (expressions cost more to
    build than to run on the few rows of a live lap landing)."""
    typed = [
        *(seconds(pl.col(src)).alias(dst) for src, dst in DURATION_COLUMNS.items()),
        *(number(pl.col(src), dtype).alias(dst) for src, (dst, dtype) in NUMBER_COLUMNS.items()),
        *(boolean(pl.col(src)).alias(dst) for src, dst in BOOL_COLUMNS.items()),
        *(pl.col(src).str.strip_chars().alias(dst) for src, dst in TEXT_COLUMNS.items()),
        # FastF1 leaves the code empty when the session has no driver list; the car number
        # still tells the drivers apart within the session.
        pl.coalesce(pl.col("Driver").str.strip_chars(), pl.col("DriverNumber").str.strip_chars()).alias("driver"),
        pl.col("Compound").str.strip_chars().str.to_uppercase().alias("compound"),
        pl.col("LapStartDate").str.strip_chars().str.to_datetime(time_unit="us", strict=False).alias("lap_start_date"),
    ]
    low, high = LAP_TIME_RANGE_S
    s_low, s_high = SECTOR_TIME_RANGE_S
    failures = [
        _failure("missing_identity", "Driver", pl.col("driver").is_null(), pl.col("DriverNumber")),
        _failure("missing_identity", "LapNumber", pl.col("LapNumber").is_null(), pl.col("LapNumber")),
        *(_unparseable(src, pl.col(dst)) for src, dst in DURATION_COLUMNS.items()),
        *(_unparseable(src, pl.col(dst)) for src, (dst, _) in NUMBER_COLUMNS.items()),
        *(_unparseable(src, pl.col(dst)) for src, dst in BOOL_COLUMNS.items()),
        _unparseable("LapStartDate", pl.col("lap_start_date")),
        _failure("lap_time_out_of_range", "LapTime", ~pl.col("lap_time_s").is_between(low, high), pl.col("LapTime")),
        *(
            _failure("sector_time_out_of_range", src, ~pl.col(dst).is_between(s_low, s_high), pl.col(src))
            for src, dst in (("Sector1Time", "sector1_s"), ("Sector2Time", "sector2_s"), ("Sector3Time", "sector3_s"))
        ),
        _failure(
            "unknown_compound",
            "Compound",
            pl.col("compound").is_not_null() & ~pl.col("compound").is_in(COMPOUNDS),
            pl.col("Compound"),
        ),
        *(
            _failure("value_out_of_range", src, pl.col(dst) < minimum, pl.col(src))
            for src, dst, minimum in (
                ("LapNumber", "lap_number", 1),
                ("Stint", "stint", 1),
                ("TyreLife", "tyre_life", 0),
                ("Position", "position", 1),
            )
        ),
    ]
    # A lap number repeated for a driver: the first occurrence stays, later ones are quarantined.
    failures.append(
        _failure(
            "duplicate_lap",
            "LapNumber",
            pl.col("lap_number").is_not_null()
            & pl.struct("driver", "lap_number").is_duplicated()
            & ~pl.struct("driver", "lap_number").is_first_distinct(),
            pl.col("LapNumber"),
        )
    )
    return typed, failures


def standardize_laps(
    raw: pl.DataFrame, session_key: str, now: datetime, first_row: int = 1
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`first_row`: the source row number of `raw`'s first row (rows landing in parts)."""
    raw_columns = raw.columns
    typed, failures = _lap_rules()
    frame = raw.with_row_index("source_row", offset=first_row).with_columns(typed)
    good, quarantine = _split(frame, failures, session_key, "laps", raw_columns, now)
    laps = good.select(
        pl.lit(session_key).alias("session_key"),
        "driver",
        "driver_number",
        "team",
        "lap_number",
        "stint",
        "lap_time_s",
        "sector1_s",
        "sector2_s",
        "sector3_s",
        "speed_i1",
        "speed_i2",
        "speed_fl",
        "speed_st",
        "compound",
        "tyre_life",
        "fresh_tyre",
        "pit_out_time_s",
        "pit_in_time_s",
        "lap_start_time_s",
        "session_time_s",
        "lap_start_date",
        "track_status",
        "position",
        "is_personal_best",
        "deleted",
        "deleted_reason",
        "fastf1_generated",
        "is_accurate",
        pl.col("source_row").cast(pl.Int32),
    ).sort("driver", "lap_number")
    return laps, quarantine


def standardize_weather(
    raw: pl.DataFrame | None, session_key: str, now: datetime, first_row: int = 1
) -> tuple[pl.DataFrame, pl.DataFrame]:
    if raw is None:
        raw = pl.DataFrame(schema={"Time": pl.String, "Rainfall": pl.String, **{c: pl.String for c in WEATHER_NUMBERS}})
    raw_columns = raw.columns
    frame = raw.with_row_index("source_row", offset=first_row).with_columns(
        seconds(pl.col("Time")).alias("session_time_s"),
        boolean(pl.col("Rainfall")).alias("rainfall"),
        *(number(pl.col(src), pl.Float64).alias(dst) for src, (dst, _) in WEATHER_NUMBERS.items()),
    )
    failures = [
        _unparseable("Time", pl.col("session_time_s")),
        _unparseable("Rainfall", pl.col("rainfall")),
        *(_unparseable(src, pl.col(dst)) for src, (dst, _) in WEATHER_NUMBERS.items()),
        *(
            _failure("value_out_of_range", src, ~pl.col(dst).is_between(*bounds), pl.col(src))
            for src, (dst, bounds) in WEATHER_NUMBERS.items()
        ),
    ]
    good, quarantine = _split(frame, failures, session_key, "weather", raw_columns, now)
    weather = good.select(
        pl.lit(session_key).alias("session_key"),
        "session_time_s",
        *(dst for dst, _ in WEATHER_NUMBERS.values()),
        "rainfall",
    ).sort("session_time_s")
    return weather, quarantine


def session_row(
    ref: SessionRef,
    *,
    data_version: str,
    laps_in_source: int,
    laps: pl.DataFrame,
    weather_rows: int,
    quarantined_laps: int,
    now: datetime,
) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "session_key": ref.key,
                "season": ref.season,
                "round": ref.round,
                "event_name": ref.event_name,
                "location": ref.location,
                "country": ref.country,
                "circuit_ref": ref.circuit_ref,
                "session_name": ref.session_name,
                "session_type": ref.session_type,
                "event_date": ref.event_date,
                "source": ref.source,
                "data_version": data_version,
                "laps_in_source": laps_in_source,
                "laps_loaded": laps.height,
                "laps_quarantined": quarantined_laps,
                "drivers": laps["driver"].n_unique(),
                "weather_rows": weather_rows,
                "ingested_at": now,
            }
        ],
        schema_overrides={
            "season": pl.Int16,
            "round": pl.Int16,
            "laps_in_source": pl.Int32,
            "laps_loaded": pl.Int32,
            "laps_quarantined": pl.Int32,
            "drivers": pl.Int16,
            "weather_rows": pl.Int32,
            "ingested_at": pl.Datetime("us"),
        },
    )


def standardize(raw) -> StandardSession:
    """One session from any source, in the warehouse's shape."""
    now = datetime.now(UTC).replace(tzinfo=None)
    key = raw.ref.key
    laps, lap_quarantine = standardize_laps(raw.laps, key, now)
    weather, weather_quarantine = standardize_weather(raw.weather, key, now)
    session = session_row(
        raw.ref,
        data_version=raw.data_version,
        laps_in_source=raw.laps.height,
        laps=laps,
        weather_rows=weather.height,
        quarantined_laps=lap_quarantine.height,
        now=now,
    )
    return StandardSession(
        session=session, laps=laps, weather=weather, quarantine=pl.concat([lap_quarantine, weather_quarantine])
    )
