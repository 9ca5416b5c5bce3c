import dagster as dg

# Drift reports of every session that has none against the current champion.
drift_job = dg.define_asset_job(
    "drift_job",
    selection=dg.AssetSelection.assets("drift_reports"),
    description="Drift reports (Evidently) of the sessions not yet compared with the champion.",
)
