import multiprocessing
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl
import pytest

from f1_core import lake, settings, warehouse
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import standardize
from tests.conftest import ARCHIVE, JAPAN_2023

BAHRAIN_2024 = "2024-01-bahrain-grand-prix-race"


def tables_of(key: str) -> dict[str, pl.DataFrame]:
    source = ArchiveSource(ARCHIVE)
    standard = standardize(source.load(next(r for r in source.catalog() if r.key == key)))
    return {
        "sessions": standard.session,
        "laps": standard.laps,
        "weather": standard.weather,
        "quarantine": standard.quarantine,
    }


def counts(path) -> dict[str, int]:
    return {t: warehouse.query(path, f"SELECT count(*) AS n FROM {t}")["n"][0] for t in warehouse.TABLES}


def test_rewriting_a_session_replaces_its_rows():
    path = settings.warehouse_path()
    japan = tables_of(JAPAN_2023)
    warehouse.replace_session(path, JAPAN_2023, japan)
    warehouse.replace_session(path, BAHRAIN_2024, tables_of(BAHRAIN_2024))
    before = counts(path)
    warehouse.replace_session(path, JAPAN_2023, japan)
    assert counts(path) == before
    assert before["laps"] == 880 + 1024 and before["sessions"] == 2


def test_a_failed_write_leaves_the_warehouse_as_it_was(catalog):
    path = settings.warehouse_path()
    warehouse.replace_session(path, JAPAN_2023, tables_of(JAPAN_2023))
    before = warehouse.query(path, "SELECT * FROM laps ORDER BY driver, lap_number")
    broken = tables_of(JAPAN_2023)
    # the laps arrive fine, the weather insert fails half-way through the transaction
    broken["weather"] = broken["weather"].with_columns(pl.lit(None, pl.Float64).alias("session_time_s"))
    with pytest.raises(duckdb.ConstraintException):
        warehouse.replace_session(path, JAPAN_2023, broken)
    assert warehouse.query(path, "SELECT * FROM laps ORDER BY driver, lap_number").equals(before)
    assert counts(path)["weather"] == 158


def test_rows_of_another_session_are_refused():
    path = settings.warehouse_path()
    with pytest.raises(ValueError, match="belong to another session"):
        warehouse.replace_session(path, BAHRAIN_2024, tables_of(JAPAN_2023))
    assert not path.exists() or counts(path)["laps"] == 0


def test_tables_carry_their_documentation():
    path = settings.warehouse_path()
    warehouse.replace_session(path, JAPAN_2023, tables_of(JAPAN_2023))
    comment = warehouse.query(
        path, "SELECT comment FROM duckdb_columns() WHERE table_name = 'laps' AND column_name = 'lap_time_s'"
    )
    assert "seconds" in comment["comment"][0]


def _lock_catalog(path: str, seconds: float, ready) -> None:
    """What a stuck tool would do: take the SQLite catalog's write lock and keep it."""
    con = sqlite3.connect(str(Path(path) / lake.CATALOG_FILE), isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    ready.set()
    time.sleep(seconds)
    con.execute("COMMIT")
    con.close()


@contextmanager
def another_process_holding(path, seconds: float):
    """Another process holds the warehouse's catalog locked for writing for `seconds`."""
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_lock_catalog, args=(str(path), seconds, ready))
    holder.start()
    try:
        assert ready.wait(30)
        yield
    finally:
        holder.join(30)


def test_a_writer_waits_while_another_process_holds_the_catalog():
    path = settings.warehouse_path()
    warehouse.replace_session(path, JAPAN_2023, tables_of(JAPAN_2023))
    with another_process_holding(path, 2.0):
        assert counts(path)["sessions"] == 1  # readers are not held up
        started = time.monotonic()
        warehouse.replace_session(path, BAHRAIN_2024, tables_of(BAHRAIN_2024))
        assert time.monotonic() - started > 0.5  # it really waited for the other process
    assert counts(path)["sessions"] == 2


