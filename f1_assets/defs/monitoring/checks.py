import dagster as dg

from f1_assets.defs.monitoring.assets import drift_reports
from f1_assets.defs.warehouse.resources import WarehouseResource


@dg.asset_check(
    asset=drift_reports,
    description="The latest report of every session against the "
    "current champion shows no drift (fails, as a warning, naming the sessions that do)",
)
def no_drift(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from f1_core import registry

    version = registry.version_of(registry.CHAMPION)
    latest = warehouse.query(
        """
        SELECT session_key, classification, share_drifted, error_ratio, drifted_features
        FROM drift_history WHERE champion_version = ?
        QUALIFY row_number() OVER (PARTITION BY session_key ORDER BY computed_at DESC) = 1
        ORDER BY session_key""",
        [version or ""],
    )
    drifted = latest.filter(latest["classification"] != "none")
    return dg.AssetCheckResult(
        passed=drifted.height == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "champion_version": version or "none",
            "sessions": latest.height,
            "drifted": drifted.height,
            "drifted_sessions": dg.MetadataValue.md(
                "\n".join(
                    f"- `{r['session_key']}`: {r['classification']} (inputs drifted {r['share_drifted']:.0%}, "
                    f"error ratio {r['error_ratio'] if r['error_ratio'] is None else round(r['error_ratio'], 2)}; "
                    f"{', '.join(r['drifted_features'][:5])})"
                    for r in drifted.iter_rows(named=True)
                )
                or "none"
            ),
        },
    )
