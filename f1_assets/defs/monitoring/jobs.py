import dagster as dg

from f1_assets.defs.race_weekend.checks import FRESHNESS_CHECKS

# Drift reports of every session that has none against the current champion.
drift_job = dg.define_asset_job(
    "drift_job",
    selection=dg.AssetSelection.assets("drift_reports") - dg.AssetSelection.checks(*FRESHNESS_CHECKS),
    description="Drift reports (Evidently) of the sessions not yet compared with the champion.",
)
