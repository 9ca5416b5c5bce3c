"""Where the warehouse's tables live: a DuckLake, Parquet files plus a catalog database.

Readers never block writers and writers never block readers: a reader sees the snapshot its
transaction began with, a writer commits a new snapshot. The catalog is a SQLite file in the
warehouse folder by default (many processes on one machine), or PostgreSQL when
`F1_WAREHOUSE_CATALOG` names one (many machines; the Parquet folder must then be shared too).

DuckDB cannot download extensions here, so they are loaded from the PyPI packages uv.lock pins.
Loading one checks its signature, which takes a noticeable fraction of a second, so each process
opens the lake once and hands out cursors of that instance.
"""

from __future__ import annotations

import importlib.resources
import os
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import duckdb

from f1_core import file_lock, settings

NAME = "warehouse"  # the lake's name inside a connection: `warehouse.laps`, or `laps` after USE
CATALOG_FILE = "catalog.sqlite"
DATA_FOLDER = "data"

_instances: dict[tuple, duckdb.DuckDBPyConnection] = {}
_instances_lock = threading.Lock()


def catalog_of(folder: str | Path) -> str:
    """The DuckLake catalog of the warehouse in `folder`: `sqlite:<folder>/catalog.sqlite` unless
    F1_WAREHOUSE_CATALOG names another (e.g. `postgres:dbname=f1_warehouse host=127.0.0.1`)."""
    return settings.warehouse_catalog() or f"sqlite:{Path(folder) / CATALOG_FILE}"


def exists(folder: str | Path) -> bool:
    """Whether the warehouse has been written at all (its catalog exists)."""
    catalog = catalog_of(folder)
    if catalog.startswith("sqlite:"):
        return Path(catalog.removeprefix("sqlite:")).is_file()
    return True  # a server catalog: asking it is the only way to know


def extension_file(name: str) -> str:
    """The extension `name` (ducklake, sqlite_scanner, postgres_scanner) built for this DuckDB."""
    package = importlib.resources.files(f"duckdb_extension_{name}")
    path = package / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        raise RuntimeError(
            f"no {name} extension for DuckDB {duckdb.__version__} in the package "
            f"duckdb-extension-{name.replace('_', '-')}: its version must equal DuckDB's"
        )
    return str(path)


def attach_sql(folder: str | Path) -> list[str]:
    """The statements that open the warehouse in any DuckDB 1.5.5 connection (an analyst's too)."""
    folder = Path(folder).expanduser().resolve()
    catalog = catalog_of(folder)
    scanner = "sqlite_scanner" if catalog.startswith("sqlite:") else "postgres_scanner"
    data = str(folder / DATA_FOLDER) + os.sep
    options = f"DATA_PATH '{quote(data)}'"
    if catalog.startswith("sqlite:"):
        # the catalog lives in the folder and the data files' paths are relative to it: a folder
        # copied or moved whole opens where it now is (a server catalog keeps the path it was
        # made with; another one there is a misconfiguration, refused)
        options += ", OVERRIDE_DATA_PATH true"
    return [
        f"LOAD '{quote(extension_file(scanner))}'",
        f"LOAD '{quote(extension_file('ducklake'))}'",
        f"ATTACH '{quote(f'ducklake:{catalog}')}' AS {NAME} ({options})",
        f"USE {NAME}",
    ]


def cursor(folder: str | Path) -> duckdb.DuckDBPyConnection:
    """A new connection to the warehouse in `folder`, its own transactions, `USE`d."""
    folder = Path(folder).expanduser().resolve()  # the catalog holds the data path as an absolute one
    key = (os.getpid(), str(folder), catalog_of(folder))  # a forked child opens its own
    with _instances_lock:
        instance = _instances.get(key)
        if instance is None:
            instance = _instances[key] = _open(folder)
    connection = instance.cursor()
    connection.execute(f"USE {NAME}")
    return connection


def _open(folder: Path) -> duckdb.DuckDBPyConnection:
    if folder.is_file():
        raise ValueError(
            f"F1_WAREHOUSE={folder} is a file: the warehouse is a folder (a DuckLake); a "
            f"single-file warehouse of earlier versions is taken over from <folder>.duckdb"
        )
    catalog = catalog_of(folder)
    (folder / DATA_FOLDER).mkdir(parents=True, exist_ok=True)
    instance = duckdb.connect(config={"autoinstall_known_extensions": False})
    try:
        if catalog.startswith("sqlite:"):
            sqlite_file = Path(catalog.removeprefix("sqlite:"))
            # two processes creating one catalog at once corrupt it: the first creates it alone
            with file_lock.locked(sqlite_file):
                _prepare_sqlite(sqlite_file)
                _attach(instance, folder)
        else:
            _attach_racing(instance, folder)
    except BaseException:
        instance.close()
        raise
    return instance


def _attach(instance: duckdb.DuckDBPyConnection, folder: Path) -> None:
    for statement in attach_sql(folder)[:-1]:
        instance.execute(statement)


def _attach_racing(instance: duckdb.DuckDBPyConnection, folder: Path, attempts: int = 5) -> None:
    """A server catalog two processes create at once: the loser's CREATE fails, and once the
    winner has committed, attaching again finds the lake made."""
    for attempt in range(attempts):
        try:
            return _attach(instance, folder)
        except duckdb.Error as exc:
            if "initialize DuckLake" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def _prepare_sqlite(path: Path) -> None:
    """A new SQLite catalog is put in WAL mode (kept by the file): its readers then never wait for
    its writer, nor its writer for them."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as con:
        con.execute("PRAGMA journal_mode=WAL")


def close_all() -> None:
    """Closes this process's lake instances (tests; a process about to delete a warehouse)."""
    with _instances_lock:
        for instance in _instances.values():
            instance.close()
        _instances.clear()


def quote(text: str) -> str:
    """`text` inside a single-quoted SQL string."""
    return text.replace("'", "''")


def table_names(con: duckdb.DuckDBPyConnection, database: str | None = None) -> set[str]:
    """The tables of `database` (default: the connection's current one, the lake after USE); a
    connection also sees the lake's catalog and DuckDB's own memory database."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = coalesce(?, current_database())", [database]
    ).fetchall()
    return {row[0] for row in rows}
