"""The serving contract: requests are validated, and without a session state their features are
the pipeline's on the request's own laps (with one, on the whole session: test_live_state)."""

import polars as pl
import pytest
from pydantic import ValidationError

from f1_core.features import FEATURES, lap_features
from f1_core.live import LapToPredict, features_for, request_for
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import standardize
from tests.conftest import ARCHIVE

BAHRAIN_2024 = "2024-01-bahrain-grand-prix-race"


@pytest.fixture(scope="module")
def bahrain():
    source = ArchiveSource(ARCHIVE)
    return standardize(source.load(next(r for r in source.catalog() if r.key == BAHRAIN_2024)))


@pytest.mark.parametrize("driver,lap_number", [("VER", 20), ("LEC", 14), ("HAM", 2)])
def test_request_features_equal_the_pipelines_given_the_same_laps(bahrain, driver, lap_number):
    """Given only what the request carries (the driver's laps and one weather reading), the
    pipeline computes every feature as the service does, the field's included."""
    session = bahrain.session.with_columns(
        pl.lit(57, pl.Int16).alias("total_laps"), pl.lit("bahrain").alias("circuit_ref")
    )
    laps = bahrain.laps.filter((pl.col("driver") == driver) & (pl.col("lap_number") <= lap_number))
    start = laps.filter(pl.col("lap_number") == lap_number)["lap_start_time_s"][0]
    reading = bahrain.weather.filter(pl.col("session_time_s") <= start).tail(1)
    pipeline = lap_features(laps, session, reading).filter(pl.col("lap_number") == lap_number)
    request = request_for(
        laps,
        lap_number,
        season=2024,
        event="Bahrain Grand Prix",
        session="Race",
        reading=reading.row(0, named=True),
        total_laps=57,
    )
    served = features_for([request])[0]
    for name in FEATURES:
        assert served[name] == pytest.approx(pipeline[name][0], abs=1e-6, nan_ok=True), name


REQUEST = {
    "season": 2023,
    "event": "Qatar Grand Prix",
    "session": "Race",
    "driver": "VER",
    "lap_number": 12,
    "compound": "MEDIUM",
    "tyre_life": 12,
    "previous_laps": [{"lap_number": 11, "lap_time": 91.2}],
}


@pytest.mark.parametrize(
    "change,field",
    [
        ({"compound": "BANANA"}, "compound"),
        ({"lap_start_time": -1}, "lap_start_time"),
        ({"lap_start_date": "yesterday"}, "lap_start_date"),
        ({"stint": 0}, "stint"),
        ({"tyre_life": -1}, "tyre_life"),
        ({"lap_number": 0}, "lap_number"),
        ({"air_temp": float("nan")}, "air_temp"),
        ({"session": "Warm-up"}, "session"),
        ({"previous_laps": [{"lap_number": 11, "lap_time": "fast"}]}, "previous_laps.0.lap_time"),
        ({"previous_laps": [{"lap_number": 11}, {"lap_number": 10}]}, "previous_laps"),
        ({"previous_laps": [{"lap_number": 12}]}, ""),  # found by the schema fuzzer: a 500 before
    ],
)
def test_invalid_requests_name_the_field(change, field):
    with pytest.raises(ValidationError) as error:
        LapToPredict(**{**REQUEST, **change})
    assert field in {".".join(str(p) for p in e["loc"]) for e in error.value.errors()}


def test_the_schema_lists_exactly_the_session_names_the_api_accepts():
    from f1_core.catalog import SESSION_TYPES
    from f1_core.live import SESSION_NAMES

    assert sorted(name.lower() for name in SESSION_NAMES) == sorted(SESSION_TYPES)
    assert LapToPredict(**{**REQUEST, "session": "race", "compound": "medium"}).compound == "MEDIUM"


def test_the_clients_stints_are_used_and_derived_when_omitted():
    """A stint given is FastF1's and is used as the pipeline uses it (null too: unknown); one
    omitted is derived, a new one after a pit-in lap."""
    laps = [
        {"lap_number": 1, "lap_time": 95.0, "compound": "SOFT", "tyre_life": 1, "pit_in": True},
        {"lap_number": 2, "lap_time": 99.0, "compound": "HARD", "tyre_life": 1},
    ]
    derived = LapToPredict(**{**REQUEST, "lap_number": 3, "compound": "HARD", "tyre_life": 2, "previous_laps": laps})
    given = derived.model_copy(update={"stint": 5}, deep=True)
    given.model_fields_set.add("stint")
    unknown = LapToPredict(
        **{**REQUEST, "lap_number": 3, "compound": "HARD", "tyre_life": 2, "stint": None, "previous_laps": laps}
    )
    assert [features_for([lap])[0]["stint"] for lap in (derived, given, unknown)] == [2.0, 5.0, None]
