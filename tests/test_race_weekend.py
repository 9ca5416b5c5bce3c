"""The race-weekend schedules against the real 2023 calendar (FastF1's event schedule, read over the
frozen live-timing store) with a frozen clock: the Japanese Grand Prix weekend, tick by tick.
Practice 1 starts 02:30 UTC on Friday 22 September, the race 05:00 UTC on Sunday 24."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from dagster._utils.schedules import cron_string_iterator

from f1_assets.definitions import defs as load_defs
from f1_assets.defs.ingestion.partitions import session_partitions
from f1_assets.defs.ingestion.resources import SessionSourceResource
from f1_assets.defs.monitoring.resources import AlertResource
from f1_assets.defs.race_weekend import schedules
from f1_assets.defs.race_weekend.partitions import weekend_partitions
from f1_assets.defs.race_weekend.sensors import run_failure_alert
from tests.conftest import JAPAN_2023, copy_archive
from tests.test_pipeline import ingest

WEEKEND = "2023-16-japanese-grand-prix"
REPOSITORY = load_defs().get_repository_def()
SOURCES = ["archive", "fastf1-cache"]


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def tick(schedule, instance, at: datetime):
    """One evaluation of `schedule` at `at` (UTC): its run requests and its skip message."""
    with dg.build_schedule_context(
        instance=instance,
        repository_def=REPOSITORY,
        scheduled_execution_time=at.replace(tzinfo=UTC),
        resources={"session_source": SessionSourceResource(sources=SOURCES)},
    ) as context:
        data = schedule.evaluate_tick(context)
    return data.run_requests or [], data.skip_message


def cron_ticks(schedule, start: datetime, end: datetime) -> list[datetime]:
    """The schedule's cron ticks in [start, end), by the daemon's own iterator."""
    found = []
    for at in cron_string_iterator(start.replace(tzinfo=UTC).timestamp(), schedule.cron_schedule, "UTC"):
        at = at.astimezone(UTC).replace(tzinfo=None)
        if at >= end:
            return found
        found.append(at)


def around(*moments: datetime, hours: float = 0.5) -> list[tuple[datetime, datetime]]:
    return [(m - timedelta(hours=hours), m + timedelta(hours=hours)) for m in moments]


def asked(
    schedule, instance, windows, every=timedelta(hours=3), start=datetime(2023, 9, 19), end=datetime(2023, 9, 28)
):
    """Each run key the schedule asks for, with the first tick that asked (the daemon launches a run
    key once). Evaluated on every cron tick inside `windows` and on one tick in each `every` from
    `start` to `end` (each evaluation builds an instance, a tenth of a second: the whole week of
    five-minute ticks would take minutes)."""
    ticks = {at for low, high in windows for at in cron_ticks(schedule, low, high)}
    while start < end:
        ticks.update(cron_ticks(schedule, start, start + every)[:1])
        start += every
    first = {}
    for at in sorted(ticks):
        for request in tick(schedule, instance, at)[0]:
            first.setdefault(request.run_key, (at, request))
    return first


def test_each_session_is_asked_for_once_its_data_is_due(instance):
    expected = [datetime(2023, 9, 22, 4, 30), datetime(2023, 9, 22, 8), datetime(2023, 9, 23, 4, 30)]
    expected += [datetime(2023, 9, 23, 8), datetime(2023, 9, 24, 8)]
    first = asked(schedules.race_weekend_sessions, instance, around(*expected))
    assert {key: at for key, (at, _) in first.items()} == {
        f"calendar:{WEEKEND}-practice-1": datetime(2023, 9, 22, 4, 30),  # ends 03:30, due an hour later
        f"calendar:{WEEKEND}-practice-2": datetime(2023, 9, 22, 8, 0),
        f"calendar:{WEEKEND}-practice-3": datetime(2023, 9, 23, 4, 30),
        f"calendar:{WEEKEND}-qualifying": datetime(2023, 9, 23, 8, 0),
        f"calendar:{WEEKEND}-race": datetime(2023, 9, 24, 8, 0),  # two hours' race, then the hour
    }
    assert all(request.partition_key == key.split(":", 1)[1] for key, (_, request) in first.items())
    assert all(request.tags[schedules.WEEKEND_TAG] == WEEKEND for _, request in first.values())
    assert set(instance.get_dynamic_partitions(session_partitions.name)) == {key.split(":", 1)[1] for key in first}
    # before the weekend and after it, nothing; the skip says what comes next
    assert tick(schedules.race_weekend_sessions, instance, datetime(2023, 9, 20, 12))[1] == (
        "no race weekend at 2023-09-20 12:00 UTC; "
        "next: the 2023 Japanese Grand Prix, first session 2023-09-22 02:30 UTC"
    )
    requests, skipped = tick(schedules.race_weekend_sessions, instance, datetime(2023, 9, 26, 12))
    assert requests == [] and "next: the 2023 Qatar Grand Prix" in skipped


def test_after_the_race_a_retraining_then_the_weekend_report(instance):
    retraining = schedules.post_race_retraining
    assert "waiting for the race" in tick(retraining, instance, datetime(2023, 9, 24, 9))[1]
    assert ingest(instance, JAPAN_2023).success
    first = asked(retraining, instance, around(datetime(2023, 9, 24, 8), hours=2))
    assert {key: at for key, (at, _) in first.items()} == {f"retrain:{WEEKEND}": datetime(2023, 9, 24, 8, 0)}

    report = schedules.weekend_report_schedule
    assert "not run yet" in tick(report, instance, datetime(2023, 9, 24, 9))[1]
    tags = first[f"retrain:{WEEKEND}"][1].tags
    job = load_defs().resolve_job_def("train_model_job")
    run = instance.create_run_for_job(job, tags=tags, status=dg.DagsterRunStatus.STARTED)
    assert f"retraining {run.run_id} is STARTED" in tick(report, instance, datetime(2023, 9, 24, 9))[1]
    instance.report_run_failed(run)  # a failed retraining still gets its report, which says so
    requests, _ = tick(report, instance, datetime(2023, 9, 24, 9, 15))
    assert [(r.run_key, r.partition_key) for r in requests] == [(f"report:{WEEKEND}", WEEKEND)]
    assert instance.get_dynamic_partitions(weekend_partitions.name) == [WEEKEND]


def test_freshness_every_half_hour_and_health_each_night_of_the_weekend_only(instance):
    # the weekend opens 12 hours before practice 1 and closes a day after the race is due
    opens, closes = datetime(2023, 9, 21, 14, 30), datetime(2023, 9, 25, 8)
    freshness = asked(schedules.race_weekend_freshness, instance, around(opens, closes, hours=2))
    times = sorted(at for at, _ in freshness.values())
    assert times[0] == opens and times[-1] == datetime(2023, 9, 25, 7, 30)
    assert all(opens <= at < closes for at in times)
    health = asked(schedules.nightly_health, instance, [(datetime(2023, 9, 19), datetime(2023, 9, 28))])
    assert sorted(at for at, _ in health.values()) == [datetime(2023, 9, d, 3) for d in (22, 23, 24, 25)]
    _, request = health["health:2023-09-23T03:00"]
    assert {op["config"]["at"] for op in request.run_config["ops"].values()} == {"2023-09-23T03:00"}


def check_results(instance, at: str) -> dict[str, dg.AssetCheckEvaluation]:
    job = load_defs().resolve_job_def("freshness_job")
    checks = ("warehouse__sessions_weekend_sessions_ingested", "drift_reports_weekend_drift_reported")
    ops = {name: {"config": {"at": at}} for name in (*checks, "live_accuracy_weekend_live_accuracy_current")}
    result = job.execute_in_process(instance=instance, run_config={"ops": ops})
    return {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def test_the_freshness_checks_name_what_is_missing(instance):
    assert ingest(instance, JAPAN_2023).success  # the race: the archive holds no practice or qualifying

    between = check_results(instance, "2023-09-20T12:00")
    assert all(c.passed and c.metadata["weekend"].value == "none" for c in between.values())

    # half an hour after practice 1 was due: not published yet is waiting, not stale
    early = check_results(instance, "2023-09-22T05:00")["weekend_sessions_ingested"]
    assert early.passed and f"`{WEEKEND}-practice-1`" in early.metadata["waiting_for_publication"].value

    late = check_results(instance, "2023-09-24T16:00")
    sessions = late["weekend_sessions_ingested"]
    assert not sessions.passed
    missing = sessions.metadata["missing"].value
    for name in ("practice-1", "practice-2", "practice-3", "qualifying"):
        assert f"`{WEEKEND}-{name}`" in missing
    assert JAPAN_2023 not in missing and sessions.metadata["ingested"].value == 1
    # just ingested: the drift report and the live accuracy are not late yet
    assert late["weekend_drift_reported"].passed and late["weekend_live_accuracy_current"].passed


def test_a_failed_run_sends_the_alert_webhook_with_the_run_the_step_and_the_error(
    instance, webhook, tmp_path, monkeypatch
):
    archive = copy_archive(tmp_path / "archive", [JAPAN_2023])
    monkeypatch.setenv("F1_ARCHIVE_DIR", str(archive))
    monkeypatch.setenv("F1_SOURCES", "archive")
    laps_csv = next(archive.rglob("laps.csv"))
    laps_csv.write_text(laps_csv.read_text().replace("Compound", "Compund", 1))
    result = ingest(instance, JAPAN_2023)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name=run_failure_alert.name,
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
        resources={"alerts": AlertResource()},
    ).for_run_failure()
    run_failure_alert(context)
    [body] = webhook.bodies()
    assert body["kind"] == "run_failure"
    assert body["details"]["run_id"] == result.run_id and body["details"]["partition"] == JAPAN_2023
    assert body["details"]["job"] == "ingest_session_job"
    [step] = body["details"]["steps"]
    assert step["step"] == "raw_session" and "SessionReadError" in step["error"] and "'Compound'" in step["error"]
    assert body["text"].startswith(
        f"run {result.run_id[:8]} of ingest_session_job ({JAPAN_2023}) failed at step raw_session"
    )


def test_the_weekend_report_says_what_was_ingested_drifted_and_promoted(instance):
    assert ingest(instance, JAPAN_2023).success
    instance.add_dynamic_partitions(weekend_partitions.name, [WEEKEND])
    result = (
        load_defs().resolve_job_def("weekend_report_job").execute_in_process(instance=instance, partition_key=WEEKEND)
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node("weekend_report")
    text = materialization.metadata["report"].value
    assert text.startswith("# 2023 Japanese Grand Prix: weekend report")
    assert "1 of 5 sessions in the warehouse; missing: Practice 1, Practice 2, Practice 3, Qualifying" in text
    assert "| Race | Sun 08:00 | ingested | 880 | 0 | archive |" in text
    assert "No drift report of this weekend's sessions." in text and "No model was trained" in text
    assert Path(materialization.metadata["path"].value).read_text() == text
