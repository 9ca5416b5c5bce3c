"""The clean-lap rules: `not_clean_reason` and the pace rule (`off_pace`), worked by hand on a small
frame, on real laps that should and should not pass, causal, and judged alike by the pipeline
and a live session's state."""

import random

import polars as pl
import pytest

from f1_core.features import NOT_CLEAN_RULES, clean_laps, lap_features, not_clean_reason, not_clean_reasons, off_pace
from f1_core.standardize import standardize
from tests.test_live_state import streamed_as_the_pipeline

SAUDI_2021 = "2021-21-saudi-arabian-grand-prix-race"  # red flag on lap 15, standing restart lap 17
AUSTRALIA_2023 = "2023-03-australian-grand-prix-race"  # red flag, standing restart on lap 10
WET = ("2023-06-monaco-grand-prix-race", "2023-13-dutch-grand-prix-race")
DRY = ("2023-01-bahrain-grand-prix-race", "2023-07-spanish-grand-prix-race", "2023-16-japanese-grand-prix-race")


def lap(driver, number, time, end, **changes):
    """A green, timed lap of the hand-worked session (times in seconds)."""
    return {
        "session_key": "s",
        "driver": driver,
        "lap_number": number,
        "lap_time_s": time,
        "session_time_s": end,
        "pit_in_time_s": None,
        "pit_out_time_s": None,
        "track_status": "1",
        "deleted": False,
        "is_accurate": True,
        **changes,
    }


def test_the_first_rule_broken_names_why_a_lap_is_not_clean():
    assert not_clean_reason(lap("A", 1, 90.0, 90.0)) == "first_lap"
    # pit in is checked before a status that is not green
    assert not_clean_reason(lap("A", 5, 90.0, 1.0, pit_in_time_s=3.0, track_status="4")) == "pit_in"
    assert not_clean_reason(lap("A", 5, 90.0, 1.0, pit_out_time_s=3.0)) == "pit_out"
    assert not_clean_reason(lap("A", 5, 90.0, 1.0, track_status="12")) == "not_green"
    assert not_clean_reason(lap("A", 5, 90.0, 1.0, track_status=None)) == "not_green"  # unknown is not green
    assert not_clean_reason(lap("A", 5, None, 1.0)) == "untimed"
    assert not_clean_reason(lap("A", 5, 90.0, 1.0, off_pace=True, deleted=True)) == "off_pace"
    assert not_clean_reason(lap("A", 5, 90.0, 1.0, deleted=True)) == "deleted"
    assert not_clean_reason(lap("A", 5, 90.0, 1.0, is_accurate=None)) == "inaccurate"
    assert not_clean_reason(lap("A", 5, 90.0, 1.0)) is None


def test_the_rules_are_checked_in_the_order_not_clean_rules_lists_them():
    """`NOT_CLEAN_RULES` is the order the rules are checked in (its first rules are the per-lap
    ones and the representative ones): a lap breaking a rule and every rule after it is not
    clean for that rule."""
    breaks = {
        "first_lap": {"lap_number": 1},
        "pit_in": {"pit_in_time_s": 3.0},
        "pit_out": {"pit_out_time_s": 3.0},
        "not_green": {"track_status": "4"},
        "untimed": {"lap_time_s": None},
        "off_pace": {"off_pace": True},
        "deleted": {"deleted": True},
        "inaccurate": {"is_accurate": None},
    }
    assert set(breaks) == set(NOT_CLEAN_RULES)
    for i, rule in enumerate(NOT_CLEAN_RULES):
        broken = {name: value for later in NOT_CLEAN_RULES[i:] for name, value in breaks[later].items()}
        assert not_clean_reason(lap("A", 5, 90.0, 1.0, **broken)) == rule, broken


def test_the_pace_rule_worked_by_hand():
    """A's laps 2-4 run 90, 91 and 92 s: median 91 s, so lap 5 may take up to 1.07 x 91 = 97.37 s.
    Lap 5 of 98 s is off pace; B's lap 5 of 97 s against the same history is not. C has no laps
    of their own yet: C's lap 2 meets the field's median of the laps that ended before it."""
    laps = [lap(d, n, t, 100.0 * n + i) for i, d in enumerate("AB") for n, t in ((2, 90.0), (3, 91.0), (4, 92.0))]
    laps += [lap("A", 5, 98.0, 500.0), lap("B", 5, 97.0, 501.0)]
    # ended before C's lap 2 (at 450 s): A and B's laps 2-4, median 91 s; 97.37 s the limit
    laps += [lap("C", 2, 97.5, 450.0), lap("D", 2, 97.3, 450.5)]
    # E's lap 2 ended before 5 laps of anyone had: too little history to judge, it passes
    laps += [lap("E", 2, 200.0, 150.0)]
    # a first lap and a lap under safety car do not count as history, nor are they judged
    laps += [lap("F", 1, 300.0, 300.0), lap("F", 2, 300.0, 400.0, track_status="4")]
    verdicts = dict(zip([(row["driver"], row["lap_number"]) for row in laps], off_pace(laps, "race"), strict=True))
    assert [key for key, off in verdicts.items() if off] == [("A", 5), ("C", 2)]
    assert not any(off_pace(laps, "qualifying")) and not any(off_pace(laps, None))


