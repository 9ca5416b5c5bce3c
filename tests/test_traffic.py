"""Traffic, the field's tyre degradation and the noise floor, each against its definition worked by
hand on a small session."""

import math

import polars as pl
import pytest

from f1_core.features import lap_features
from f1_core.metrics import noise_floor
from f1_core.traffic import NO_TRAFFIC, Road, traffic_features
from f1_core.tyres import degradation_index, field_degradation

# (driver, lap, start, end): A leads, B follows A by a second or two, C runs alone behind
TIMING = [
    ("A", 1, 0.0, 100.0),
    ("A", 2, 100.0, 189.0),
    ("A", 3, 189.0, 280.0),
    ("A", 4, 280.0, 371.0),
    ("B", 1, 0.0, 100.8),
    ("B", 2, 100.8, 191.5),
    ("B", 3, 191.5, 281.0),
    ("B", 4, 281.0, 372.0),
    ("C", 1, 0.0, 103.0),
    ("C", 2, 103.0, 195.0),
    ("C", 3, 195.0, 286.0),
    ("C", 4, 286.0, 376.0),
]


def lap_row(driver, number, start, end, compound="MEDIUM", stint=1, pit=None) -> dict:
    """A green, accurately timed lap; `pit` "in" ends it in the pit lane, "out" starts it there."""
    return {
        "session_key": "s",
        "driver": driver,
        "lap_number": number,
        "stint": stint,
        "lap_time_s": end - start,
        "lap_start_time_s": start,
        "session_time_s": end,
        "compound": compound,
        "tyre_life": number,
        "track_status": "1",
        "pit_in_time_s": end - 5.0 if pit == "in" else None,
        "pit_out_time_s": start + 5.0 if pit == "out" else None,
        "deleted": False,
        "is_accurate": True,
    }


def session_laps(timing=TIMING) -> pl.DataFrame:
    return pl.DataFrame([lap_row(*lap) for lap in timing])


def features(laps: pl.DataFrame) -> dict:
    # no race distance: no fuel estimate, so fuel-corrected times are the lap times
    sessions = pl.DataFrame(
        {"session_key": ["s"], "season": [2024], "circuit_ref": ["x"], "session_type": ["race"], "total_laps": [None]}
    )
    frame = lap_features(laps, sessions)
    return {(row["driver"], row["lap_number"]): row for row in frame.iter_rows(named=True)}


def test_traffic_features_worked_by_hand():
    rows = features(session_laps())
    b4 = rows[("B", 4)]
    # B starts lap 4 at 281.0 s; A crossed the line last, at 280.0 s: 1.0 s ahead on the road
    assert b4["gap_ahead_s"] == pytest.approx(1.0)
    # when B started lap 3 (191.5 s), A had crossed at 189.0 s: 2.5 s, so B closed by 1.5 s
    assert b4["gap_ahead_change_s"] == pytest.approx(-1.5)
    # A's latest representative lap is its lap 3 (91 s); B's reference is B's lap 3 (89.5 s)
    assert b4["reference_fc_s"] == pytest.approx(89.5)
    assert b4["ahead_pace_s"] == pytest.approx(1.5)
    assert b4["blocked"] == 1.0  # under 1.5 s behind a slower car
    assert b4["drs_eligible"] == 1.0  # within 1 s, lap 4, three green laps before it
    # the common mode: of the cars that crossed in the 30 s before 281.0 s, only A, whose lap 3
    # (91 s) was 2 s slower than its lap 2 (89 s)
    assert b4["common_mode_s"] == pytest.approx(2.0)

    c4 = rows[("C", 4)]
    # C starts lap 4 at 286.0 s, 5.0 s behind B (281.0 s); at C's lap 3 start (195.0 s) B had
    # crossed at 191.5 s: 3.5 s, so the gap grew by 1.5 s
    assert c4["gap_ahead_s"] == pytest.approx(5.0)
    assert c4["gap_ahead_change_s"] == pytest.approx(1.5)
    assert c4["ahead_pace_s"] == pytest.approx(89.5 - 91.0)
    assert (c4["blocked"], c4["drs_eligible"]) == (0.0, 0.0)
    # B's lap 3 was 1.2 s quicker than its lap 2 (89.5 vs 90.7 s), A's 2.0 s slower: the median
    assert c4["common_mode_s"] == pytest.approx((-1.2 + 2.0) / 2)

    # A leads from the start: nobody crossed before A's lap 2 began
    assert {name: rows[("A", 2)][name] for name in NO_TRAFFIC} == NO_TRAFFIC


