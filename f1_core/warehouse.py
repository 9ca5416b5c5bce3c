"""The warehouse analysts query: table definitions and the one way sessions are written.

The tables live in a DuckLake (`f1_core.lake`): a reader sees the snapshot its transaction began
with and never holds a writer up. Each write is one transaction; two writers committing at once
race for the catalog, and the loser takes its whole transaction again (`_retrying`). The Dagster
pool `duckdb_warehouse` keeps the pipeline's own writers from racing at all. The console reads
the Parquet copies each write publishes (`f1_core.published`).
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from f1_core import file_lock, lake, published, settings

# Column documentation lives here and in docs/warehouse.md; `COMMENT ON` puts it in the catalog too, so
# `SELECT * FROM duckdb_columns()` explains every column from inside any DuckDB client.
TABLES: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "sessions": (
        "One row per ingested session.",
        [
            (
                "session_key",
                "VARCHAR NOT NULL",
                "season-round-event-session, e.g. 2023-16-japanese-grand-prix-race; one row each",
            ),
            ("season", "SMALLINT NOT NULL", "championship year"),
            ("round", "SMALLINT NOT NULL", "round of the championship"),
            ("event_name", "VARCHAR NOT NULL", "e.g. Japanese Grand Prix"),
            ("location", "VARCHAR", "town of the circuit, e.g. Suzuka"),
            ("country", "VARCHAR", "country of the circuit"),
            ("circuit_ref", "VARCHAR NOT NULL", "Ergast circuit reference, e.g. suzuka"),
            ("session_name", "VARCHAR NOT NULL", "FastF1 session name, e.g. Race, Sprint Shootout"),
            ("session_type", "VARCHAR NOT NULL", "practice, qualifying, sprint_qualifying, sprint or race"),
            ("event_date", "DATE", "date of the event's main race"),
            ("source", "VARCHAR NOT NULL", "live, archive, fastf1-cache or fastf1"),
            ("data_version", "VARCHAR NOT NULL", "hash of the raw tables the source delivered"),
            ("laps_in_source", "INTEGER NOT NULL", "laps the source delivered"),
            ("laps_loaded", "INTEGER NOT NULL", "laps in the laps table (source minus quarantined)"),
            ("laps_quarantined", "INTEGER NOT NULL", "laps in the quarantine table"),
            ("drivers", "SMALLINT NOT NULL", "drivers with at least one lap"),
            ("weather_rows", "INTEGER NOT NULL", "rows in the weather table (0: the source had none)"),
            ("ingested_at", "TIMESTAMP NOT NULL", "when this session was last written (UTC)"),
        ],
    ),
    "laps": (
        "One row per driver and lap, as FastF1 timed it. Times in seconds.",
        [
            ("session_key", "VARCHAR NOT NULL", "the session (sessions.session_key)"),
            (
                "driver",
                "VARCHAR NOT NULL",
                "three-letter driver code, e.g. VER; the car number where the source has no code",
            ),
            ("driver_number", "VARCHAR", "car number"),
            ("team", "VARCHAR", "team name"),
            ("lap_number", "SMALLINT NOT NULL", "lap number, from 1"),
            ("stint", "SMALLINT", "stint number, from 1"),
            ("lap_time_s", "DOUBLE", "lap time in seconds; NULL when FastF1 has none (e.g. red flag)"),
            ("sector1_s", "DOUBLE", "sector 1 time in seconds"),
            ("sector2_s", "DOUBLE", "sector 2 time in seconds"),
            ("sector3_s", "DOUBLE", "sector 3 time in seconds"),
            ("speed_i1", "DOUBLE", "speed trap at intermediate 1, km/h"),
            ("speed_i2", "DOUBLE", "speed trap at intermediate 2, km/h"),
            ("speed_fl", "DOUBLE", "speed at the finish line, km/h"),
            ("speed_st", "DOUBLE", "speed at the longest straight's trap, km/h"),
            (
                "compound",
                "VARCHAR",
                "tyre compound, upper case (SOFT, MEDIUM, HARD, INTERMEDIATE, WET; 2018: HYPERSOFT..SUPERHARD); "
                "NULL when unknown",
            ),
            ("tyre_life", "SMALLINT", "laps driven on this tyre set, including this one"),
            ("fresh_tyre", "BOOLEAN", "the set was new at the start of the stint"),
            ("pit_out_time_s", "DOUBLE", "session time the car left the pits on this lap (out-lap), seconds"),
            ("pit_in_time_s", "DOUBLE", "session time the car entered the pits on this lap (in-lap), seconds"),
            ("lap_start_time_s", "DOUBLE", "session time at the start of the lap, seconds"),
            ("session_time_s", "DOUBLE", "session time at the end of the lap, seconds"),
            ("lap_start_date", "TIMESTAMP", "wall-clock start of the lap (UTC)"),
            ("track_status", "VARCHAR", "every track status seen during the lap, e.g. '1' green, '4' safety car, '12'"),
            ("position", "SMALLINT", "race position at the end of the lap"),
            ("is_personal_best", "BOOLEAN", "the driver's best lap so far"),
            ("deleted", "BOOLEAN", "the lap was deleted by the stewards (track limits)"),
            ("deleted_reason", "VARCHAR", "why it was deleted"),
            ("fastf1_generated", "BOOLEAN", "FastF1 added this lap itself (little information)"),
            ("is_accurate", "BOOLEAN", "FastF1 trusts the lap's timing"),
            ("source_row", "INTEGER NOT NULL", "row number in the source laps table, from 1"),
        ],
    ),
    "weather": (
        "Track weather, about once a minute. Absent for sessions without weather.",
        [
            ("session_key", "VARCHAR NOT NULL", "the session"),
            ("session_time_s", "DOUBLE NOT NULL", "session time of the reading, seconds"),
            ("air_temp_c", "DOUBLE", "air temperature, °C"),
            ("track_temp_c", "DOUBLE", "track temperature, °C"),
            ("humidity_pct", "DOUBLE", "relative humidity, %"),
            ("pressure_hpa", "DOUBLE", "air pressure, hPa (mbar)"),
            ("wind_direction_deg", "DOUBLE", "wind direction, degrees"),
            ("wind_speed_ms", "DOUBLE", "wind speed, m/s"),
            ("rainfall", "BOOLEAN", "it is raining"),
        ],
    ),
    "quarantine": (
        "Source rows that broke a rule, kept whole with the reason.",
        [
            ("session_key", "VARCHAR NOT NULL", "the session"),
            ("source_table", "VARCHAR NOT NULL", "laps or weather"),
            ("source_row", "INTEGER NOT NULL", "row number in the source table, from 1"),
            (
                "rule",
                "VARCHAR NOT NULL",
                "first rule broken: unparseable_value, missing_identity, lap_time_out_of_range, "
                "sector_time_out_of_range, unknown_compound, value_out_of_range, duplicate_lap",
            ),
            ("column_name", "VARCHAR NOT NULL", "source column the rule looked at"),
            ("value", "VARCHAR", "the offending value as the source wrote it"),
            ("details", "VARCHAR NOT NULL", "every rule the row broke"),
            ("record", "VARCHAR NOT NULL", "the whole source row, JSON"),
            ("quarantined_at", "TIMESTAMP NOT NULL", "when (UTC)"),
        ],
    ),
}


# Tables the pipeline appends to over time (not replaced with a session's re-ingestion).
HISTORY_TABLES: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "drift_history": (
        "One row per drift report: a session against the champion's training reference.",
        [
            ("session_key", "VARCHAR NOT NULL", "the session"),
            (
                "champion_version",
                "VARCHAR NOT NULL",
                "registry version of the model whose reference and error were used",
            ),
            ("computed_at", "TIMESTAMP NOT NULL", "when the report was made (UTC)"),
            ("laps", "INTEGER NOT NULL", "clean laps of the session compared"),
            ("features_compared", "INTEGER NOT NULL", "model inputs compared (those present on both sides)"),
            ("features_drifted", "INTEGER NOT NULL", "inputs whose PSI reached the threshold"),
            ("share_drifted", "DOUBLE NOT NULL", "features_drifted / features_compared"),
            ("drifted_features", "VARCHAR[]", "the drifted inputs, largest PSI first"),
            ("live_mae_clean", "DOUBLE", "the champion's clean-lap MAE on this session, seconds"),
            ("train_mae_clean", "DOUBLE", "the champion's clean-lap MAE on its holdout, seconds"),
            ("error_ratio", "DOUBLE", "live_mae_clean / train_mae_clean"),
            (
                "classification",
                "VARCHAR NOT NULL",
                "none, data (inputs moved), concept (error rose, inputs did not) or both",
            ),
            ("thresholds", "VARCHAR NOT NULL", "the thresholds used, JSON"),
            ("report_path", "VARCHAR NOT NULL", "the Evidently HTML report"),
            # added later (NULL in older rows): where the compared laps end on the session's clock
            ("last_lap", "SMALLINT", "last lap number of the session's laps compared (the session's clock, in laps)"),
            ("session_time_s", "DOUBLE", "session time at the end of the last lap compared, seconds"),
            ("session_start_utc", "TIMESTAMP", "wall clock (UTC) at session time 0, from the laps' lap_start_date"),
        ],
    ),
    "drift_features": (
        "Per report and model input: the drift numbers Evidently computed.",
        [
            ("session_key", "VARCHAR NOT NULL", "the session"),
            ("champion_version", "VARCHAR NOT NULL", "registry version of the reference's model"),
            ("computed_at", "TIMESTAMP NOT NULL", "the report (drift_history.computed_at)"),
            ("feature", "VARCHAR NOT NULL", "model input"),
            ("psi", "DOUBLE NOT NULL", "population stability index against the training reference"),
            ("js_distance", "DOUBLE NOT NULL", "Jensen-Shannon distance against the training reference"),
            ("ks_p_value", "DOUBLE", "Kolmogorov-Smirnov p-value (continuous inputs only)"),
            ("drifted", "BOOLEAN NOT NULL", "psi reached the threshold"),
        ],
    ),
}


class WarehouseLockedError(RuntimeError):
    """The catalog stayed busy (other writers, or a process locking its file) for longer than we wait."""


def _is_busy(exc: Exception) -> bool:
    """A commit that lost a race for the catalog: taken again, it succeeds."""
    message = str(exc).lower()
    return any(word in message for word in ("database is locked", "busy", "conflict"))


@contextmanager
def connect(path: str | Path):
    """A connection to the warehouse in the folder `path` (see `f1_core.lake`)."""
    con = lake.cursor(path)
    try:
        yield con
    finally:
        con.close()


def _retrying(path: str | Path, work, wait_seconds: float):
    """`work(con)` in a connection of its own, taken again with backoff while the catalog is busy."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            with connect(path) as con:
                return work(con)
        except (duckdb.TransactionException, duckdb.IOException) as exc:
            if not _is_busy(exc):
                raise
            if time.monotonic() + delay > deadline:
                raise WarehouseLockedError(
                    f"warehouse {path}: its catalog stayed busy for {wait_seconds:.0f} s: {exc}"
                ) from exc
            time.sleep(delay * (0.5 + random.random()))  # writers racing each other drift apart
            delay = min(delay * 2, 2.0)


