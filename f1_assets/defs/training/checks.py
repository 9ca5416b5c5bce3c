import dagster as dg

from f1_assets.defs.training.assets import lap_features
from f1_assets.defs.warehouse.resources import WarehouseResource


@dg.asset_check(asset=lap_features, blocking=True,
                description="great-expectations suite: ranges, nulls and categories of every feature")
def lap_features_expectations(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from f1_core.expectations import validate_lap_features

    success, results = validate_lap_features(warehouse.query("SELECT * FROM lap_features"))
    failed = [r for r in results if not r["success"]]
    return dg.AssetCheckResult(
        passed=success,
        metadata={
            "expectations": len(results),
            "failed": len(failed),
            "failures": dg.MetadataValue.md("\n".join(
                f"- `{r['column']}` {r['expectation']}: {r['unexpected']} rows (e.g. {r['examples']})"
                for r in failed) or "none"),
        },
    )
