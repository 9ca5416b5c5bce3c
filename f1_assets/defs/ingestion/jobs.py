import dagster as dg

from f1_assets.defs.race_weekend.checks import FRESHNESS_CHECKS

# Source → raw → standardized → warehouse for one session, with every check on the way.
ingest_session_job = dg.define_asset_job(
    "ingest_session_job",
    # (the calendar's freshness checks run on their own schedule, not with each session)
    selection=dg.AssetSelection.groups("ingestion", "warehouse") - dg.AssetSelection.checks(*FRESHNESS_CHECKS),
    description="Ingests one session into the warehouse: read, validate, standardize, write.",
)
