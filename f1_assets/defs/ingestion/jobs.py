import dagster as dg

# Source → raw → standardized → warehouse for one session, with every check on the way.
ingest_session_job = dg.define_asset_job(
    "ingest_session_job",
    selection=dg.AssetSelection.groups("ingestion", "warehouse"),
    description="Ingests one session into the warehouse: read, validate, standardize, write.",
)
