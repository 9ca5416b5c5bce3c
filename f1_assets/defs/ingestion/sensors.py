import dagster as dg

from f1_assets.defs.ingestion.jobs import ingest_session_job
from f1_assets.defs.ingestion.partitions import session_partitions
from f1_assets.defs.ingestion.resources import SessionSourceResource


def new_session_keys(instance: dg.DagsterInstance, session_source: SessionSourceResource) -> list[str]:
    """Sessions the sources list that have no partition yet, oldest first."""
    known = set(instance.get_dynamic_partitions(session_partitions.name))
    return sorted(key for key in session_source.catalog().sessions() if key not in known)


@dg.sensor(
    job=ingest_session_job,
    # The catalogue comes from FastF1's schedule when online: once every 15 minutes is plenty.
    minimum_interval_seconds=15 * 60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds a partition for each newly available session and ingests it.",
)
def session_discovery_sensor(context: dg.SensorEvaluationContext,
                             session_source: SessionSourceResource) -> dg.SensorResult | dg.SkipReason:
    keys = new_session_keys(context.instance, session_source)
    if not keys:
        return dg.SkipReason("no new sessions in the configured sources")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=key, run_key=key) for key in keys],
        dynamic_partitions_requests=[session_partitions.build_add_request(keys)],
    )
