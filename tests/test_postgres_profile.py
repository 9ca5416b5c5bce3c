"""The production profile: dagster_home/postgres/dagster.yaml keeps a real run in PostgreSQL."""

import shutil
from contextlib import closing

import dagster as dg
import psycopg2
import pytest

from f1_assets.defs.ingestion.resources import SessionSourceResource
from f1_assets.defs.warehouse.resources import WarehouseResource
from f1_core import settings
from f1_production import postgres
from tests.conftest import POSTGRES as SERVER

SESSION = "2023-16-japanese-grand-prix-race"


@pytest.mark.postgres
def test_postgres_profile_stores_a_real_run(postgres_database, tmp_path, monkeypatch):
    warehouse = tmp_path / "warehouse"
    env = {
        **postgres.dagster_environment(postgres_database),
        "F1_SOURCES": "archive",
        "F1_DATA_DIR": str(tmp_path),
        "F1_WAREHOUSE": str(warehouse),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The instance keeps compute logs and asset outputs beside its dagster.yaml: a copy keeps them
    # out of the repository.
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(settings.dagster_home("postgres") / "dagster.yaml", home)

    from f1_assets.definitions import defs

    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("sessions", [SESSION])
        result = (
            defs()
            .resolve_job_def("ingest_session_job")
            .execute_in_process(
                partition_key=SESSION,
                instance=instance,
                resources={
                    "warehouse": WarehouseResource(path=str(warehouse)),
                    "session_source": SessionSourceResource(sources=["archive"]),
                },
            )
        )
    assert result.success
    assert warehouse.exists()

    # Straight from the database, not through the instance: the run really lives in PostgreSQL.
    with closing(psycopg2.connect(dbname=postgres_database, **SERVER)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,))
        assert cursor.fetchall() == [("SUCCESS",)]
        cursor.execute("SELECT count(*) FROM event_logs WHERE run_id = %s", (result.run_id,))
        assert cursor.fetchone()[0] > 0
        cursor.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
            (result.run_id, "ASSET_MATERIALIZATION"),
        )
        assert cursor.fetchone()[0] == 6  # raw, standardized and the four warehouse tables
        cursor.execute("SELECT partition FROM dynamic_partitions WHERE partitions_def_name = 'sessions'")
        assert cursor.fetchall() == [(SESSION,)]
