"""A season backfilled through Dagster's partition backfills: `f1 backfill --season 2018` adds the
season's archive sessions as partitions and queues a backfill run for each, and Dagster's daemon
launches them into the warehouse."""

import os
import shutil
import subprocess
import time

import dagster as dg

from f1_core import settings, warehouse
from tests.conftest import BIN, copy_archive

SEASON_2018 = ["2018-02-bahrain-grand-prix-race", "2018-17-japanese-grand-prix-race"]


def test_a_season_backfill_is_queued_as_one_dagster_backfill_and_the_daemon_runs_it(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(settings.dagster_home("default") / "dagster.yaml", home)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("F1_SOURCES", "archive")
    # an archive of that season alone, so that the daemon's discovery sensor finds nothing more
    monkeypatch.setenv("F1_ARCHIVE_DIR", str(copy_archive(tmp_path / "archive", SEASON_2018)))
    env = dict(os.environ)

    queued = subprocess.run(
        [BIN / "f1", "backfill", "--season", "2018"],
        env=env,
        cwd=settings.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert queued.returncode == 0, queued.stdout + queued.stderr
    assert "Launched backfill job" in queued.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [backfill] = instance.get_backfills()
        assert sorted(backfill.partition_names) == SEASON_2018
        runs = instance.get_runs()
        assert sorted(run.tags["dagster/partition"] for run in runs) == SEASON_2018
        assert {run.status for run in runs} == {dg.DagsterRunStatus.QUEUED}  # until a daemon takes them
        assert all(run.tags["dagster/backfill"] == backfill.backfill_id for run in runs)

    daemon = subprocess.Popen(
        [BIN / "dagster-daemon", "run", "-w", settings.PROJECT_ROOT / "workspace.yaml"],
        env=env,
        cwd=settings.PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        with dg.DagsterInstance.from_config(str(home)) as instance:
            while time.monotonic() < deadline:
                backfilled = dg.RunsFilter(tags={"dagster/backfill": backfill.backfill_id})
                statuses = {run.status for run in instance.get_runs(backfilled)}
                if statuses <= {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE}:
                    break
                time.sleep(1)
            assert statuses == {dg.DagsterRunStatus.SUCCESS}, statuses
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
    stored = warehouse.query(settings.warehouse_path(), "SELECT session_key FROM sessions ORDER BY 1")
    assert stored["session_key"].to_list() == SEASON_2018


def test_a_backfill_of_a_session_no_source_lists_fails_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("F1_SOURCES", "archive")
    failed = subprocess.run(
        [BIN / "f1", "backfill", "--session", "2023-99-atlantis-grand-prix-race"],
        cwd=settings.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 2
    assert "not in any source's catalogue: 2023-99-atlantis-grand-prix-race" in failed.stderr
