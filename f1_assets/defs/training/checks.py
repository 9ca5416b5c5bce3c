import dagster as dg
import polars as pl

from f1_assets.defs.training.assets import lap_features
from f1_assets.defs.warehouse.resources import WarehouseResource
from f1_core.features import RACE_LIKE, TIMING_RULES


@dg.asset_check(
    asset=lap_features,
    blocking=True,
    description="great-expectations suite: ranges, nulls and categories of every feature",
)
def lap_features_expectations(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from f1_core.expectations import validate_lap_features

    success, results = validate_lap_features(warehouse.query("SELECT * FROM lap_features"))
    failed = [r for r in results if not r["success"]]
    return dg.AssetCheckResult(
        passed=success,
        metadata={
            "expectations": len(results),
            "failed": len(failed),
            "failures": dg.MetadataValue.md(
                "\n".join(
                    f"- `{r['column']}` {r['expectation']}: {r['unexpected']} rows (e.g. {r['examples']})"
                    for r in failed
                )
                or "none"
            ),
        },
    )


# A pace rule that removes more than this share of a race's green timed laps failed to follow
# the field (measured: at most 5.8%, the 2023 Monaco race as the rain came).
MAX_OFF_PACE_SHARE = 0.10


@dg.asset_check(
    asset=lap_features,
    description="the pace rule (off_pace) removes at most "
    f"{MAX_OFF_PACE_SHARE:.0%} of any race's or sprint's laps the per-lap rules keep",
)
def lap_features_pace_rule(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    reason = pl.col("not_clean_reason")
    shares = (
        warehouse.query("SELECT session_key, session_type, not_clean_reason FROM lap_features")
        .filter(pl.col("session_type").is_in(RACE_LIKE) & ~reason.is_in(TIMING_RULES).fill_null(False))
        .group_by("session_key")
        .agg(pl.len().alias("judged"), (reason == "off_pace").sum().alias("off_pace"))
        .with_columns((pl.col("off_pace") / pl.col("judged")).round(4).alias("share"))
        .sort("share", descending=True)
    )
    worst = shares.filter(pl.col("share") > MAX_OFF_PACE_SHARE)
    return dg.AssetCheckResult(
        passed=worst.height == 0,
        metadata={
            "sessions": shares.height,
            "sessions_over_limit": worst["session_key"].to_list(),
            "highest_share": float(shares["share"].max() or 0.0),
        },
    )