def test_a_writer_gives_up_with_a_clear_error_while_the_catalog_stays_locked():
    path = settings.warehouse_path()
    warehouse.replace_session(path, JAPAN_2023, tables_of(JAPAN_2023))
    before = warehouse.query(path, "SELECT * FROM laps ORDER BY driver, lap_number")
    with another_process_holding(path, 5.0):
        with pytest.raises(warehouse.WarehouseLockedError, match="stayed busy"):
            warehouse.replace_session(path, JAPAN_2023, {}, wait_seconds=0.5)  # would empty it
    assert warehouse.query(path, "SELECT * FROM laps ORDER BY driver, lap_number").equals(before)


def _read_through_writes(path: str, opened, written, seen) -> None:
    """An analyst: one connection, a transaction left open across the pipeline's writes."""
    con = warehouse.open_connection(path)
    con.execute("BEGIN TRANSACTION")
    seen.put(con.execute("SELECT count(*) FROM sessions").fetchone()[0])
    opened.set()
    written.wait(120)  # held open until the writer says it is done: a blocked writer never gets there
    seen.put(con.execute("SELECT count(*) FROM sessions").fetchone()[0])  # still its own snapshot
    con.execute("COMMIT")
    seen.put(con.execute("SELECT count(*) FROM sessions").fetchone()[0])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.production])])
def catalog(request, monkeypatch):
    """The embedded catalog, and the production profile's PostgreSQL one."""
    if request.param == "postgres":
        database = request.getfixturevalue("postgres_database")
        monkeypatch.setenv("F1_WAREHOUSE_CATALOG", f"postgres:dbname={database} host=127.0.0.1 user=postgres")
    return request.param


def test_a_reader_holding_a_transaction_open_never_holds_the_writer_up(catalog):
    path = settings.warehouse_path()
    japan, bahrain = tables_of(JAPAN_2023), tables_of(BAHRAIN_2024)
    warehouse.ensure_tables(path)
    ctx = multiprocessing.get_context("spawn")
    opened, written, seen = ctx.Event(), ctx.Event(), ctx.Queue()
    reader = ctx.Process(target=_read_through_writes, args=(str(path), opened, written, seen))
    reader.start()
    try:
        assert opened.wait(60)
        warehouse.replace_session(path, JAPAN_2023, japan, wait_seconds=30)
        warehouse.replace_session(path, BAHRAIN_2024, bahrain, wait_seconds=30)
        written.set()
        assert [seen.get(timeout=60) for _ in range(3)] == [0, 0, 2]
    finally:
        written.set()
        reader.join(60)
    assert reader.exitcode == 0
    for key, tables in ((JAPAN_2023, japan), (BAHRAIN_2024, bahrain)):
        stored = warehouse.query(path, "SELECT * FROM laps WHERE session_key = ? ORDER BY source_row", [key])
        assert stored.drop("session_key").equals(
            tables["laps"].sort("source_row").select(stored.columns).drop("session_key"), null_equal=True
        ), key


def _write_sessions(path: str, keys: list[str], rounds: int) -> None:
    for _ in range(rounds):
        for key in keys:
            warehouse.replace_session(path, key, tables_of(key))


