import dagster as dg

from f1_assets.defs.ingestion.partitions import session_partitions
from f1_assets.defs.metadata import asset_code_version, preview, table_schema
from f1_assets.defs.warehouse.resources import WarehouseResource
from f1_core.standardize import StandardSession
from f1_core.warehouse import TABLES

# marks an asset stale in the UI when code it may run changed (f1_assets.defs.metadata.asset_code_version)
CODE_VERSION = asset_code_version(__name__)

WAREHOUSE_TABLES = ("sessions", "laps", "weather", "quarantine")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["warehouse", table],
            code_version=CODE_VERSION,
            deps=["standardized_session"],
            description=TABLES[table][0],
            partitions_def=session_partitions,
            group_name="warehouse",
            kinds={"duckdb"},
            metadata={
                "dagster/column_schema": table_schema(TABLES[table][1]),
                "dagster/table_name": f"warehouse.{table}",
            },
        )
        for table in WAREHOUSE_TABLES
    ],
    ins={"standardized_session": dg.AssetIn()},
    partitions_def=session_partitions,
    # DuckDB takes one writing process per file: the pipeline's writers queue here, not on its lock.
    pool="duckdb_warehouse",
)
def warehouse_tables(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, standardized_session: StandardSession
):
    """Replaces the session's rows in every warehouse table in one transaction: a re-run replaces,
    a failed run leaves the warehouse as it was."""
    standard = standardized_session
    frames = {
        "sessions": standard.session,
        "laps": standard.laps,
        "weather": standard.weather,
        "quarantine": standard.quarantine,
    }
    warehouse.replace_session(context.partition_key, frames)
    for table, frame in frames.items():
        metadata = {"dagster/row_count": frame.height, "preview": preview(frame)}
        if table == "laps":
            metadata["drivers"] = frame["driver"].n_unique()
        yield dg.MaterializeResult(asset_key=["warehouse", table], metadata=metadata)
