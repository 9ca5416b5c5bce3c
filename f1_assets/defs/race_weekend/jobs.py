import dagster as dg

from f1_assets.defs.monitoring.checks import no_drift
from f1_assets.defs.race_weekend.checks import FRESHNESS_CHECKS

weekend_report_job = dg.define_asset_job(
    "weekend_report_job",
    selection=dg.AssetSelection.assets("weekend_report"),
    description="The report of one race weekend: sessions, live accuracy, drift, promotions.",
)

freshness_job = dg.define_asset_job(
    "freshness_job",
    selection=dg.AssetSelection.checks(*FRESHNESS_CHECKS),
    description="Is everything due this race weekend in the warehouse, the drift reports and the live accuracy?",
)

health_job = dg.define_asset_job(
    "health_job",
    selection=dg.AssetSelection.checks(*FRESHNESS_CHECKS, no_drift),
    description="The nightly health run of a race weekend: freshness, and the drift of every session.",
)
