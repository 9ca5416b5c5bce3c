import dagster as dg

from f1_assets.defs.ingestion.partitions import session_partitions
from f1_assets.defs.warehouse.resources import WarehouseResource


@dg.asset_check(
    partitions_def=session_partitions,
    asset=dg.AssetKey(["warehouse", "laps"]),
    description="every source lap is either in the laps table or in quarantine, never lost",
)
def laps_reconcile_with_source(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    key = context.partition_key if context.has_partition_key else None
    counts = warehouse.query(
        """
        SELECT s.session_key, s.laps_in_source,
               (SELECT count(*) FROM laps l WHERE l.session_key = s.session_key) AS laps,
               (SELECT count(*) FROM quarantine q
                 WHERE q.session_key = s.session_key AND q.source_table = 'laps') AS quarantined
        FROM sessions s WHERE ? IS NULL OR s.session_key = ?
        """,
        [key, key],
    )
    broken = counts.filter(counts["laps"] + counts["quarantined"] != counts["laps_in_source"])
    return dg.AssetCheckResult(
        passed=counts.height > 0 and broken.height == 0,
        metadata={
            "sessions_checked": counts.height,
            "sessions_not_reconciled": broken["session_key"].to_list(),
        },
    )
