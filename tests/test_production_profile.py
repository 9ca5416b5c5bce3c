"""`F1_PROFILE=production make run` on this machine's PostgreSQL: the main job runs with Dagster,
the warehouse's catalog and MLflow (a server it starts and stops) all in PostgreSQL."""

import os
import socket
import subprocess
import sys
import uuid
from contextlib import closing

import psutil
import psycopg2
import pytest

from f1_core import settings, warehouse
from f1_production import postgres, profile
from f1_production.celery_worker import delete_queue
from tests.conftest import POSTGRES

pytestmark = pytest.mark.production
RACES = [
    f"2023-{n:02d}-{name}-grand-prix-race"
    for n, name in [
        (1, "bahrain"),
        (2, "saudi-arabian"),
        (3, "australian"),
        (4, "azerbaijan"),
        (5, "miami"),
    ]
]


@pytest.fixture
def prefix():
    tag = f"f1_test_{uuid.uuid4().hex[:8]}_"
    yield tag
    for name in profile.databases_for(tag).values():
        postgres.drop_database(name)


def test_the_main_job_runs_on_the_production_profile(prefix, tmp_path, monkeypatch):
    queue = f"f1-test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "F1_PG_DATABASE_PREFIX": prefix,
        "F1_SOURCES": "archive",
        "F1_DATA_DIR": str(tmp_path),
        "F1_CELERY_QUEUE": queue,
    }
    for name in ("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY", "DAGSTER_HOME", "F1_PROFILE"):
        env.pop(name, None)
    try:
        ran = subprocess.run(
            [
                sys.executable,
                "-m",
                "f1_production.profile",
                "run",
                *[arg for race in RACES for arg in ("--session", race)],
                # the profile under test, not the model: a small one trains in seconds
                *("--n-estimators", "60", "--cv-folds", "2"),
            ],
            cwd=settings.PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
    finally:
        delete_queue(queue)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "promotion: PROMOTED" in ran.stdout and "MLflow at http://127.0.0.1:" in ran.stdout
    names = profile.databases_for(prefix)
    with closing(psycopg2.connect(dbname=names["dagster"], **POSTGRES)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM runs WHERE status = 'SUCCESS'")
        assert cursor.fetchone()[0] >= len(RACES) + 2  # one per session, training, drift
        # every step ran on the profile's celery workers, both of them taking some
        cursor.execute("SELECT event FROM event_logs WHERE dagster_event_type = 'STEP_START'")
        steps = len(cursor.fetchall())
        cursor.execute("SELECT event FROM event_logs WHERE event LIKE '%in celery worker%'")
        on_workers = [row[0] for row in cursor.fetchall()]
    assert steps > 0 and len(on_workers) == steps
    assert all(any(f"f1-worker-{n}-" in event for event in on_workers) for n in (1, 2))
    with closing(psycopg2.connect(dbname=names["mlflow"], **POSTGRES)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT version FROM registered_model_aliases WHERE alias = 'champion'")
        assert cursor.fetchall() == [(1,)]
    monkeypatch.setenv("F1_WAREHOUSE_CATALOG", f"postgres:dbname={names['warehouse']} host=127.0.0.1 user=postgres")
    sessions = warehouse.query(tmp_path / "production" / "warehouse", "SELECT session_key FROM sessions ORDER BY 1")
    assert sessions["session_key"].to_list() == sorted(RACES)
    assert (tmp_path / "production" / "secrets.env").stat().st_mode & 0o077 == 0  # made once, private
    # what it started, it stopped: nothing answers on the server's port any more
    port = int(ran.stdout.split("MLflow at http://127.0.0.1:")[1].split()[0])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)
    assert not [p.pid for p in psutil.process_iter(["cmdline"]) if queue in " ".join(p.info["cmdline"] or [])]
