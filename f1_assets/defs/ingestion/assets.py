import warnings

import dagster as dg

from f1_assets.defs.ingestion.partitions import session_partitions
from f1_assets.defs.ingestion.resources import SessionSourceResource
from f1_assets.defs.metadata import asset_code_version
from f1_core.errors import SessionNotAvailableError
from f1_core.raw import RawSession
from f1_core.standardize import StandardSession, standardize

# marks an asset stale in the UI when code it may run changed (f1_assets.defs.metadata.asset_code_version)
CODE_VERSION = asset_code_version(__name__)


@dg.asset(
    code_version=CODE_VERSION,
    partitions_def=session_partitions,
    group_name="ingestion",
    kinds={"python", "fastf1"},
    # One session at a time from the sources: FastF1's rate limits are per process, so parallel
    # runs could together exceed them.
    pool="session_source",
)
def raw_session(context: dg.AssetExecutionContext, session_source: SessionSourceResource) -> dg.Output[RawSession]:
    """A session's laps and weather exactly as the source delivered them (FastF1's columns, as text)."""
    try:
        raw = session_source.catalog().load(context.partition_key)
    except SessionNotAvailableError as exc:
        context.log.info(f"{exc}; trying again in {session_source.unpublished_retry_seconds} s")
        raise dg.RetryRequested(
            max_retries=session_source.unpublished_retries, seconds_to_wait=session_source.unpublished_retry_seconds
        ) from exc
    # Output's data_version is a Dagster beta parameter: deliberate, so its warning is not shown
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Parameter `data_version`")
        return dg.Output(
            raw,
            # what the source delivered: Dagster marks what is built from it stale when it changes
            data_version=dg.DataVersion(raw.data_version),
            metadata={
                "source": raw.ref.source,
                "laps_path": raw.laps_path,
                "weather_path": raw.weather_path or "none: the source has no weather for this session",
                "laps": raw.laps.height,
                "weather_rows": 0 if raw.weather is None else raw.weather.height,
                "data_version": raw.data_version,
            },
        )


@dg.asset(
    code_version=CODE_VERSION, partitions_def=session_partitions, group_name="ingestion", kinds={"python", "polars"}
)
def standardized_session(context: dg.AssetExecutionContext, raw_session: RawSession) -> dg.Output[StandardSession]:
    """Typed laps, weather and session metadata; rows that break a rule split off to quarantine."""
    standard = standardize(raw_session)
    laps = standard.laps
    quarantined = standard.quarantine.filter(standard.quarantine["source_table"] == "laps")
    if quarantined.height:
        context.log.warning(
            f"{quarantined.height} of {raw_session.laps.height} laps quarantined: "
            + ", ".join(f"{rule} ×{n}" for rule, n in quarantined["rule"].value_counts().iter_rows())
        )
    return dg.Output(
        standard,
        metadata={
            "dagster/row_count": laps.height,
            "laps": laps.height,
            "laps_quarantined": quarantined.height,
            "weather_rows": standard.weather.height,
            "weather_quarantined": standard.quarantine.height - quarantined.height,
            "drivers": laps["driver"].n_unique(),
        },
    )
