"""A folder of FastF1 exports laid out like `../shared/f1data/archive` (with its manifest.csv)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from f1_core.catalog import SessionRef
from f1_core.errors import SessionReadError
from f1_core.raw import LAP_COLUMNS, WEATHER_COLUMNS, RawSession, read_csv_text

MANIFEST_COLUMNS = (
    "season",
    "round",
    "event_name",
    "location",
    "country",
    "circuit_ref",
    "session",
    "event_date",
    "path",
)


class ArchiveSource:
    name = "archive"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def catalog(self, seasons: list[int] | None = None) -> list[SessionRef]:
        return self.refs(self.manifest_rows(), seasons)

    def manifest_rows(self) -> pl.DataFrame:
        """The manifest as text columns (its optional ones too)."""
        manifest = self.root / "manifest.csv"
        if not manifest.is_file():
            raise FileNotFoundError(f"archive {self.root} has no manifest.csv")
        return read_csv_text(
            manifest.read_bytes(), session_key="(manifest)", path=str(manifest), required=MANIFEST_COLUMNS
        )

    def refs(self, rows: pl.DataFrame, seasons: list[int] | None = None) -> list[SessionRef]:
        """The sessions `manifest_rows` lists."""
        return [
            SessionRef(
                season=int(row["season"]),
                round=int(row["round"]),
                event_name=row["event_name"],
                session_name=row["session"],
                event_date=date.fromisoformat(row["event_date"]),
                location=row["location"],
                country=row["country"],
                circuit_ref=row["circuit_ref"],
                source=self.name,
                locator=row["path"],
            )
            for row in rows.iter_rows(named=True)
            if seasons is None or int(row["season"]) in seasons
        ]

    def load(self, ref: SessionRef) -> RawSession:
        folder = self.root / ref.locator
        laps_path = folder / "laps.csv"
        if not laps_path.is_file():
            raise SessionReadError(ref.key, str(laps_path), "file not found")
        laps = read_csv_text(laps_path.read_bytes(), session_key=ref.key, path=str(laps_path), required=LAP_COLUMNS)
        weather_path = folder / "weather.csv"
        weather: pl.DataFrame | None = None
        if weather_path.is_file():
            weather = read_csv_text(
                weather_path.read_bytes(), session_key=ref.key, path=str(weather_path), required=WEATHER_COLUMNS
            )
        return RawSession(
            ref=ref,
            laps=laps,
            weather=weather,
            laps_path=str(laps_path),
            weather_path=str(weather_path) if weather is not None else None,
        )


class LiveSource(ArchiveSource):
    """Sessions landing lap by lap (`f1 replay`, or a live-timing client) in the archive's layout
    under $F1_LIVE_DIR. First among the sources: a session's live copy is the one ingested.
    An empty folder is an empty catalogue, not an error."""

    name = "live"

    def catalog(self, seasons: list[int] | None = None) -> list[SessionRef]:
        if not (self.root / "manifest.csv").is_file():
            return []
        return super().catalog(seasons)