def create_tables(con: duckdb.DuckDBPyConnection, single_file: Path | None = None) -> None:
    """Creates the tables and their documentation once; a write to an existing warehouse skips it.
    A new warehouse takes the rows of `single_file` (the DuckDB file it replaces) when it exists."""
    existing = lake.table_names(con)
    if not set(TABLES) | set(HISTORY_TABLES) <= existing:
        for table, (doc, columns) in (TABLES | HISTORY_TABLES).items():
            body = ", ".join(f"{name} {ddl}" for name, ddl, _ in columns)
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body})")
            con.execute(f"COMMENT ON TABLE {table} IS '{lake.quote(doc)}'")
            for name, _, description in columns:
                con.execute(f"COMMENT ON COLUMN {table}.{name} IS '{lake.quote(description)}'")
        if not existing and single_file is not None and single_file.is_file():
            _import_single_file(con, single_file)
    _add_new_history_columns(con)


def _import_single_file(con: duckdb.DuckDBPyConnection, single_file: Path) -> None:
    """A new lake takes over the tables of the single DuckDB file the warehouse used to be
    (`<folder>.duckdb`, e.g. data/warehouse.duckdb); the file stays where it is."""
    con.execute(f"ATTACH '{lake.quote(str(single_file))}' AS single_file (READ_ONLY)")  # detached by _transaction
    for table in sorted(lake.table_names(con, "single_file")):
        if table in TABLES or table in HISTORY_TABLES:
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM single_file.{table}")
        else:
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM single_file.{table}")


