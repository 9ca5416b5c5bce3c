"""Runs on celery workers (F1_EXECUTOR=celery), with RabbitMQ on 127.0.0.1:5672 as the broker and
Dagster's instance and the warehouse's catalog in PostgreSQL: steps of two runs spread over two
workers while the warehouse pool still takes one writer at a time, and a worker killed mid-step
costs nothing but the time to run the step again."""

import os
import shlex
import shutil
import subprocess
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import dagster as dg
import pytest

from f1_core import file_lock, lake, settings, warehouse
from f1_production import postgres
from f1_production.celery_worker import CeleryWorker, delete_queue
from f1_serving.local import start_together

pytestmark = pytest.mark.production
SESSIONS = ["2023-01-bahrain-grand-prix-race", "2023-02-saudi-arabian-grand-prix-race"]


def restart_postgresql() -> list[str]:
    """The command that restarts the PostgreSQL server: F1_TEST_POSTGRES_RESTART where it runs
    elsewhere (CI's service container), else this machine's one Debian cluster."""
    if command := os.environ.get("F1_TEST_POSTGRES_RESTART"):
        return shlex.split(command)
    versions = sorted(path.name for path in Path("/etc/postgresql").iterdir())
    if len(versions) != 1:
        pytest.fail(f"expected one PostgreSQL cluster in /etc/postgresql, found {versions}")
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "restart"]


@pytest.fixture
def deployment(postgres_database, tmp_path, monkeypatch):
    """The environment of every process of one deployment (its own Dagster database and queue),
    this test's process included."""
    catalog = f"{postgres_database}_warehouse"
    postgres.ensure_database(catalog)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(settings.dagster_home("postgres") / "dagster.yaml", home)
    queue = f"f1-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        **postgres.dagster_environment(postgres_database),
        "F1_EXECUTOR": "celery",
        "F1_CELERY_QUEUE": queue,
        "F1_SOURCES": "archive",
        "F1_DATA_DIR": str(tmp_path / "data"),
        "F1_WAREHOUSE": str(tmp_path / "data" / "warehouse"),
        "F1_WAREHOUSE_CATALOG": f"postgres:{postgres.conninfo(catalog)}",
    }
    env.pop("F1_PROFILE", None)
    for name, value in env.items():
        if name.startswith(("DAGSTER_", "F1_")):
            monkeypatch.setenv(name, value)
    yield env
    delete_queue(queue)
    postgres.drop_database(catalog)