def test_a_slow_restart_after_a_red_flag_is_not_clean(real_session):
    saudi = judged_session(real_session, SAUDI_2021)
    restart = saudi.filter((pl.col("lap_number") == 17) & (pl.col("track_status") == "1") & pl.col("timed"))
    assert restart.height == 12 and restart["lap_time_s"].min() > 120  # 121-149 s against 94 s laps
    assert (restart["reason"] == "off_pace").all()
    # the laps after it are racing pace again
    assert saudi.filter(pl.col("lap_number").is_between(19, 24) & (pl.col("reason") == "off_pace")).height == 0
    australia = judged_session(real_session, AUSTRALIA_2023)
    assert australia.filter((pl.col("lap_number") == 10) & (pl.col("reason") == "off_pace")).height >= 15


@pytest.mark.parametrize("key", WET)
def test_a_field_slowing_in_rain_mostly_passes(real_session, key):
    """The wet races' slow laps: many green laps beyond 107% of the session's median pass,
    because each is judged against the driver's last laps, which slowed with the rain."""
    laps = judged_session(real_session, key)
    green = laps.filter(pl.col("reason").is_null() | pl.col("reason").is_in(["off_pace", "deleted", "inaccurate"]))
    slow = green.filter(pl.col("lap_time_s") > 1.07 * green["lap_time_s"].median())
    assert slow.height > 150
    assert slow["reason"].eq_missing("off_pace").mean() < 0.25
    assert green["reason"].eq_missing("off_pace").mean() < 0.06


@pytest.mark.parametrize("key", DRY)
def test_ordinary_race_laps_pass(real_session, key):
    laps = judged_session(real_session, key)
    assert laps.filter(pl.col("reason") == "off_pace").height <= 1


def test_a_later_lap_never_changes_an_earlier_laps_verdict(real_session):
    laps = standardize(real_session(SAUDI_2021)).laps.to_dicts()
    before = off_pace(laps, "race")
    rng = random.Random(7)
    for cut in (1500.0, 2600.0, 4000.0):  # session seconds, around the red flag and after
        changed = [
            {**row, "lap_time_s": row["lap_time_s"] * rng.uniform(0.5, 2.0)}
            if row["session_time_s"] is not None and row["session_time_s"] > cut and row["lap_time_s"]
            else row
            for row in laps
        ]
        after = off_pace(changed, "race")
        earlier = [
            i for i, row in enumerate(laps) if row["session_time_s"] is not None and row["session_time_s"] <= cut
        ]
        assert [after[i] for i in earlier] == [before[i] for i in earlier]
        assert after != before  # the laps that did change were judged anew
    # nor does the order the rows come in
    order = list(range(len(laps)))
    rng.shuffle(order)
    assert off_pace([laps[i] for i in order], "race") == [before[i] for i in order]


def test_the_feature_table_says_why_and_the_laps_table_agrees(real_session):
    standard = standardize(real_session(SAUDI_2021))
    session = standard.session.with_columns(pl.lit(50, pl.Int16).alias("total_laps"))
    frame = lap_features(standard.laps, session, standard.weather)
    assert (frame["clean"] == frame["not_clean_reason"].is_null()).all()
    assert frame.filter(pl.col("not_clean_reason") == "off_pace")["lap_number"].to_list().count(17) == 12
    # the same verdicts straight from the warehouse `laps` columns, in the table's row order
    keyed = standard.laps.join(frame.select("driver", "lap_number", "clean"), on=["driver", "lap_number"])
    assert clean_laps(keyed, session).to_list() == keyed["clean"].to_list()
    with pytest.raises(ValueError, match="session_type"):
        clean_laps(keyed, session.drop("session_type"))


def test_a_live_state_judges_the_pace_rule_as_the_pipeline_does(real_session, tmp_path):
    """The red-flag race streamed lap by lap: every lap asked for as it starts gets the
    pipeline's features, so its state judged the restart laps as the pipeline did."""
    served, _, _, _ = streamed_as_the_pipeline(real_session(SAUDI_2021), tmp_path)
    # the restart laps (over 120 s, off pace) were not clean in the state's history either: LEC's
    # previous clean lap as lap 18 starts is a racing-pace one, not lap 17's restart
    assert served[("LEC", 18)]["prev_clean_lap_time_s"] < 100


def judged_session(real_session, key: str) -> pl.DataFrame:
    standard = standardize(real_session(key))
    laps = standard.laps
    return laps.with_columns(
        not_clean_reasons(laps, standard.session).alias("reason"), pl.col("lap_time_s").is_not_null().alias("timed")
    )
