import json
from datetime import UTC, datetime

import dagster as dg

from f1_assets.defs.ingestion.jobs import ingest_session_job
from f1_assets.defs.ingestion.partitions import session_partitions
from f1_assets.defs.ingestion.resources import SessionSourceResource
from f1_core.calendar import weekend_at

TRIGGER_TAG = "f1/trigger"


def new_session_keys(instance: dg.DagsterInstance, session_source: SessionSourceResource) -> list[str]:
    """Sessions the sources list that have no partition yet, oldest first; those of a race weekend
    under way are left to its schedule (race_weekend_sessions), which asks for each once due."""
    known = set(instance.get_dynamic_partitions(session_partitions.name))
    now = datetime.now(UTC).replace(tzinfo=None)
    weekend = weekend_at(session_source.weekends(now.year), now)
    under_way = f"{weekend.key}-" if weekend else None
    return sorted(
        key
        for key in session_source.catalog().sessions()
        if key not in known and not (under_way and key.startswith(under_way))
    )


@dg.sensor(
    job=ingest_session_job,
    # The catalogue comes from FastF1's schedule when online: once every 15 minutes is plenty.
    minimum_interval_seconds=15 * 60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a partition for each newly available session and ingests it.",
)
def session_discovery_sensor(
    context: dg.SensorEvaluationContext, session_source: SessionSourceResource
) -> dg.SensorResult | dg.SkipReason:
    keys = new_session_keys(context.instance, session_source)
    if not keys:
        return dg.SkipReason("no new sessions in the configured sources")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=key, run_key=key) for key in keys],
        dynamic_partitions_requests=[session_partitions.build_add_request(keys)],
    )


def live_stamps() -> dict[str, str]:
    """Each session in the live folder and a stamp of its files (size and modification time):
    the stamp changes whenever laps land."""
    from f1_core.sources import build_source

    source = build_source("live")
    stamps = {}
    for ref in source.catalog():
        files = sorted(p for p in (source.root / ref.locator).glob("*") if p.is_file())
        stamps[ref.key] = ";".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    return stamps


@dg.sensor(
    job=ingest_session_job,
    # laps land every second or so: a 10 s tick keeps the drift alert within its 60 s budget
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Ingests each session of the live folder ($F1_LIVE_DIR) again when laps have "
    "landed since its last ingestion (one run at a time per session).",
)
def live_session_sensor(
    context: dg.SensorEvaluationContext, session_source: SessionSourceResource
) -> dg.SensorResult | dg.SkipReason:
    if "live" not in session_source.sources:
        return dg.SkipReason("the live source is not among the configured sources (F1_SOURCES)")
    seen = json.loads(context.cursor or "{}")
    stamps = live_stamps()
    changed = {key: stamp for key, stamp in stamps.items() if seen.get(key) != stamp}
    # a session still being ingested (by this sensor, `f1 replay` or discovery) keeps its old
    # stamp: the laps landing meanwhile are picked up by the next tick, after that run
    running = {
        run.tags.get("dagster/partition")
        for run in context.instance.get_runs(
            dg.RunsFilter(
                job_name=ingest_session_job.name,
                statuses=[
                    dg.DagsterRunStatus.QUEUED,
                    dg.DagsterRunStatus.NOT_STARTED,
                    dg.DagsterRunStatus.STARTING,
                    dg.DagsterRunStatus.STARTED,
                ],
            )
        )
    }
    changed = {key: stamp for key, stamp in changed.items() if key not in running}
    run_keys = {key: f"live:{key}:{stamp}" for key, stamp in changed.items()}
    # a session whose last live ingestion failed, with no lap landed since, is tried again once
    # (the run key makes it once)
    last_status = {}
    for run in context.instance.get_runs(
        dg.RunsFilter(job_name=ingest_session_job.name, tags={TRIGGER_TAG: "live"}), limit=200
    ):
        last_status.setdefault(run.tags.get("dagster/partition"), run.status)  # newest first
    for key, stamp in stamps.items():
        if key not in changed and key not in running and last_status.get(key) == dg.DagsterRunStatus.FAILURE:
            changed[key] = stamp
            run_keys[key] = f"live:{key}:{stamp}:retry"
    if not changed:
        return dg.SkipReason("no laps landed in the live folder since the last ingestion")
    known = set(context.instance.get_dynamic_partitions(session_partitions.name))
    new = sorted(key for key in changed if key not in known)
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(partition_key=key, run_key=run_keys[key], tags={TRIGGER_TAG: "live"})
            for key in sorted(changed)
        ],
        dynamic_partitions_requests=[session_partitions.build_add_request(new)] if new else [],
        cursor=json.dumps(seen | changed),
    )