def f1_run(env: dict, *sessions: str) -> subprocess.Popen:
    args = [arg for key in sessions for arg in ("--session", key)]
    return subprocess.Popen(
        [str(settings.PROJECT_ROOT / ".venv" / "bin" / "f1"), "run", "--skip-training", *args],
        env=env,
        cwd=settings.PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(process: subprocess.Popen, timeout: float = 300) -> str:
    out, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, out[-3000:]
    return out


def events(env: dict, event_type: dg.DagsterEventType) -> list[dg.EventLogEntry]:
    """Every run's events of one type, straight from the instance's PostgreSQL database."""
    with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        return [entry for run in instance.get_runs() for entry in instance.all_logs(run.run_id, of_type=event_type)]


def stored(env: dict) -> dict[str, int]:
    """Laps per session in the warehouse (none before its first write made the tables)."""
    with warehouse.connect(env["F1_WAREHOUSE"]) as con:
        if "laps" not in lake.table_names(con):
            return {}
        return dict(con.execute("SELECT session_key, count(*) FROM laps GROUP BY 1").fetchall())


def test_two_runs_share_two_workers_and_the_warehouse_pool_serialises_their_writes(deployment, tmp_path):
    with ExitStack() as workers:
        names = ("worker-a", "worker-b")
        start_together(workers, [CeleryWorker(deployment, name=n, log_path=tmp_path / f"{n}.log") for n in names])
        runs = [f1_run(deployment, key) for key in SESSIONS]
        for run in runs:
            finished(run)
    started = events(deployment, dg.DagsterEventType.STEP_START)
    ended = events(deployment, dg.DagsterEventType.STEP_SUCCESS)
    spans = sorted(
        (s.timestamp, e.timestamp)
        for s in started
        for e in ended
        if s.step_key == e.step_key == "warehouse_tables" and s.run_id == e.run_id
    )
    assert len(spans) == 2
    assert spans[0][1] <= spans[1][0], f"the two sessions' warehouse writes overlapped: {spans}"
    workers = {
        entry.dagster_event.engine_event_data.metadata["Celery worker"].value
        for entry in events(deployment, dg.DagsterEventType.ENGINE_EVENT)
        if "Celery worker" in (entry.dagster_event.engine_event_data.metadata or {})
    }
    assert {node.split("@")[0] for node in workers} == {"worker-a", "worker-b"}
    laps = stored(deployment)
    assert sorted(laps) == SESSIONS and min(laps.values()) > 900


def test_a_worker_killed_mid_write_leaves_the_warehouse_unchanged_and_the_step_runs_again(deployment, tmp_path):
    key = SESSIONS[0]
    writer = threading.Event()
    released = threading.Event()

    def hold_the_writer_lock():  # as another writer would: the step waits inside its write
        with file_lock.locked(settings.warehouse_path() / "writer"):
            writer.set()
            released.wait(300)

    holder = threading.Thread(target=hold_the_writer_lock)
    holder.start()
    run = None
    try:
        writer.wait(10)
        with CeleryWorker(deployment, name="doomed", log_path=tmp_path / "doomed.log") as doomed:
            run = f1_run(deployment, key)
            deadline = time.monotonic() + 240
            while not any(r.step_key == "warehouse_tables" for r in events(deployment, dg.DagsterEventType.STEP_START)):
                assert time.monotonic() < deadline and run.poll() is None, run.stdout.read()[-3000:]
                time.sleep(0.2)
            doomed.kill()
        assert stored(deployment) == {}  # the killed write never committed
        with CeleryWorker(deployment, name="spare", log_path=tmp_path / "spare.log"):
            released.set()
            out = finished(run)
    finally:
        released.set()
        holder.join()
        if run is not None and run.poll() is None:
            run.kill()
            run.communicate()
    assert any(key in line and " ok " in line for line in out.splitlines()), out[-3000:]
    starts = [r for r in events(deployment, dg.DagsterEventType.STEP_START) if r.step_key == "warehouse_tables"]
    assert len(starts) == 2  # the killed worker's, and the spare's that finished it
    laps = stored(deployment)
    assert list(laps) == [key]
    with dg.DagsterInstance.from_config(deployment["DAGSTER_HOME"]) as instance:
        loaded = instance.get_latest_materialization_event(dg.AssetKey(["warehouse", "laps"]))
    assert laps[key] == loaded.asset_materialization.metadata["dagster/row_count"].value


@pytest.mark.serial
def test_postgresql_restarted_during_a_run_loses_nothing(deployment, tmp_path):
    """The server of Dagster's instance and of the warehouse's catalog restarts while sessions are
    ingested on a celery worker: the user sees Dagster's "Retrying failed database connection"
    and every session ends ok, whole, once."""
    keys = [
        f"2023-{n:02d}-{name}-grand-prix-race"
        for n, name in [
            (1, "bahrain"),
            (2, "saudi-arabian"),
            (3, "australian"),
            (4, "azerbaijan"),
        ]
    ]
    with CeleryWorker(deployment, name="worker", log_path=tmp_path / "worker.log"):
        run = f1_run(deployment, *keys)
        lines = []
        for line in run.stdout:  # restarted once the second session is in
            lines.append(line)
            if line.startswith("[  2/"):
                subprocess.run(restart_postgresql(), check=True, timeout=120)
                break
        out = "".join(lines) + finished(run)
    assert all(any(key in line and " ok " in line for line in out.splitlines()) for key in keys), out[-3000:]
    with dg.DagsterInstance.from_config(deployment["DAGSTER_HOME"]) as instance:
        succeeded = {
            run.tags["dagster/partition"] for run in instance.get_runs() if run.status == dg.DagsterRunStatus.SUCCESS
        }
    assert sorted(succeeded) == keys
    laps = stored(deployment)
    with warehouse.connect(deployment["F1_WAREHOUSE"]) as con:
        loaded = dict(con.execute("SELECT session_key, laps_loaded FROM sessions").fetchall())
    assert laps == loaded and sorted(laps) == keys