def test_parallel_writers_neither_corrupt_nor_lock_each_other_out(catalog):
    path = str(settings.warehouse_path())
    ctx = multiprocessing.get_context("spawn")
    writers = [
        ctx.Process(target=_write_sessions, args=(path, [JAPAN_2023], 4)),
        ctx.Process(target=_write_sessions, args=(path, [BAHRAIN_2024], 4)),
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
    assert [w.exitcode for w in writers] == [0, 0]
    assert counts(path)["laps"] == 880 + 1024
    assert warehouse.query(path, "SELECT count(*) AS n FROM sessions")["n"][0] == 2


def test_each_write_publishes_the_tables_readers_use_whole():
    """Readers (the console) read the published copies: a reader reading all along while a writer
    rewrites sessions always sees a whole table, and the writer never waits for it."""
    from f1_core import published

    path = settings.warehouse_path()
    folder = published.folder_of(path)
    assert published.read(folder, "sessions").frame is None  # nothing written yet
    japan, bahrain = tables_of(JAPAN_2023), tables_of(BAHRAIN_2024)
    warehouse.replace_session(path, JAPAN_2023, japan)
    first = published.read(folder, "sessions")
    assert first.frame["session_key"].to_list() == [JAPAN_2023] and first.published_at
    seen, stop = [], False

    def reader():
        while not stop:
            seen.append(published.read(folder, "sessions").frame.height)

    import threading

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(5):
            warehouse.replace_session(path, BAHRAIN_2024, bahrain)
            warehouse.replace_session(path, JAPAN_2023, japan)
    finally:
        stop = True
        thread.join()
    assert seen and set(seen) <= {1, 2}
    assert published.read(folder, "sessions").frame.height == 2
    assert sorted(p.name for p in folder.iterdir()) == ["published.json", "sessions.parquet"]  # no partial file left
    with pytest.raises(ValueError, match="laps.*not published"):
        published.read(folder, "laps")


def test_a_new_lake_takes_over_the_single_file_warehouse_of_earlier_versions():
    path = settings.warehouse_path()
    single_file = path.with_suffix(".duckdb")
    japan = tables_of(JAPAN_2023)
    single_file.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(single_file)) as con:  # as earlier versions wrote it
        for table, (_, columns) in (warehouse.TABLES | warehouse.HISTORY_TABLES).items():
            con.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {ddl}' for n, ddl, _ in columns)})")
        for table in ("sessions", "laps", "weather"):
            con.register("incoming", japan[table])
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
        con.execute("CREATE TABLE lap_features AS SELECT 'x' AS session_key, 1.5 AS value")
    warehouse.replace_session(path, BAHRAIN_2024, tables_of(BAHRAIN_2024))
    assert counts(path)["laps"] == 880 + 1024
    assert warehouse.query(path, "SELECT * FROM lap_features").rows() == [("x", 1.5)]
    assert single_file.is_file()  # left where it was
    warehouse.replace_session(path, BAHRAIN_2024, tables_of(BAHRAIN_2024))  # taken over once only
    assert counts(path)["laps"] == 880 + 1024


def test_any_duckdb_client_opens_it_with_the_statements_the_cli_prints():
    from click.testing import CliRunner

    from f1_assets.cli import main

    path = settings.warehouse_path()
    warehouse.replace_session(path, JAPAN_2023, tables_of(JAPAN_2023))
    printed = CliRunner().invoke(main, ["warehouse-sql"])
    assert printed.exit_code == 0, printed.output
    with duckdb.connect() as client:  # a client that knows nothing of this project
        for statement in printed.output.strip().rstrip(";").split("; "):
            client.execute(statement)
        assert client.execute("SELECT count(*) FROM laps").fetchone()[0] == 880


def test_a_relative_path_opens_the_same_warehouse(monkeypatch):
    path = settings.warehouse_path()
    warehouse.replace_session(path, JAPAN_2023, tables_of(JAPAN_2023))
    monkeypatch.chdir(path.parent)
    assert warehouse.open_connection(path.name).sql("SELECT count(*) FROM laps").fetchone()[0] == 880
    assert f"DATA_PATH '{path}/data/'" in lake.attach_sql(Path(path.name))[-2]


def test_a_warehouse_folder_moved_whole_opens_where_it_now_is(tmp_path):
    path = settings.warehouse_path()
    warehouse.replace_session(path, JAPAN_2023, tables_of(JAPAN_2023))
    lake.close_all()
    moved = tmp_path / "moved" / "warehouse"
    moved.parent.mkdir()
    path.rename(moved)
    warehouse.replace_session(moved, BAHRAIN_2024, tables_of(BAHRAIN_2024))  # new files land in it
    assert counts(moved)["laps"] == 880 + 1024
    assert not path.exists()  # nothing written where it was
