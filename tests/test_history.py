"""The history's numbers (f1_core.history) on rows whose answers are known by hand."""

import polars as pl
import pytest

from f1_core import history
from f1_core.monitoring import LIVE_SCHEMA


def rows(*laps) -> pl.DataFrame:
    """(driver, lap, compound, tyre_life, version, context, prediction, observed, clean, shadow_version, shadow)"""
    out = []
    for driver, lap, compound, tyre, version, context, prediction, observed, clean, shadow_version, shadow in laps:
        out.append(
            {
                "session_key": "2023-09-austrian-grand-prix-race",
                "circuit_ref": "red_bull_ring",
                "session_type": "race",
                "driver": driver,
                "lap_number": lap,
                "compound": compound,
                "tyre_life": tyre,
                "model_version": version,
                "context": context,
                "prediction": prediction,
                "lower": prediction - 1.0,
                "upper": prediction + 1.0,
                "observed": observed,
                "clean": clean,
                "abs_error": abs(prediction - observed),
                "covered": abs(prediction - observed) <= 1.0,
                "logged_at": "2026-12-01T00:00:00",
                "shadow_prediction": shadow,
                "shadow_version": shadow_version,
            }
        )
    return pl.DataFrame(out, schema=LIVE_SCHEMA)


LIVE = rows(
    ("VER", 2, "SOFT", 2, "3", "session", 70.5, 70.0, True, "2", 71.0),
    ("VER", 7, "SOFT", 7, "3", "session", 69.0, 71.0, True, "2", 71.5),
    ("HAM", 2, "HARD", 1, "3", "session", 72.0, 72.0, True, None, None),
    ("HAM", 3, "HARD", 2, "3", "session", 90.0, 75.0, False, None, None),  # not clean: no average counts it
    ("HAM", 4, "HARD", 3, "3", "request", 60.0, 72.0, True, None, None),  # another context
    ("NOR", 2, None, None, "2", "session", 73.0, 72.0, True, None, None),
)


def test_breakdowns_average_clean_laps_of_one_context():
    session = history.select(LIVE, "session")
    by_compound = {r["group"]: r for r in history.breakdown(session, "compound").iter_rows(named=True)}
    assert by_compound["SOFT"]["mae_clean"] == pytest.approx((0.5 + 2.0) / 2)
    assert by_compound["SOFT"]["coverage_clean"] == pytest.approx(0.5)
    assert by_compound["SOFT"]["bias"] == pytest.approx((0.5 - 2.0) / 2)
    assert by_compound["HARD"]["clean_laps"] == 1 and by_compound["HARD"]["mae_clean"] == 0.0
    assert by_compound["UNKNOWN"]["clean_laps"] == 1
    by_tyre = [(r["group"], r["clean_laps"]) for r in history.breakdown(session, "tyre_age").iter_rows(named=True)]
    assert by_tyre == [("1", 2), ("6", 1)]  # bands 1-5 and 6-10, in order; no tyre age: left out
    with pytest.raises(ValueError, match="unknown breakdown 'team'"):
        history.breakdown(session, "team")


def test_worst_laps_are_clean_and_largest_first():
    worst = history.worst_laps(history.select(LIVE, "session"), 2)
    assert list(zip(worst["driver"], worst["lap_number"], strict=True)) == [("VER", 7), ("NOR", 2)]


def test_two_versions_compare_on_the_laps_both_predicted_served_or_in_the_shadow():
    key = "2023-09-austrian-grand-prix-race"
    assert history.versions(LIVE, key, "session") == ["2", "3"]
    both = history.compare(LIVE, key, "3", "2", "session")
    # v2 predicted VER's laps in the shadow of v3, and NOR's lap served: VER's two laps are common
    assert list(zip(both["driver"], both["lap_number"], strict=True)) == [("VER", 2), ("VER", 7)]
    assert both["abs_error_a"].to_list() == [0.5, 2.0] and both["abs_error_b"].to_list() == [1.0, 0.5]
    with pytest.raises(KeyError, match="'9' predicted no lap.*versions there: 2, 3"):
        history.compare(LIVE, key, "3", "9", "session")
