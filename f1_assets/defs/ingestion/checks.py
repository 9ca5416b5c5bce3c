"""pandera contracts on the raw and standardized tables. Blocking: bad data must not reach the
warehouse; a failure names every column and check that broke, with examples."""

import dagster as dg
import polars as pl

from f1_assets.defs.ingestion.assets import raw_session, standardized_session
from f1_assets.defs.ingestion.partitions import session_partitions
from f1_core.raw import RawSession
from f1_core.standardize import StandardSession

# More than this share of a session's laps in quarantine means the source changed, not the laps.
QUARANTINE_WARN_SHARE = 0.05


def validate(schema: str, frame: pl.DataFrame | None) -> dg.AssetCheckResult:
    """Checks `frame` against the schema named `schema` in f1_core.schemas. pandera is imported
    here, not with the definitions: it adds two seconds to every load of the code location."""
    import pandera.polars as pa

    from f1_core import schemas

    if frame is None:
        return dg.AssetCheckResult(passed=True, metadata={"rows": 0, "note": "no such table in this session"})
    try:
        getattr(schemas, schema).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        summary = cases.group_by("column", "check").agg(
            pl.len().alias("failures"), pl.col("failure_case").head(3).alias("examples")
        )
        return dg.AssetCheckResult(
            passed=False,
            metadata={
                "rows": frame.height,
                "failures": cases.height,
                "summary": dg.MetadataValue.md(
                    "\n".join(
                        f"- `{row['column']}` {row['check']}: {row['failures']} (e.g. {row['examples']})"
                        for row in summary.iter_rows(named=True)
                    )
                ),
            },
        )
    return dg.AssetCheckResult(passed=True, metadata={"rows": frame.height})


@dg.asset_check(
    partitions_def=session_partitions,
    asset=raw_session,
    blocking=True,
    description="FastF1 lap columns present, as text",
)
def raw_laps_schema_check(raw_session: RawSession) -> dg.AssetCheckResult:
    return validate("raw_laps_schema", raw_session.laps)


@dg.asset_check(
    partitions_def=session_partitions,
    asset=raw_session,
    blocking=True,
    description="FastF1 weather columns present, as text",
)
def raw_weather_schema_check(raw_session: RawSession) -> dg.AssetCheckResult:
    return validate("raw_weather_schema", raw_session.weather)


@dg.asset_check(
    partitions_def=session_partitions,
    asset=standardized_session,
    blocking=True,
    description="laps typed, in range, one row per driver and lap",
)
def laps_schema_check(standardized_session: StandardSession) -> dg.AssetCheckResult:
    return validate("laps_schema", standardized_session.laps)


@dg.asset_check(
    partitions_def=session_partitions,
    asset=standardized_session,
    blocking=True,
    description="weather typed and in range",
)
def weather_schema_check(standardized_session: StandardSession) -> dg.AssetCheckResult:
    return validate("weather_schema", standardized_session.weather)


@dg.asset_check(
    partitions_def=session_partitions,
    asset=standardized_session,
    description=f"at most {QUARANTINE_WARN_SHARE:.0%} of a session's laps quarantined",
)
def quarantine_share_check(standardized_session: StandardSession) -> dg.AssetCheckResult:
    session = standardized_session.session.row(0, named=True)
    share = session["laps_quarantined"] / max(session["laps_in_source"], 1)
    return dg.AssetCheckResult(
        passed=share <= QUARANTINE_WARN_SHARE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"quarantined_share": share, "laps_quarantined": session["laps_quarantined"]},
    )
