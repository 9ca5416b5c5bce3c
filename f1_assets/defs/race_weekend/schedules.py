"""Runs that follow the F1 calendar (f1_core.calendar): during a race weekend, each session is
ingested once its data is due, the warehouse and monitoring are checked for freshness every half
hour, the race is followed by a retraining through the promotion gate and then the weekend's
report, and each night brings a health run. Between weekends every tick skips, saying when the
next weekend starts. Each run's key makes the daemon ask for it once."""

from datetime import UTC, datetime

import dagster as dg

from f1_assets.defs.ingestion.jobs import ingest_session_job
from f1_assets.defs.ingestion.partitions import session_partitions
from f1_assets.defs.ingestion.resources import SessionSourceResource
from f1_assets.defs.ingestion.sensors import TRIGGER_TAG
from f1_assets.defs.race_weekend.checks import FRESHNESS_CHECKS
from f1_assets.defs.race_weekend.jobs import freshness_job, health_job, weekend_report_job
from f1_assets.defs.race_weekend.partitions import weekend_partitions
from f1_assets.defs.training.jobs import train_model_job
from f1_core import settings
from f1_core.calendar import Weekend, describe_next, weekend_at

WEEKEND_TAG = "f1/weekend"
# Online, a weekend's data is published as it runs; the offline sources never get new sessions.
DEFAULT_STATUS = (
    dg.DefaultScheduleStatus.RUNNING if "fastf1" in settings.source_names() else dg.DefaultScheduleStatus.STOPPED
)
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def _tick(context: dg.ScheduleEvaluationContext, session_source: SessionSourceResource):
    """The tick's time (UTC, naive, as the calendar's) and the weekend under way, or the skip that
    says when the next one starts."""
    now = context.scheduled_execution_time.astimezone(UTC).replace(tzinfo=None)
    weekends = session_source.weekends(now.year)
    weekend = weekend_at(weekends, now)
    return now, weekend, None if weekend else dg.SkipReason(describe_next(weekends, now))


def _clock(now: datetime) -> dict:
    """Run config that makes a run's checks judge the tick's minute."""
    return {"config": {"at": now.isoformat(timespec="minutes")}}


def _tags(weekend: Weekend, trigger: str) -> dict[str, str]:
    return {TRIGGER_TAG: trigger, WEEKEND_TAG: weekend.key}


@dg.schedule(
    cron_schedule="*/5 * * * *",
    job=ingest_session_job,
    execution_timezone="UTC",
    default_status=DEFAULT_STATUS,
    description="During a race weekend, ingests each session once its data is due (an hour after it "
    "ends); a session not published yet is retried by its run.",
)
def race_weekend_sessions(context: dg.ScheduleEvaluationContext, session_source: SessionSourceResource):
    now, weekend, skip = _tick(context, session_source)
    if skip:
        return skip
    due = weekend.due_sessions(now)
    if not due:
        first = weekend.sessions[0]
        return dg.SkipReason(f"{weekend.event_name}: {first.ref.session_name} is due at {first.due:%Y-%m-%d %H:%M} UTC")
    keys = [session.ref.key for session in due]
    known = set(context.instance.get_dynamic_partitions(session_partitions.name))
    if missing := [key for key in keys if key not in known]:
        context.instance.add_dynamic_partitions(session_partitions.name, missing)
    return [
        dg.RunRequest(partition_key=key, run_key=f"calendar:{key}", tags=_tags(weekend, "calendar")) for key in keys
    ]


def race_ingested(instance: dg.DagsterInstance, weekend: Weekend) -> bool:
    return bool(
        instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey(["warehouse", "laps"]), asset_partitions=[weekend.race.ref.key]
            ),
            limit=1,
        ).records
    )


@dg.schedule(
    cron_schedule="*/15 * * * *",
    job=train_model_job,
    execution_timezone="UTC",
    default_status=DEFAULT_STATUS,
    description="After a weekend's race is in the warehouse: a full retraining through the promotion gate.",
)
def post_race_retraining(context: dg.ScheduleEvaluationContext, session_source: SessionSourceResource):
    now, weekend, skip = _tick(context, session_source)
    if skip:
        return skip
    if weekend.race.due > now:
        return dg.SkipReason(f"{weekend.event_name}: retraining after the race, due at {weekend.race.due:%H:%M} UTC")
    if not race_ingested(context.instance, weekend):
        return dg.SkipReason(f"{weekend.event_name}: waiting for the race ({weekend.race.ref.key}) to be ingested")
    return dg.RunRequest(run_key=f"retrain:{weekend.key}", tags=_tags(weekend, "calendar"))


@dg.schedule(
    cron_schedule="*/15 * * * *",
    job=weekend_report_job,
    execution_timezone="UTC",
    default_status=DEFAULT_STATUS,
    description="Once a weekend's retraining has finished: the weekend's report (accuracy, drift, promotions).",
)
def weekend_report_schedule(context: dg.ScheduleEvaluationContext, session_source: SessionSourceResource):
    now, weekend, skip = _tick(context, session_source)
    if skip:
        return skip
    runs = context.instance.get_runs(
        dg.RunsFilter(job_name=train_model_job.name, tags={WEEKEND_TAG: weekend.key}), limit=1
    )
    if not runs:
        return dg.SkipReason(f"{weekend.event_name}: the report follows the post-race retraining, not run yet")
    if runs[0].status not in FINISHED:
        return dg.SkipReason(
            f"{weekend.event_name}: the post-race retraining {runs[0].run_id} is {runs[0].status.value}"
        )
    if not context.instance.has_dynamic_partition(weekend_partitions.name, weekend.key):
        context.instance.add_dynamic_partitions(weekend_partitions.name, [weekend.key])
    return dg.RunRequest(partition_key=weekend.key, run_key=f"report:{weekend.key}", tags=_tags(weekend, "calendar"))


def _checks_run(context, session_source, kind: str):
    now, weekend, skip = _tick(context, session_source)
    if skip:
        return skip
    return dg.RunRequest(
        run_key=f"{kind}:{now:%Y-%m-%dT%H:%M}",
        run_config={"ops": {check.node_def.name: _clock(now) for check in FRESHNESS_CHECKS}},
        tags=_tags(weekend, "calendar"),
    )


@dg.schedule(
    cron_schedule="*/30 * * * *",
    job=freshness_job,
    execution_timezone="UTC",
    default_status=DEFAULT_STATUS,
    description="Every half hour of a race weekend: is everything due in the warehouse and the monitoring tables?",
)
def race_weekend_freshness(context: dg.ScheduleEvaluationContext, session_source: SessionSourceResource):
    return _checks_run(context, session_source, "freshness")


@dg.schedule(
    cron_schedule="0 3 * * *",
    job=health_job,
    execution_timezone="UTC",
    default_status=DEFAULT_STATUS,
    description="At 03:00 UTC each night of a race weekend: freshness and the drift of every session.",
)
def nightly_health(context: dg.ScheduleEvaluationContext, session_source: SessionSourceResource):
    return _checks_run(context, session_source, "health")
