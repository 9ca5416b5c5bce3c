"""The real FastF1 parser, offline over the frozen live-timing responses in ../shared."""

import pytest

from f1_core.schemas import laps_schema, raw_laps_schema, weather_schema
from f1_core.sources.fastf1_source import FastF1Source
from f1_core.standardize import standardize
from tests.conftest import HTTP_CACHE

# One session of each kind; lap counts are what FastF1 3.9 parses from the frozen responses.
SESSIONS = {
    "2021-14-italian-grand-prix-practice-2": ("practice", 482, True),
    "2019-14-italian-grand-prix-qualifying": ("qualifying", 275, True),
    "2023-04-azerbaijan-grand-prix-sprint": ("sprint", 308, False),
    "2018-04-azerbaijan-grand-prix-race": ("race", 848, False),
}


@pytest.fixture(scope="module")
def source(fastf1_cache):
    return FastF1Source(fastf1_cache, list(range(2018, 2027)), http_cache=HTTP_CACHE, retries=1)


@pytest.fixture(scope="module")
def catalog(source):
    return {ref.key: ref for ref in source.catalog()}


def test_catalog_lists_sessions_whose_timing_data_is_in_the_store(catalog):
    assert set(SESSIONS) <= set(catalog)
    assert {ref.session_type for ref in catalog.values()} >= {
        "practice",
        "qualifying",
        "sprint",
        "race",
        "sprint_qualifying",
    }
    # the store has 2023 Azerbaijan's qualifying, sprint shootout and sprint, but not its race timing
    assert "2023-04-azerbaijan-grand-prix-race" not in catalog
    assert all(ref.source == "fastf1-cache" for ref in catalog.values())


@pytest.mark.parametrize("key", sorted(SESSIONS))
def test_each_kind_of_session_loads_and_standardizes(source, catalog, key):
    kind, laps, has_weather = SESSIONS[key]
    ref = catalog[key]
    assert ref.session_type == kind
    raw = source.load(ref)
    raw_laps_schema.validate(raw.laps)
    assert raw.laps.height == laps
    assert (raw.weather is not None) == has_weather
    standard = standardize(raw)
    laps_schema.validate(standard.laps)
    weather_schema.validate(standard.weather)
    assert standard.laps.height + standard.quarantine.height == laps
    assert standard.laps["lap_time_s"].drop_nulls().median() > 60


def test_same_session_gives_the_same_data_version(source, catalog):
    ref = catalog["2019-14-italian-grand-prix-qualifying"]
    assert source.load(ref).data_version == source.load(ref).data_version


def test_circuits_use_the_archive_references(catalog):
    assert catalog["2019-14-italian-grand-prix-qualifying"].circuit_ref == "monza"
    assert catalog["2018-04-azerbaijan-grand-prix-race"].circuit_ref == "baku"