def _add_new_history_columns(con: duckdb.DuckDBPyConnection) -> None:
    """History tables of a warehouse made before a column was added get it (NULL in their rows)."""
    have = set(
        con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = current_database()"
        ).fetchall()
    )
    for table, (_, columns) in HISTORY_TABLES.items():
        for name, ddl, description in columns:
            if (table, name) not in have:
                if "NOT NULL" in ddl:
                    raise ValueError(f"{table}.{name} is NOT NULL: a column added later must be nullable")
                con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}")
                con.execute(f"COMMENT ON COLUMN {table}.{name} IS '{lake.quote(description)}'")


def _transaction(path: str | Path, work, wait_seconds: float) -> None:
    """`work(con)` in one transaction (the tables created in it when missing), taken again while
    the catalog is busy; whatever fails leaves the warehouse as it was."""

    def attempt(con):
        con.execute("BEGIN TRANSACTION")
        try:
            try:
                create_tables(con, Path(path).with_suffix(".duckdb"))
                work(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")  # a commit that fails has ended the transaction itself
        finally:
            con.execute("DETACH DATABASE IF EXISTS single_file")

    _retrying(path, attempt, wait_seconds)


def _publish(path: str | Path, tables) -> None:
    with connect(path) as con:
        published.publish(con, tables, published.folder_of(path))


@contextmanager
def _writing(path: str | Path):
    """Held by each write on this machine, its publishing included: DuckLake lets two first
    writes of one session both insert (no key to clash on), and two publishers would race for
    the same copies. Readers never take it."""
    with file_lock.locked(Path(path) / "writer"):
        yield


def replace_session(
    path: str | Path, session_key: str, tables: dict[str, pl.DataFrame], wait_seconds: float = 120.0
) -> None:
    """Replaces everything stored for one session, atomically: all tables or none."""
    unknown = set(tables) - set(TABLES)
    if unknown:
        raise ValueError(f"not warehouse tables: {sorted(unknown)}")
    incoming = {}
    for table, frame in tables.items():
        if frame is None or frame.height == 0:
            continue
        wrong = frame.filter(pl.col("session_key") != session_key).height
        if wrong:
            raise ValueError(f"{wrong} rows for table {table} belong to another session")
        incoming[table] = frame.select(name for name, _, _ in TABLES[table][1])

    def work(con):
        for table in TABLES:
            con.execute(f"DELETE FROM {table} WHERE session_key = ?", [session_key])
            if table in incoming:
                con.register("incoming", incoming[table])
                con.execute(f"INSERT INTO {table} SELECT * FROM incoming")
                con.unregister("incoming")

    with _writing(path):
        _transaction(path, work, wait_seconds)
        _publish(path, TABLES)


def append(path: str | Path, tables: dict[str, pl.DataFrame], wait_seconds: float = 120.0) -> None:
    """Appends rows to history tables, all in one transaction."""
    unknown = set(tables) - set(HISTORY_TABLES)
    if unknown:
        raise ValueError(f"not history tables: {sorted(unknown)}")
    incoming = {table: _history_rows(table, frame) for table, frame in tables.items()}

    def work(con):
        for table, frame in incoming.items():
            con.register("incoming", frame)
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            con.unregister("incoming")

    with _writing(path):
        _transaction(path, work, wait_seconds)
        _publish(path, tables)


def _history_rows(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The table's columns of `frame`; a nullable column the writer does not know of is NULL."""
    columns = HISTORY_TABLES[table][1]
    missing = [name for name, _, _ in columns if name not in frame.columns]
    required = [name for name, ddl, _ in columns if name in missing and "NOT NULL" in ddl]
    if required:
        raise ValueError(f"rows for {table} lack the required column(s) {', '.join(required)}")
    return frame.with_columns(pl.lit(None).alias(name) for name in missing).select(name for name, _, _ in columns)


def replace_table(path: str | Path, table: str, frame: pl.DataFrame, comment: str, wait_seconds: float = 120.0) -> None:
    """Replaces a derived table (one computed from the others, e.g. lap_features) whole."""
    if table in TABLES or table in HISTORY_TABLES:
        raise ValueError(f"{table} is a source or history table: write it with replace_session or append")

    def work(con):
        con.register("incoming", frame)
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM incoming")
        con.unregister("incoming")
        con.execute(f"COMMENT ON TABLE {table} IS '{lake.quote(comment)}'")

    with _writing(path):
        _transaction(path, work, wait_seconds)
        _publish(path, [table])


def ensure_tables(path: str | Path, wait_seconds: float = 120.0) -> None:
    """Creates the source and history tables if the warehouse lacks any."""
    with _writing(path):
        _transaction(path, lambda con: None, wait_seconds)


def open_connection(path: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """An analyst's connection to the warehouse (the configured one by default): it sees the
    latest committed snapshot at each transaction's start and never holds the pipeline up."""
    return lake.cursor(path or settings.warehouse_path())


def exists(path: str | Path) -> bool:
    """Whether anything has been written to the warehouse in `path`."""
    return lake.exists(path)


def query(path: str | Path, sql: str, params: list | None = None, wait_seconds: float = 120.0) -> pl.DataFrame:
    """The rows `sql` selects, as of the latest committed snapshot; never waits for a writer."""
    return _retrying(path, lambda con: con.execute(sql, params or []).pl(), wait_seconds)
