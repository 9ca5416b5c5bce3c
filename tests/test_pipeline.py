"""The Dagster code location end to end: partitions, assets, checks, sensor, on real sessions."""

import os
import subprocess

import dagster as dg
import polars as pl
import pytest

from f1_assets.cli import root_cause
from f1_assets.definitions import defs as load_defs
from f1_assets.defs.ingestion.partitions import session_partitions
from f1_assets.defs.ingestion.resources import SessionSourceResource
from f1_assets.defs.ingestion.sensors import TRIGGER_TAG, live_session_sensor, session_discovery_sensor
from f1_core import settings, warehouse
from tests.conftest import JAPAN_2023, copy_archive

FROZEN_QUALIFYING = "2019-14-italian-grand-prix-qualifying"


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def ingest(instance, key: str, **env) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions(session_partitions.name, [key])
    job = load_defs().resolve_job_def("ingest_session_job")
    return job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False)


def check_results(result) -> dict[str, bool]:
    return {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def lap_count(key: str) -> int:
    return warehouse.query(settings.warehouse_path(), "SELECT count(*) AS n FROM laps WHERE session_key = ?", [key])[
        "n"
    ][0]


def test_archive_and_frozen_cache_sessions_reach_the_warehouse_with_every_check_passing(instance):
    for key, laps in ((JAPAN_2023, 880), (FROZEN_QUALIFYING, 275)):
        result = ingest(instance, key)
        assert result.success, key
        assert check_results(result) == {
            "raw_laps_schema_check": True,
            "raw_weather_schema_check": True,
            "laps_schema_check": True,
            "weather_schema_check": True,
            "quarantine_share_check": True,
            "laps_reconcile_with_source": True,
        }
        assert lap_count(key) == laps
    sessions = warehouse.query(settings.warehouse_path(), "SELECT session_key, source FROM sessions ORDER BY 1")
    assert sessions.rows() == [(FROZEN_QUALIFYING, "fastf1-cache"), (JAPAN_2023, "archive")]


def test_materialization_metadata_shows_counts_and_preview(instance):
    result = ingest(instance, JAPAN_2023)
    laps = next(
        m
        for m in result.asset_materializations_for_node("warehouse_tables")
        if m.asset_key == dg.AssetKey(["warehouse", "laps"])
    )
    assert laps.metadata["dagster/row_count"].value == 880
    assert laps.metadata["drivers"].value == 20
    assert "| session_key |" in laps.metadata["preview"].value
    standardized = result.asset_materializations_for_node("standardized_session")[0]
    assert standardized.metadata["laps_quarantined"].value == 0


def test_rematerializing_a_partition_replaces_its_rows(instance):
    assert ingest(instance, JAPAN_2023).success
    assert ingest(instance, JAPAN_2023).success
    assert lap_count(JAPAN_2023) == 880
    assert warehouse.query(settings.warehouse_path(), "SELECT count(*) AS n FROM sessions")["n"][0] == 1


def test_an_unreadable_session_fails_naming_the_column_and_leaves_the_warehouse_alone(instance, tmp_path, monkeypatch):
    archive = copy_archive(tmp_path / "archive", [JAPAN_2023])
    monkeypatch.setenv("F1_ARCHIVE_DIR", str(archive))
    monkeypatch.setenv("F1_SOURCES", "archive")
    assert ingest(instance, JAPAN_2023).success
    laps_csv = next(archive.rglob("laps.csv"))
    laps_csv.write_text(laps_csv.read_text().replace("Compound", "Compund", 1))
    result = ingest(instance, JAPAN_2023)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = root_cause(failure.step_failure_data.error)
    assert message.startswith("f1_core.errors.SessionReadError")
    assert "'Compound'" in message and JAPAN_2023 in message and str(laps_csv) in message
    assert lap_count(JAPAN_2023) == 880


def test_corrupt_rows_are_quarantined_not_lost(instance, tmp_path, monkeypatch):
    archive = copy_archive(tmp_path / "archive", [JAPAN_2023])
    monkeypatch.setenv("F1_ARCHIVE_DIR", str(archive))
    monkeypatch.setenv("F1_SOURCES", "archive")
    laps_csv = next(archive.rglob("laps.csv"))
    lines = laps_csv.read_text().splitlines(keepends=True)
    lines[20] = lines[20].replace("SOFT", "GUMMY").replace("MEDIUM", "GUMMY").replace("HARD", "GUMMY")
    laps_csv.write_text("".join(lines))
    result = ingest(instance, JAPAN_2023)
    assert result.success
    assert check_results(result)["laps_reconcile_with_source"] is True
    quarantine = warehouse.query(settings.warehouse_path(), "SELECT rule, value, source_row FROM quarantine")
    assert quarantine.rows() == [("unknown_compound", "GUMMY", 20)]
    assert lap_count(JAPAN_2023) == 879


def test_discovery_sensor_adds_new_sessions_once(instance, monkeypatch):
    monkeypatch.setenv("F1_SOURCES", "archive")
    resources = {"session_source": SessionSourceResource()}
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        result = session_discovery_sensor(context)
    assert isinstance(result, dg.SensorResult)
    keys = result.dynamic_partitions_requests[0].partition_keys
    assert len(keys) == 25 and JAPAN_2023 in keys
    assert sorted(r.partition_key for r in result.run_requests) == sorted(keys)
    assert all(r.run_key == r.partition_key for r in result.run_requests)

    instance.add_dynamic_partitions(session_partitions.name, keys)
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        assert isinstance(session_discovery_sensor(context), dg.SkipReason)


def test_live_sensor_ingests_a_live_session_again_each_time_laps_land(instance, monkeypatch):
    from f1_core import replay

    ref, raw = replay.load(settings.archive_dir(), JAPAN_2023)
    answer = lambda laps: [{"lap_time": 100.0, "model_version": "1"} for _ in laps]  # noqa: E731
    replay.replay(ref, raw, settings.live_dir(), answer, speed=1e6, tick=60, max_laps=40)
    resources = {"session_source": SessionSourceResource()}

    def tick(cursor=None):
        with dg.build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
            return live_session_sensor(context)

    first = tick()
    assert isinstance(first, dg.SensorResult), first
    assert [r.partition_key for r in first.run_requests] == [JAPAN_2023]
    assert first.run_requests[0].tags[TRIGGER_TAG] == "live"
    assert first.dynamic_partitions_requests[0].partition_keys == [JAPAN_2023]
    assert isinstance(tick(first.cursor), dg.SkipReason)  # nothing landed since

    replay.replay(ref, raw, settings.live_dir(), answer, speed=1e6, tick=60, max_laps=80)  # more laps land
    # while that session is being ingested (here by a replay), its new laps wait for the next tick
    instance.add_run(
        dg.DagsterRun(
            job_name="ingest_session_job",
            run_id="replay",
            status=dg.DagsterRunStatus.STARTED,
            tags={"dagster/partition": JAPAN_2023},
        )
    )
    assert isinstance(tick(first.cursor), dg.SkipReason)
    instance.report_run_failed(instance.get_run_by_id("replay"))
    second = tick(first.cursor)
    assert isinstance(second, dg.SensorResult) and [r.partition_key for r in second.run_requests] == [JAPAN_2023]
    assert second.run_requests[0].run_key != first.run_requests[0].run_key
    assert isinstance(tick(second.cursor), dg.SkipReason)

    # a live ingestion that failed, with no lap landed since, is tried once more
    instance.add_run(
        dg.DagsterRun(
            job_name="ingest_session_job",
            run_id="failed",
            status=dg.DagsterRunStatus.FAILURE,
            tags={TRIGGER_TAG: "live", "dagster/partition": JAPAN_2023},
        )
    )
    retry = tick(second.cursor)
    assert isinstance(retry, dg.SensorResult)
    assert retry.run_requests[0].run_key == second.run_requests[0].run_key + ":retry"

    # the run it asks for ingests the live copy: 80 laps, not the archive's 879
    assert ingest(instance, JAPAN_2023).success
    assert lap_count(JAPAN_2023) == 80

    monkeypatch.setenv("F1_SOURCES", "archive")
    resources["session_source"] = SessionSourceResource()
    assert "not among the configured sources" in tick().skip_message


def test_definitions_validate():
    env = {**os.environ, "DAGSTER_HOME": str(settings.PROJECT_ROOT / "dagster_home")}
    completed = subprocess.run(
        [str(settings.PROJECT_ROOT / ".venv" / "bin" / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=settings.PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "All code locations passed validation" in completed.stderr + completed.stdout


def test_schema_check_fails_and_names_the_broken_column():
    from f1_assets.defs.ingestion.checks import validate
    from f1_core.sources.archive import ArchiveSource
    from f1_core.standardize import standardize
    from tests.conftest import ARCHIVE

    source = ArchiveSource(ARCHIVE)
    laps = standardize(source.load(next(r for r in source.catalog() if r.key == JAPAN_2023))).laps
    assert validate("laps_schema", laps).passed
    broken = laps.with_columns(
        pl.when(pl.col("lap_number") == 3).then(-4.0).otherwise(pl.col("lap_time_s")).alias("lap_time_s")
    )
    result = validate("laps_schema", broken)
    assert not result.passed
    assert result.metadata["failures"].value == 20  # lap 3 of each of the 20 drivers
    assert "`lap_time_s` in_range(40.0, 1200.0): 20" in result.metadata["summary"].value
