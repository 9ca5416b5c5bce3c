import numpy as np
import polars as pl
import pytest

from f1_core.features import FEATURES, feature_rows, features_frame, fuel_kg, lap_features
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import standardize
from tests.conftest import ARCHIVE, JAPAN_2023

# What a lap itself produces: none of it may reach its own features.
OWN_OUTCOME = {
    "lap_time_s": 999.0,
    "sector1_s": 333.0,
    "sector2_s": 333.0,
    "sector3_s": 333.0,
    "speed_i1": 1.0,
    "speed_i2": 1.0,
    "speed_fl": 1.0,
    "speed_st": 1.0,
    "track_status": "4567",
    "pit_in_time_s": 12345.0,
    "position": 20,
    "deleted": True,
    "is_accurate": False,
    "session_time_s": None,
}


@pytest.fixture(scope="module")
def japan():
    source = ArchiveSource(ARCHIVE)
    standard = standardize(source.load(next(r for r in source.catalog() if r.key == JAPAN_2023)))
    session = standard.session.with_columns(pl.lit(53, pl.Int16).alias("total_laps"))
    return standard.laps, session, standard.weather


def features_of(laps, session, weather, driver, lap):
    row = lap_features(laps, session, weather).filter((pl.col("driver") == driver) & (pl.col("lap_number") == lap))
    return row.select(FEATURES).row(0, named=True)


@pytest.mark.parametrize("driver,lap", [("VER", 20), ("HAM", 35), ("SAR", 2)])
def test_a_laps_own_outcome_does_not_change_its_features(japan, driver, lap):
    laps, session, weather = japan
    before = features_of(laps, session, weather, driver, lap)
    target = (pl.col("driver") == driver) & (pl.col("lap_number") == lap)
    # keep the lap's end time (ordering only) unless the column is what we change
    changed = laps.with_columns(
        pl.when(target).then(pl.lit(value, dtype=laps.schema[name])).otherwise(pl.col(name)).alias(name)
        for name, value in OWN_OUTCOME.items()
        if name != "session_time_s"
    )
    assert features_of(changed, session, weather, driver, lap) == before


def test_a_laps_features_ignore_laps_still_running_when_it_starts(japan):
    laps, session, weather = japan
    before = features_of(laps, session, weather, "VER", 20)
    start = laps.filter((pl.col("driver") == "VER") & (pl.col("lap_number") == 20))["lap_start_time_s"][0]
    running = (pl.col("lap_start_time_s") < start) & (pl.col("session_time_s") > start)
    assert laps.filter(running).height > 5  # the field is mid-lap as VER starts lap 20
    changed = laps.with_columns(
        pl.when(running).then(pl.col("lap_time_s") + 7.0).otherwise(pl.col("lap_time_s")).alias("lap_time_s")
    )
    assert features_of(changed, session, weather, "VER", 20) == before


def test_a_laps_features_do_not_see_later_laps(japan):
    laps, session, weather = japan
    before = features_of(laps, session, weather, "VER", 20)
    started_before = laps.filter(
        pl.col("lap_start_time_s")
        < laps.filter((pl.col("driver") == "VER") & (pl.col("lap_number") == 20))["lap_start_time_s"][0]
    )
    truncated = pl.concat([started_before, laps.filter((pl.col("driver") == "VER") & (pl.col("lap_number") == 20))])
    assert features_of(truncated, session, weather, "VER", 20) == before


def test_earlier_laps_do_change_the_features(japan):
    """The counterpart: the test above could not pass by features ignoring history."""
    laps, session, weather = japan
    before = features_of(laps, session, weather, "VER", 20)
    slower = laps.with_columns(
        pl.when((pl.col("driver") == "VER") & (pl.col("lap_number") == 19))
        .then(pl.col("lap_time_s") + 3.0)
        .otherwise(pl.col("lap_time_s"))
        .alias("lap_time_s")
    )
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
    laps = pl.DataFrame(
        {
            "session_key": ["s"] * 3,
            "driver": ["A"] * 3,
            "lap_number": [1, 2, 3],
            "compound": ["HYPERSOFT", "SUPERSOFT", "INTERMEDIATE"],
        }
    )
    sessions = pl.DataFrame({"session_key": ["s"], "session_type": ["race"], "circuit_ref": ["x"]})
    features = lap_features(laps, sessions)
    assert features["compound_softness"].to_list() == [6.0, 4.0, None]
    assert features["wet_tyre"].to_list() == [0.0, 0.0, 1.0]


