"""The Dagster asset check on the pace rule (`lap_features_pace_rule`), invoked directly on a small
`lap_features` table in a private warehouse: it fails when the rule judged off pace more than 10%
of a race's or sprint's laps that the per-lap rules keep, and passes otherwise. Offline and fast."""

import dagster as dg
import polars as pl

from f1_assets.defs.training.checks import MAX_OFF_PACE_SHARE, lap_features_pace_rule
from f1_assets.defs.warehouse.resources import WarehouseResource
from f1_core import settings, warehouse
from f1_core.features import TIMING_RULES


def session(key: str, session_type: str, off_pace: int, judged: int = 100, timing: int = 40) -> pl.DataFrame:
    """`judged` laps the per-lap rules keep, `off_pace` of them judged off pace (the others clean,
    deleted or inaccurate), and `timing` laps a per-lap rule removed (not judged)."""
    others = judged - off_pace
    reasons = (
        ["off_pace"] * off_pace
        + ["deleted"] * 3
        + ["inaccurate"] * 2
        + [None] * (others - 5)
        + [TIMING_RULES[i % len(TIMING_RULES)] for i in range(timing)]
    )
    return pl.DataFrame(
        {"session_key": key, "session_type": session_type, "not_clean_reason": reasons},
        schema={"session_key": pl.String, "session_type": pl.String, "not_clean_reason": pl.String},
    )


def check(*sessions: pl.DataFrame) -> dg.AssetCheckResult:
    path = settings.warehouse_path()
    warehouse.replace_table(path, "lap_features", pl.concat(sessions), "lap features, for the check")
    return lap_features_pace_rule(warehouse=WarehouseResource(path=str(path)))


def test_a_race_with_more_than_a_tenth_of_its_judged_laps_off_pace_fails_the_check():
    # 11 of 100 judged laps: over the limit, though 11 of all 140 laps would not be
    result = check(
        session("2023-01-a-race", "race", off_pace=11),
        session("2023-02-b-race", "race", off_pace=2),
        session("2023-02-b-qualifying", "qualifying", off_pace=60),
    )  # not judged: not race-like
    assert isinstance(result, dg.AssetCheckResult)
    assert result.passed is False and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["sessions"].value == 2
    assert result.metadata["sessions_over_limit"].value == ["2023-01-a-race"]
    assert result.metadata["highest_share"].value == 0.11


def test_a_sprint_over_the_limit_fails_it_too():
    result = check(
        session("2023-04-c-sprint", "sprint", off_pace=12, judged=60, timing=5),
        session("2023-04-c-race", "race", off_pace=3),
    )
    assert result.passed is False
    assert result.metadata["sessions_over_limit"].value == ["2023-04-c-sprint"]
    assert result.metadata["highest_share"].value == 0.2


def test_races_within_the_limit_pass():
    # 9% off pace (the clean laps count among the judged ones), and exactly the limit
    result = check(
        session("2023-01-a-race", "race", off_pace=9),
        session("2023-04-c-sprint", "sprint", off_pace=10),
        session("2023-02-b-qualifying", "qualifying", off_pace=60),
    )
    assert result.passed is True
    assert result.metadata["sessions"].value == 2 and result.metadata["sessions_over_limit"].value == []
    assert result.metadata["highest_share"].value == MAX_OFF_PACE_SHARE == 0.10
