import dagster as dg

from f1_assets.defs.ingestion.resources import SessionSourceResource
from f1_assets.defs.metadata import asset_code_version
from f1_assets.defs.race_weekend.partitions import weekend_partitions
from f1_assets.defs.warehouse.resources import WarehouseResource
from f1_core import settings

CODE_VERSION = asset_code_version(__name__)


@dg.asset(
    code_version=CODE_VERSION,
    partitions_def=weekend_partitions,
    group_name="race_weekend",
    kinds={"duckdb", "mlflow"},
    deps=[dg.AssetKey(["warehouse", "sessions"]), "drift_reports", "live_accuracy", "champion_model"],
)
def weekend_report(
    context: dg.AssetExecutionContext, session_source: SessionSourceResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """One race weekend after its race: its sessions in the warehouse, the service's live accuracy
    on them, their drift, and the models trained, promoted or rolled back meanwhile. Written to
    $F1_DATA_DIR/reports/<weekend>.md too."""
    from f1_core import registry, weekend_report

    key = context.partition_key
    season = int(key.split("-", 1)[0])
    weekend = next((w for w in session_source.weekends(season) if w.key == key), None)
    if weekend is None:
        raise dg.Failure(f"weekend {key} is not in the {season} calendar")
    keys = [[s.ref.key for s in weekend.sessions]]
    in_weekend = "WHERE session_key IN (SELECT unnest(?))"
    tables = set(warehouse.query("SELECT table_name FROM information_schema.tables")["table_name"])
    text = weekend_report.build(
        weekend,
        warehouse.query(f"SELECT * FROM sessions {in_weekend}", keys),
        warehouse.query(f"SELECT * FROM drift_history {in_weekend}", keys),
        # (live_accuracy exists once the service's predictions were first joined with laps)
        warehouse.query(f"SELECT * FROM live_accuracy {in_weekend}", keys) if "live_accuracy" in tables else None,
        registry.versions_made(weekend.opens, weekend.closes),
    )
    path = settings.data_dir() / "reports" / f"{key}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return dg.MaterializeResult(metadata={"report": dg.MetadataValue.md(text), "path": str(path)})
