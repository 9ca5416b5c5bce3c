"""Freshness during a race weekend, judged against the calendar: every session due long enough
ago is in the warehouse, has a drift report and is in the live accuracy. Between weekends there
is nothing to be fresh about, and the checks pass saying so. The calendar's clock picks the
weekend; how late monitoring is comes from the wall clock, as its times do."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from f1_assets.defs.ingestion.resources import SessionSourceResource
from f1_assets.defs.race_weekend.clock import CalendarClock, weekend_now
from f1_assets.defs.warehouse.resources import WarehouseResource
from f1_core.calendar import PUBLISHED_WITHIN

# The monitoring assets run on each ingestion (eager automation, the drift sensor): an hour late
# is stale.
MONITORING_WITHIN = timedelta(hours=1)


def _wall_clock() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _no_weekend(now) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True, metadata={"at": f"{now:%Y-%m-%d %H:%M} UTC", "weekend": "none"})


def _lines(keys: list[str]) -> dg.MetadataValue:
    return dg.MetadataValue.md("\n".join(f"- `{key}`" for key in keys) or "none")


@dg.asset_check(
    asset=dg.AssetKey(["warehouse", "sessions"]),
    description="During a race weekend, every session whose data was due more than "
    f"{PUBLISHED_WITHIN} ago is in the warehouse (fails naming the ones that are not)",
)
def weekend_sessions_ingested(
    config: CalendarClock, session_source: SessionSourceResource, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    now, weekend = weekend_now(config, session_source)
    if weekend is None:
        return _no_weekend(now)
    due = weekend.due_sessions(now)
    stored = set(
        warehouse.query(
            "SELECT session_key FROM sessions WHERE session_key IN (SELECT unnest(?))", [[s.ref.key for s in due]]
        )["session_key"]
    )
    overdue = [s.ref.key for s in due if s.ref.key not in stored and s.due + PUBLISHED_WITHIN <= now]
    waiting = [s.ref.key for s in due if s.ref.key not in stored and s.ref.key not in overdue]
    return dg.AssetCheckResult(
        passed=not overdue,
        metadata={
            "at": f"{now:%Y-%m-%d %H:%M} UTC",
            "weekend": weekend.key,
            "due": len(due),
            "ingested": len(stored),
            "missing": _lines(overdue),
            "waiting_for_publication": _lines(waiting),
        },
    )


@dg.asset_check(
    asset=dg.AssetKey("drift_reports"),
    description=f"During a race weekend, every session ingested more than {MONITORING_WITHIN} ago has a "
    "drift report made after its ingestion (warns naming the ones that have none)",
    additional_deps=[dg.AssetKey(["warehouse", "sessions"])],
)
def weekend_drift_reported(
    config: CalendarClock, session_source: SessionSourceResource, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    now, weekend = weekend_now(config, session_source)
    if weekend is None:
        return _no_weekend(now)
    reported = warehouse.query(
        """
        SELECT s.session_key, s.ingested_at, max(d.computed_at) AS reported_at
        FROM sessions s LEFT JOIN drift_history d USING (session_key)
        WHERE s.session_key IN (SELECT unnest(?))
        GROUP BY ALL ORDER BY 1""",
        [[s.ref.key for s in weekend.sessions]],
    )
    stale = reported.filter(
        (pl.col("reported_at").is_null() | (pl.col("reported_at") < pl.col("ingested_at")))
        & (pl.col("ingested_at") + MONITORING_WITHIN <= pl.lit(_wall_clock()))
    )["session_key"].to_list()
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"weekend": weekend.key, "ingested": reported.height, "without_a_current_report": _lines(stale)},
    )


@dg.asset_check(
    asset=dg.AssetKey("live_accuracy"),
    description=f"During a race weekend, live accuracy was refreshed within {MONITORING_WITHIN} of the "
    "latest ingestion of one of its sessions (warns when it lags)",
    additional_deps=[dg.AssetKey(["warehouse", "sessions"])],
)
def weekend_live_accuracy_current(
    context: dg.AssetCheckExecutionContext,
    config: CalendarClock,
    session_source: SessionSourceResource,
    warehouse: WarehouseResource,
) -> dg.AssetCheckResult:
    now, weekend = weekend_now(config, session_source)
    if weekend is None:
        return _no_weekend(now)
    ingested = warehouse.query(
        "SELECT max(ingested_at) AS at FROM sessions WHERE session_key IN (SELECT unnest(?))",
        [[s.ref.key for s in weekend.sessions]],
    )["at"][0]
    latest = context.instance.get_latest_materialization_event(dg.AssetKey("live_accuracy"))
    refreshed = None if latest is None else datetime.fromtimestamp(latest.timestamp, UTC).replace(tzinfo=None)
    lagging = (
        ingested is not None
        and (refreshed is None or refreshed < ingested)
        and ingested + MONITORING_WITHIN <= _wall_clock()
    )
    return dg.AssetCheckResult(
        passed=not lagging,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "weekend": weekend.key,
            "latest_ingestion": "none" if ingested is None else f"{ingested:%Y-%m-%d %H:%M} UTC",
            "refreshed": "never" if refreshed is None else f"{refreshed:%Y-%m-%d %H:%M} UTC",
        },
    )


FRESHNESS_CHECKS = [weekend_sessions_ingested, weekend_drift_reported, weekend_live_accuracy_current]