def test_a_car_that_crosses_after_the_lap_started_is_not_ahead():
    """B's lap 4 starts at 281.0 s; a crossing 0.1 s later (C, moved to 281.1 s) is the future."""
    timing = [(d, n, s, 281.1 if (d, n) == ("C", 3) else e) for d, n, s, e in TIMING]
    assert features(session_laps(timing))[("B", 4)]["gap_ahead_s"] == pytest.approx(1.0)


def test_drs_waits_for_two_green_laps_after_a_restart():
    road = Road([100.0], ["A"], [None], [90.0])
    lap = {"lap_start_time_s": 100.5, "driver": "B", "lap_number": 20, "reference_fc_s": 90.0}
    assert traffic_features(lap, road, None, green_laps=2)["drs_eligible"] == 1.0
    assert traffic_features(lap, road, None, green_laps=1)["drs_eligible"] == 0.0
    assert traffic_features({**lap, "lap_number": 2}, road, None, green_laps=5)["drs_eligible"] == 0.0
    # same pace ahead: not held up
    assert traffic_features(lap, road, None, green_laps=2)["blocked"] == 0.0


def tyre_rows(driver, level, slope, first_end):
    return [
        {
            "driver": driver,
            "stint": 1.0,
            "compound": "SOFT",
            "tyre_life": float(x),
            "representative": True,
            "_fc": level + slope * (x - 1),
            "session_time_s": first_end + 100.0 * x,
        }
        for x in range(1, 6)
    ]


def test_the_fields_degradation_pools_stints_centred_on_their_own_pace():
    """X loses 0.1 s a lap on softs from 90 s, Y 0.3 s from 95 s: each stint's tyre lives 1-5
    spread 10 laps², so the pooled slope is (0.1 x 10 + 0.3 x 10) / 20 = 0.2 s a lap, not the
    slope through both (which Y's slower car would steepen)."""
    index = degradation_index(tyre_rows("X", 90.0, 0.1, 0.0) + tyre_rows("Y", 95.0, 0.3, 1000.0))
    assert field_degradation("SOFT", 2000.0, index) == pytest.approx(0.2)
    # once X's stint alone had landed, the spread (10 laps²) was too small to say
    assert field_degradation("SOFT", 600.0, index) is None
    assert field_degradation("HARD", 2000.0, index) is None
    assert field_degradation("SOFT", None, index) is None


def test_the_field_tyre_effect_is_the_slope_times_tyre_laps_since_the_reference():
    laps = session_laps([(d, n, 100.0 * n + i, 100.0 * (n + 1) + i) for i, d in enumerate("ABCD") for n in range(1, 9)])
    laps = laps.with_columns((90.0 + 0.25 * pl.col("tyre_life")).alias("lap_time_s"))
    rows = features(laps)
    # every stint loses 0.25 s a lap; D's lap 8 is one tyre lap after its reference (lap 7)
    assert rows[("D", 8)]["field_tyre_effect_s"] == pytest.approx(0.25)


