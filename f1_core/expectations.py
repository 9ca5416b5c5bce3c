"""The great-expectations suite of the feature table: ranges, nulls and categories a model may
rely on. great_expectations is imported inside: it takes seconds."""

from __future__ import annotations

import polars as pl

from f1_core.catalog import SESSION_TYPES


def lap_feature_expectations():
    import great_expectations.expectations as gxe

    between = gxe.ExpectColumnValuesToBeBetween
    return [
        *(
            gxe.ExpectColumnValuesToNotBeNull(column=c)
            for c in ("session_key", "driver", "lap_number", "session_type", "circuit_ref", "event")
        ),
        between(column="lap_time_s", min_value=40, max_value=1200),
        between(column="lap_number", min_value=1, max_value=100),
        between(column="tyre_life", min_value=0, max_value=80),
        between(column="fuel_kg", min_value=0, max_value=110),
        between(column="race_progress", min_value=0, max_value=1.0),
        between(column="compound_softness", min_value=0, max_value=6),
        between(column="humidity_pct", min_value=0, max_value=100),
        between(column="track_temp_c", min_value=-10, max_value=80),
        between(column="field_laps_completed", min_value=0, max_value=2000),
        gxe.ExpectColumnValuesToBeInSet(column="session_type", value_set=sorted(set(SESSION_TYPES.values()))),
        gxe.ExpectColumnValuesToBeInSet(column="has_weather", value_set=[0.0, 1.0]),
        # Every lap after a driver's first has a pace to compare with; only first laps may lack it.
        gxe.ExpectColumnValuesToNotBeNull(column="reference_fc_s", mostly=0.9),
    ]


def validate_lap_features(frame: pl.DataFrame) -> tuple[bool, list[dict]]:
    """Runs the suite on `frame`; returns success and one summary per expectation."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas("warehouse")
        .add_dataframe_asset("lap_features")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame.to_pandas()})
    )
    suite = gx.ExpectationSuite(name="lap_features", expectations=lap_feature_expectations())
    result = batch.validate(suite)
    return bool(result.success), [
        {
            "expectation": r.expectation_config.type,
            "column": r.expectation_config.kwargs.get("column"),
            "success": bool(r.success),
            "unexpected": r.result.get("unexpected_count"),
            "examples": [str(v) for v in (r.result.get("partial_unexpected_list") or [])[:3]],
        }
        for r in result.results
    ]
