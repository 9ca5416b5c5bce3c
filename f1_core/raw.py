"""The raw form every source delivers: FastF1's own tables, as text, exactly as FastF1 writes them.

The archive *is* FastF1 `session.laps` written by pandas `to_csv`; the FastF1 sources write their
freshly loaded tables the same way. So one parser (`standardize`) serves all three sources, and
what a source said is kept verbatim until a rule decides what it means.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import polars as pl

from f1_core.catalog import SessionRef

# The FastF1 `session.laps` columns the pipeline reads. Others (FastF1 adds some over versions)
# are carried in raw tables but not required.
LAP_COLUMNS = (
    "Time",
    "Driver",
    "DriverNumber",
    "LapTime",
    "LapNumber",
    "Stint",
    "PitOutTime",
    "PitInTime",
    "Sector1Time",
    "Sector2Time",
    "Sector3Time",
    "SpeedI1",
    "SpeedI2",
    "SpeedFL",
    "SpeedST",
    "IsPersonalBest",
    "Compound",
    "TyreLife",
    "FreshTyre",
    "Team",
    "LapStartTime",
    "LapStartDate",
    "TrackStatus",
    "Position",
    "Deleted",
    "DeletedReason",
    "FastF1Generated",
    "IsAccurate",
)
WEATHER_COLUMNS = (
    "Time",
    "AirTemp",
    "Humidity",
    "Pressure",
    "Rainfall",
    "TrackTemp",
    "WindDirection",
    "WindSpeed",
)


@dataclass(frozen=True)
class RawSession:
    ref: SessionRef
    laps: pl.DataFrame
    weather: pl.DataFrame | None  # None: the source has no weather for this session
    laps_path: str
    weather_path: str | None

    @property
    def data_version(self) -> str:
        """Content hash of what the source delivered: same input, same version, whatever the source."""
        digest = hashlib.sha256()
        digest.update(self.laps.write_csv().encode())
        if self.weather is not None:
            digest.update(self.weather.write_csv().encode())
        return digest.hexdigest()[:16]


def read_csv_text(data: str | bytes, *, session_key: str, path: str, required: tuple[str, ...]) -> pl.DataFrame:
    """Reads a FastF1 CSV export with every column as text; names what is wrong if it cannot."""
    from f1_core.errors import SessionReadError

    try:
        frame = pl.read_csv(
            data.encode() if isinstance(data, str) else data,
            infer_schema=False,
            # pandas writes NaN as an empty field; keep "nan" too, which older exports contain
            null_values=["", "nan", "NaN", "NaT"],
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise SessionReadError(session_key, path, f"not a readable CSV file ({exc})") from exc
    if frame.columns and frame.columns[0] in ("", "Unnamed: 0"):
        frame = frame.drop(frame.columns[0])  # a pandas index written by mistake
    for column in required:
        if column not in frame.columns:
            raise SessionReadError(session_key, path, "required column is missing", column=column)
    return frame
