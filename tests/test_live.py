"""The serving contract: requests are validated, and their features equal the pipeline's."""

import polars as pl
import pytest
from pydantic import ValidationError

from f1_core.features import FEATURES, lap_features
from f1_core.live import REQUEST_LIMITED, LapToPredict, features_for, request_for
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import standardize
from tests.conftest import ARCHIVE

BAHRAIN_2024 = "2024-01-bahrain-grand-prix-race"


@pytest.fixture(scope="module")
def bahrain():
    source = ArchiveSource(ARCHIVE)
    return standardize(source.load(next(r for r in source.catalog() if r.key == BAHRAIN_2024)))


@pytest.mark.parametrize("driver,lap_number", [("VER", 20), ("LEC", 14), ("HAM", 2)])
def test_request_features_equal_the_pipelines_on_the_whole_session(bahrain, driver, lap_number):
    """The pipeline sees the whole real session (every driver, every weather reading); the request
    only the driver's laps. All features agree but the ones a request cannot carry."""
    session = bahrain.session.with_columns(pl.lit(57, pl.Int16).alias("total_laps"),
                                           pl.lit("bahrain").alias("circuit_ref"))
    pipeline = lap_features(bahrain.laps, session, bahrain.weather).filter(
        (pl.col("driver") == driver) & (pl.col("lap_number") == lap_number))
    laps = bahrain.laps.filter((pl.col("driver") == driver) & (pl.col("lap_number") <= lap_number))
    start = laps.filter(pl.col("lap_number") == lap_number)["lap_start_time_s"][0]
    reading = bahrain.weather.filter(pl.col("session_time_s") <= start).tail(1)
    request = request_for(laps, lap_number, season=2024, event="Bahrain Grand Prix", session="Race",
                          reading=reading.row(0, named=True), total_laps=57)
    served = features_for([request])[0]
    for name in FEATURES:
        if name not in REQUEST_LIMITED:
            assert served[name] == pytest.approx(pipeline[name][0], abs=1e-6, nan_ok=True), name
    assert pipeline["prev_clean_lap_fc_s"][0] is not None or lap_number == 2


@pytest.mark.parametrize("driver,lap_number", [("VER", 20), ("LEC", 14), ("HAM", 2)])
def test_request_features_equal_the_pipelines_given_the_same_laps(bahrain, driver, lap_number):
    """Given only what the request carries (the driver's laps and one weather reading), the
    pipeline computes every feature as the service does, the field's included."""
    session = bahrain.session.with_columns(pl.lit(57, pl.Int16).alias("total_laps"),
                                           pl.lit("bahrain").alias("circuit_ref"))
    laps = bahrain.laps.filter((pl.col("driver") == driver) & (pl.col("lap_number") <= lap_number))
    start = laps.filter(pl.col("lap_number") == lap_number)["lap_start_time_s"][0]
    reading = bahrain.weather.filter(pl.col("session_time_s") <= start).tail(1)
    pipeline = lap_features(laps, session, reading).filter(pl.col("lap_number") == lap_number)
    request = request_for(laps, lap_number, season=2024, event="Bahrain Grand Prix", session="Race",
                          reading=reading.row(0, named=True), total_laps=57)
    served = features_for([request])[0]
    for name in FEATURES:
        assert served[name] == pytest.approx(pipeline[name][0], abs=1e-6, nan_ok=True), name


REQUEST = {"season": 2023, "event": "Qatar Grand Prix", "session": "Race", "driver": "VER",
           "lap_number": 12, "compound": "MEDIUM", "tyre_life": 12,
           "previous_laps": [{"lap_number": 11, "lap_time": 91.2}]}


@pytest.mark.parametrize("change,field", [
    ({"compound": "BANANA"}, "compound"),
    ({"tyre_life": -1}, "tyre_life"),
    ({"lap_number": 0}, "lap_number"),
    ({"air_temp": float("nan")}, "air_temp"),
    ({"session": "Warm-up"}, "session"),
    ({"previous_laps": [{"lap_number": 11, "lap_time": "fast"}]}, "previous_laps.0.lap_time"),
    ({"previous_laps": [{"lap_number": 11}, {"lap_number": 10}]}, "previous_laps"),
    ({"previous_laps": [{"lap_number": 12}]}, ""),  # found by the schema fuzzer: a 500 before
])
def test_invalid_requests_name_the_field(change, field):
    with pytest.raises(ValidationError) as error:
        LapToPredict(**{**REQUEST, **change})
    assert field in {".".join(str(p) for p in e["loc"]) for e in error.value.errors()}


def test_the_schema_lists_exactly_the_session_names_the_api_accepts():
    from f1_core.catalog import SESSION_TYPES
    from f1_core.live import SESSION_NAMES

    assert sorted(name.lower() for name in SESSION_NAMES) == sorted(SESSION_TYPES)
    assert LapToPredict(**{**REQUEST, "session": "race", "compound": "medium"}).compound == "MEDIUM"
