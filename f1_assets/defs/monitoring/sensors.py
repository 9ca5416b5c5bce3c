import os
import time

import dagster as dg
import duckdb

from f1_assets.defs.ingestion.sensors import TRIGGER_TAG
from f1_assets.defs.warehouse.resources import WarehouseResource

SESSIONS_TAG = "f1/drift_sessions"


def cooldown_seconds() -> float:
    """F1_RETRAIN_COOLDOWN_SECONDS (default 600): a retraining takes about a minute, and drift
    reports of the laps that keep landing meanwhile describe the same event."""
    return float(os.environ.get("F1_RETRAIN_COOLDOWN_SECONDS", "600"))


def retrain_mode() -> str:
    """F1_RETRAIN_MODE (default incremental): a drift-triggered retraining continues the
    champion's boosting without cross-validation (about 1 s of training on today's warehouse,
    against about 50 s for a full one), well inside the 3-minute budget from alert to new
    champion; `full` retrains from scratch with cross-validation."""
    mode = os.environ.get("F1_RETRAIN_MODE", "incremental")
    if mode not in ("full", "incremental"):
        raise ValueError(f"F1_RETRAIN_MODE is {mode!r}: it must be 'full' or 'incremental'")
    return mode


def last_retraining_start(instance: dg.DagsterInstance) -> float | None:
    records = instance.get_run_records(dg.RunsFilter(job_name="train_model_job", tags={TRIGGER_TAG: "drift"}), limit=1)
    if not records:
        return None
    return records[0].start_time or records[0].create_timestamp.timestamp()


@dg.sensor(
    job_name="train_model_job",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches a retraining when drift reports newer than its cursor flag a session "
    "(one run per drift event, none within the cooldown of the last one).",
)
def drift_retraining_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult | dg.SkipReason:
    from f1_core import warehouse as store

    since = context.cursor or "1970-01-01 00:00:00"
    if not store.exists(warehouse.path):
        return dg.SkipReason("no warehouse yet")
    try:
        drifted = warehouse.query(
            """
            SELECT session_key, champion_version, classification, share_drifted, error_ratio,
                   strftime(computed_at, '%Y-%m-%d %H:%M:%S.%f') AS computed_at
            FROM drift_history WHERE classification <> 'none' AND computed_at > ?::TIMESTAMP
            ORDER BY computed_at""",
            [since],
            wait_seconds=5,
        )
    except store.WarehouseLockedError:
        return dg.SkipReason("the warehouse is being written; next tick")
    except duckdb.CatalogException:  # the history table is created with the first report
        return dg.SkipReason("no drift report yet")
    if drifted.height == 0:
        return dg.SkipReason(f"no drift reported since {since}")
    last = last_retraining_start(context.instance)
    if last is not None and time.time() - last < cooldown_seconds():
        # the cursor stays: these reports are looked at again once the cooldown is over
        return dg.SkipReason(
            f"drift in {drifted['session_key'].n_unique()} session(s), but the last "
            f"retraining started {time.time() - last:.0f} s ago (cooldown {cooldown_seconds():.0f} s)"
        )
    sessions = sorted(drifted["session_key"].unique().to_list())
    champion = drifted["champion_version"][-1]
    event = f"drift:v{champion}:{','.join(sessions)}:{drifted['computed_at'][-1]}"
    context.log.info(f"retraining for {event}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=event,
                run_config=dg.RunConfig(
                    ops={"lap_time_model": {"config": {"mode": retrain_mode(), "learn_from_sessions": sessions}}}
                ),
                tags={
                    TRIGGER_TAG: "drift",
                    SESSIONS_TAG: ",".join(sessions)[:4000],
                    "f1/drift_classes": ",".join(sorted(drifted["classification"].unique().to_list())),
                    "f1/champion_before": champion,
                },
            )
        ],
        cursor=drifted["computed_at"][-1],
    )


# The eager monitoring assets get their own automation sensor, every 10 s instead of the default
# sensor's 30 s: the drift alert has 60 s from the moment a session's laps land.
monitoring_automation = dg.AutomationConditionSensorDefinition(
    "monitoring_automation",
    target=dg.AssetSelection.groups("monitoring"),
    minimum_interval_seconds=10,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