def _hand_session():
    """Driver A: lap 1 (a start), three green laps and one behind the safety car, then lap 6 to
    predict; driver B laps alongside, 0.5 s slower, so the field has laps behind it."""
    times = {1: 100.0, 2: 95.0, 3: 94.0, 4: 96.0, 5: 93.0, 6: 92.0}
    status = {4: "4"}
    sectors = {
        1: (None, None, None),
        2: (30.0, 35.0, 30.0),
        3: (29.5, 35.0, 29.5),
        4: (31.0, 35.0, 30.0),
        5: (29.0, 34.5, 30.0),
        6: (28.0, 34.0, 30.0),
    }
    rows = []
    for driver, slower in (("A", 0.0), ("B", 0.5)):
        clock = 0.0
        for lap, time in times.items():
            rows.append(
                {
                    "session_key": "s",
                    "driver": driver,
                    "lap_number": lap,
                    "stint": 1,
                    "lap_time_s": time + slower,
                    "compound": "MEDIUM",
                    "tyre_life": lap,
                    "track_status": status.get(lap, "1"),
                    "lap_start_time_s": clock,
                    "session_time_s": clock + time + slower,
                    "position": 1 if driver == "A" else 2,
                    **dict(zip(("sector1_s", "sector2_s", "sector3_s"), sectors[lap], strict=True)),
                }
            )
            clock += time + slower
    laps = pl.DataFrame(rows)
    sessions = pl.DataFrame({"session_key": ["s"], "session_type": ["race"], "circuit_ref": ["x"], "total_laps": [10]})
    weather = pl.DataFrame({"session_key": ["s", "s"], "session_time_s": [0.0, 300.0], "air_temp_c": [20.0, 22.0]})
    return laps, sessions, weather


def test_features_equal_their_definitions_worked_by_hand():
    laps, sessions, weather = _hand_session()
    features = lap_features(laps, sessions, weather)
    lap6 = features.filter((pl.col("driver") == "A") & (pl.col("lap_number") == 6)).row(0, named=True)
    fuel = {lap: 19.0 * (1 - (lap - 1) / 10) for lap in range(1, 7)}  # 10 laps: 19 kg at the start
    fc = {lap: time - fuel[lap] * 0.035 for lap, time in {2: 95.0, 3: 94.0, 5: 93.0}.items()}  # clean laps
    assert lap6["fuel_kg"] == pytest.approx(fuel[6])
    assert lap6["prev_lap_time_s"] == 93.0 and lap6["prev_clean_lap_fc_s"] == pytest.approx(fc[5])
    assert lap6["laps_since_clean"] == 1.0 and lap6["stint_clean_laps"] == 3.0
    assert lap6["rolling_clean_mean_s"] == pytest.approx(np.mean(list(fc.values())))
    assert lap6["rolling_clean_std_s"] == pytest.approx(np.std(list(fc.values()), ddof=1))
    assert lap6["stint_best_fc_s"] == pytest.approx(fc[5]) and lap6["session_best_fc_s"] == pytest.approx(fc[5])
    assert lap6["degradation_s_per_lap"] == pytest.approx(np.polyfit([2, 3, 5], list(fc.values()), 1)[0])
    # the previous lap's sectors against the driver's best before this lap
    assert (lap6["prev_sector1_gap_s"], lap6["prev_sector2_gap_s"], lap6["prev_sector3_gap_s"]) == (0.0, 0.0, 0.5)
    assert lap6["prev_lap_green"] == 1.0 and lap6["prev_lap_safety_car"] == 0.0
    lap5 = features.filter((pl.col("driver") == "A") & (pl.col("lap_number") == 5)).row(0, named=True)
    assert lap5["prev_lap_safety_car"] == 1.0 and lap5["laps_since_clean"] == 2.0
    assert lap5["stint_clean_laps"] == 2.0 and lap5["degradation_s_per_lap"] is None  # 3 laps needed
    # the field when lap 6 starts: every lap that ended by then, and the clean ones' recent pace
    ended = laps.filter(pl.col("session_time_s") <= 478.0)  # A's lap 6 starts at 478 s
    assert lap6["field_laps_completed"] == ended.height == 9  # B's fifth lap ends at 480.5 s
    field_fc = sorted(
        (row["session_time_s"], row["lap_time_s"] - fuel[row["lap_number"]] * 0.035)
        for row in laps.iter_rows(named=True)
        if row["lap_number"] in (2, 3, 5) and row["session_time_s"] <= 478.0
    )
    assert len(field_fc) == 5 and lap6["field_recent_fc_s"] == pytest.approx(np.mean([v for _, v in field_fc]))
    assert lap6["field_evolution_s"] == pytest.approx(0.0)  # fewer than 20 clean laps: the same window
    assert lap6["air_temp_c"] == 22.0 and lap6["air_temp_change_c"] == 2.0 and lap6["has_weather"] == 1.0
    assert lap6["reference_fc_s"] == lap6["prev_clean_lap_fc_s"]


def test_a_requests_last_lap_has_the_features_of_the_whole_computation(japan):
    laps, session, weather = japan
    whole = lap_features(laps, session, weather)
    last = features_frame(feature_rows(laps.to_dicts(), session.to_dicts(), weather.to_dicts(), last_only=True))
    expected = whole.join(
        last.select("session_key", "driver", "lap_number"),
        on=["session_key", "driver", "lap_number"],
        how="semi",
        maintain_order="left",
    )
    assert last.height == laps["driver"].n_unique() and last.equals(expected)
