"""What the pipeline publishes for readers: a Parquet copy of each table the console and notebooks
read, replaced atomically by the warehouse's writer right after each write it commits.

The console reads a whole table in one file read instead of opening the lake (its extensions, its
catalog) per request. A published copy is a whole file swapped in with a rename: a reader sees
the previous copy or the new one, never half of one, and `published_at` says how fresh it is.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from f1_core import lake, settings

# the tables readers use; the writer publishes each after any write that touched it
READER_TABLES = ("sessions", "live_predictions", "live_accuracy", "drift_history", "drift_features")
MANIFEST = "published.json"


def folder_of(warehouse_path: str | Path) -> Path:
    """Where a warehouse's copies are published: `published/` beside the warehouse's folder."""
    return Path(warehouse_path).parent / "published"


def publish(con, tables, folder: Path) -> list[str]:
    """Copies `tables` (those of READER_TABLES that exist) from the open connection `con`; call
    it after the commit, holding the warehouse's writer lock. Returns the tables published."""
    wanted = [table for table in tables if table in READER_TABLES]
    if not wanted:  # e.g. lap_features: nothing to ask the catalog
        return []
    existing = lake.table_names(con)
    wanted = [table for table in wanted if table in existing]
    if not wanted:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    manifest = _manifest(folder)
    for table in wanted:
        final = folder / f"{table}.parquet"
        partial = folder / f".{table}.parquet.{os.getpid()}.partial"
        rows = con.execute(f"COPY (SELECT * FROM {table}) TO '{lake.quote(str(partial))}' (FORMAT parquet)").fetchone()[
            0
        ]
        os.replace(partial, final)
        manifest[table] = {"rows": rows, "published_at": datetime.now(UTC).isoformat(timespec="seconds")}
    _write_json(folder / MANIFEST, manifest)
    return wanted


@dataclass(frozen=True)
class Published:
    table: str
    frame: pl.DataFrame | None  # None: never published
    published_at: str | None  # UTC, ISO 8601


def read(folder: Path, table: str) -> Published:
    """The table as last published (frame None when it never was)."""
    if table not in READER_TABLES:
        raise ValueError(f"{table!r} is not published for readers; published: {', '.join(READER_TABLES)}")
    entry = _manifest(folder).get(table)
    path = folder / f"{table}.parquet"
    if entry is None or not path.is_file():
        return Published(table, None, None)
    # one open file: polars given a path may open it twice (metadata, then pages), and a copy
    # swapped in between would not match
    with path.open("rb") as handle:
        return Published(table, pl.read_parquet(handle), entry["published_at"])


def read_published(table: str) -> Published:
    """`read` from the configured warehouse's published folder."""
    return read(folder_of(settings.warehouse_path()), table)


def _manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        return {}


def _write_json(path: Path, body: dict) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(body, indent=1))
    os.replace(partial, path)
