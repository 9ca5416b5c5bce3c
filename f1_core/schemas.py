"""pandera schemas (polars backend) for the raw and standardized tables: the contracts checked by
the pipeline's asset checks, and usable from a notebook on any frame."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from f1_core.raw import LAP_COLUMNS, WEATHER_COLUMNS
from f1_core.standardize import COMPOUNDS, LAP_TIME_RANGE_S, SECTOR_TIME_RANGE_S, WEATHER_NUMBERS


def _text_columns(names: tuple[str, ...]) -> dict[str, pa.Column]:
    return {name: pa.Column(pl.String, nullable=True) for name in names}


# What every source must deliver: FastF1's columns, as text. Extra columns are allowed.
raw_laps_schema = pa.DataFrameSchema(
    _text_columns(LAP_COLUMNS),
    strict=False,
    name="raw_laps",
)
raw_weather_schema = pa.DataFrameSchema(
    _text_columns(WEATHER_COLUMNS),
    strict=False,
    name="raw_weather",
)


def _seconds(low: float, high: float) -> pa.Column:
    return pa.Column(pl.Float64, pa.Check.in_range(low, high), nullable=True)


laps_schema = pa.DataFrameSchema(
    {
        "session_key": pa.Column(pl.String),
        "driver": pa.Column(pl.String),
        "driver_number": pa.Column(pl.String, nullable=True),
        "team": pa.Column(pl.String, nullable=True),
        "lap_number": pa.Column(pl.Int16, pa.Check.ge(1)),
        "stint": pa.Column(pl.Int16, pa.Check.ge(1), nullable=True),
        "lap_time_s": _seconds(*LAP_TIME_RANGE_S),
        "sector1_s": _seconds(*SECTOR_TIME_RANGE_S),
        "sector2_s": _seconds(*SECTOR_TIME_RANGE_S),
        "sector3_s": _seconds(*SECTOR_TIME_RANGE_S),
        "compound": pa.Column(pl.String, pa.Check.isin(COMPOUNDS), nullable=True),
        "tyre_life": pa.Column(pl.Int16, pa.Check.ge(0), nullable=True),
        "fresh_tyre": pa.Column(pl.Boolean, nullable=True),
        "track_status": pa.Column(pl.String, nullable=True),
        "position": pa.Column(pl.Int16, pa.Check.ge(1), nullable=True),
        "deleted": pa.Column(pl.Boolean, nullable=True),
        "is_accurate": pa.Column(pl.Boolean, nullable=True),
        "source_row": pa.Column(pl.Int32, pa.Check.ge(1)),
    },
    unique=["session_key", "driver", "lap_number"],
    strict=False,
    name="laps",
)

weather_schema = pa.DataFrameSchema(
    {
        "session_key": pa.Column(pl.String),
        "session_time_s": pa.Column(pl.Float64),
        **{
            name: pa.Column(pl.Float64, pa.Check.in_range(*bounds), nullable=True)
            for name, bounds in WEATHER_NUMBERS.values()
        },
        "rainfall": pa.Column(pl.Boolean, nullable=True),
    },
    strict=False,
    name="weather",
)
