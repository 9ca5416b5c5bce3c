import polars as pl
import pytest

from f1_core.features import FEATURES, fuel_kg, lap_features
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import standardize
from tests.conftest import ARCHIVE, JAPAN_2023

# What a lap itself produces: none of it may reach its own features.
OWN_OUTCOME = {
    "lap_time_s": 999.0, "sector1_s": 333.0, "sector2_s": 333.0, "sector3_s": 333.0,
    "speed_i1": 1.0, "speed_i2": 1.0, "speed_fl": 1.0, "speed_st": 1.0,
    "track_status": "4567", "pit_in_time_s": 12345.0, "position": 20, "deleted": True,
    "is_accurate": False, "session_time_s": None,
}


@pytest.fixture(scope="module")
def japan():
    source = ArchiveSource(ARCHIVE)
    standard = standardize(source.load(next(r for r in source.catalog() if r.key == JAPAN_2023)))
    session = standard.session.with_columns(pl.lit(53, pl.Int16).alias("total_laps"))
    return standard.laps, session, standard.weather


def features_of(laps, session, weather, driver, lap):
    row = lap_features(laps, session, weather).filter(
        (pl.col("driver") == driver) & (pl.col("lap_number") == lap))
    return row.select(FEATURES).row(0, named=True)


@pytest.mark.parametrize("driver,lap", [("VER", 20), ("HAM", 35), ("SAR", 2)])
def test_a_laps_own_outcome_does_not_change_its_features(japan, driver, lap):
    laps, session, weather = japan
    before = features_of(laps, session, weather, driver, lap)
    target = (pl.col("driver") == driver) & (pl.col("lap_number") == lap)
    # keep the lap's end time (ordering only) unless the column is what we change
    changed = laps.with_columns(
        pl.when(target).then(pl.lit(value, dtype=laps.schema[name])).otherwise(pl.col(name)).alias(name)
        for name, value in OWN_OUTCOME.items() if name != "session_time_s"
    )
    assert features_of(changed, session, weather, driver, lap) == before


def test_a_laps_features_ignore_laps_still_running_when_it_starts(japan):
    laps, session, weather = japan
    before = features_of(laps, session, weather, "VER", 20)
    start = laps.filter((pl.col("driver") == "VER") & (pl.col("lap_number") == 20))["lap_start_time_s"][0]
    running = (pl.col("lap_start_time_s") < start) & (pl.col("session_time_s") > start)
    assert laps.filter(running).height > 5  # the field is mid-lap as VER starts lap 20
    changed = laps.with_columns(pl.when(running).then(pl.col("lap_time_s") + 7.0)
                                .otherwise(pl.col("lap_time_s")).alias("lap_time_s"))
    assert features_of(changed, session, weather, "VER", 20) == before


def test_a_laps_features_do_not_see_later_laps(japan):
    laps, session, weather = japan
    before = features_of(laps, session, weather, "VER", 20)
    started_before = laps.filter(pl.col("lap_start_time_s") < laps.filter(
        (pl.col("driver") == "VER") & (pl.col("lap_number") == 20))["lap_start_time_s"][0])
    truncated = pl.concat([started_before,
                           laps.filter((pl.col("driver") == "VER") & (pl.col("lap_number") == 20))])
    assert features_of(truncated, session, weather, "VER", 20) == before


def test_earlier_laps_do_change_the_features(japan):
    """The counterpart: the test above could not pass by features ignoring history."""
    laps, session, weather = japan
    before = features_of(laps, session, weather, "VER", 20)
    slower = laps.with_columns(
        pl.when((pl.col("driver") == "VER") & (pl.col("lap_number") == 19))
        .then(pl.col("lap_time_s") + 3.0).otherwise(pl.col("lap_time_s")).alias("lap_time_s"))
    after = features_of(slower, session, weather, "VER", 20)
    assert after["prev_lap_time_s"] == pytest.approx(before["prev_lap_time_s"] + 3.0)
    assert after["rolling_clean_mean_s"] > before["rolling_clean_mean_s"]


def test_fuel_burns_down_over_the_race_and_is_unknown_in_qualifying():
    race = [fuel_kg(lap, 53, "race") for lap in (1, 27, 53)]
    assert race[0] == pytest.approx(100.7) and race[1] == pytest.approx(100.7 * 27 / 53) and race[2] < 2.0
    assert [fuel_kg(lap, 53, "qualifying") for lap in (1, 27, 53)] == [None] * 3
    assert fuel_kg(10, None, "race") is None  # race distance unknown


def test_missing_weather_is_explicit(japan):
    laps, session, _ = japan
    features = lap_features(laps, session, None)
    assert features["has_weather"].unique().to_list() == [0.0]
    assert features["air_temp_c"].null_count() == features.height
    with_weather = lap_features(laps, session, japan[2])
    assert with_weather["has_weather"].mean() > 0.95


def test_2018_compounds_sit_on_the_softness_scale():
    laps = pl.DataFrame({"session_key": ["s"] * 3, "driver": ["A"] * 3, "lap_number": [1, 2, 3],
                         "compound": ["HYPERSOFT", "SUPERSOFT", "INTERMEDIATE"]})
    sessions = pl.DataFrame({"session_key": ["s"], "session_type": ["race"], "circuit_ref": ["x"]})
    features = lap_features(laps, sessions)
    assert features["compound_softness"].to_list() == [6.0, 4.0, None]
    assert features["wet_tyre"].to_list() == [0.0, 0.0, 1.0]