def test_the_noise_floor_ignores_a_linear_trend():
    """Laps alternating +-0.1 s around a pace improving 0.05 s a lap: each second difference is
    +-0.4 s (the trend cancels), half each way, so the MAD is 0.4 s."""
    times = [90.0 - 0.05 * n + (0.1 if n % 2 else -0.1) for n in range(2, 44)]
    frame = pl.DataFrame(
        {
            "session_key": "s",
            "driver": "A",
            "stint": 1,
            "lap_number": list(range(2, 44)),
            "lap_time_s": times,
            "clean": True,
        }
    )
    floor = noise_floor(frame)
    sigma = 1.4826 * 0.4 / math.sqrt(6)
    assert floor["noise_sigma_s"] == pytest.approx(sigma)
    assert floor["noise_floor_mae_s"] == pytest.approx(sigma * math.sqrt(2 / math.pi))
    assert floor["noise_triples"] == 40


# (driver, lap, start, end, compound, stint, pit): rain comes; A and B change to intermediates,
# C stays out on mediums
RAIN = [
    ("A", 1, 0.0, 95.0, "MEDIUM", 1, None),
    ("A", 2, 95.0, 185.0, "MEDIUM", 1, None),
    ("A", 3, 185.0, 276.0, "MEDIUM", 1, "in"),
    ("A", 4, 276.0, 378.0, "INTERMEDIATE", 2, "out"),
    ("A", 5, 378.0, 473.0, "INTERMEDIATE", 2, None),
    ("A", 6, 473.0, 567.5, "INTERMEDIATE", 2, None),
    ("B", 1, 0.0, 96.0, "MEDIUM", 1, None),
    ("B", 2, 96.0, 187.0, "MEDIUM", 1, None),
    ("B", 3, 187.0, 278.0, "MEDIUM", 1, None),
    ("B", 4, 278.0, 370.0, "MEDIUM", 1, None),
    ("B", 5, 370.0, 462.0, "MEDIUM", 1, "in"),
    ("B", 6, 462.0, 566.0, "INTERMEDIATE", 2, "out"),
    ("B", 7, 566.0, 662.0, "INTERMEDIATE", 2, None),
    *(("C", n, 97.0 + 92.0 * (n - 2), 97.0 + 92.0 * (n - 1), "MEDIUM", 1, None) for n in range(2, 8)),
    ("C", 1, 0.0, 97.0, "MEDIUM", 1, None),
]


def rain_laps(compound_known: bool = True) -> pl.DataFrame:
    laps = session_laps(RAIN)
    return laps if compound_known else laps.with_columns(pl.lit(None, pl.String).alias("compound"))


def test_a_wet_dry_change_resets_the_reference_to_the_fields_pace_on_the_new_tyres():
    rows = features(rain_laps())
    b7 = rows[("B", 7)]
    # B's last clean lap is lap 4 on mediums (92 s); lap 7 is on intermediates: the reference is
    # the field's intermediate laps that ended by its start (566 s): A's lap 5 alone (95 s)
    assert b7["tyre_class_changed"] == 1.0
    assert b7["unreset_reference_fc_s"] == pytest.approx(92.0)
    assert b7["prev_clean_lap_fc_s"] == pytest.approx(92.0)  # the baseline's lap is unchanged
    assert b7["reference_fc_s"] == pytest.approx(95.0)
    # A's first clean lap on intermediates: no intermediate lap of the field had ended (its own
    # lap 4 started from the pit lane), so it has no reference (its last clean lap, lap 2, was
    # on mediums: 90 s)
    a5 = rows[("A", 5)]
    assert a5["tyre_class_changed"] == 1.0 and a5["reference_fc_s"] is None
    assert a5["unreset_reference_fc_s"] == pytest.approx(90.0)
    # then its own lap on intermediates is the reference again
    a6 = rows[("A", 6)]
    assert a6["tyre_class_changed"] == 0.0 and a6["reference_fc_s"] == pytest.approx(95.0)
    c7 = rows[("C", 7)]  # never changed: its own last clean lap
    assert c7["tyre_class_changed"] == 0.0 and c7["reference_fc_s"] == pytest.approx(92.0)


def test_unknown_compounds_never_reset_the_reference():
    rows = features(rain_laps(compound_known=False))
    assert rows[("B", 7)]["tyre_class_changed"] == 0.0
    assert rows[("B", 7)]["reference_fc_s"] == pytest.approx(92.0)
