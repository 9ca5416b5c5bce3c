"""Alerts on the session's clock: a drift alert where its report's laps end, a rollback on the
session the service was predicting (or whose laps' wall clock it falls in), else its wall-clock
time and why; the clock a report covers comes from real laps."""

from contextlib import closing
from datetime import datetime, timedelta

import polars as pl
import pytest

from f1_core import lake, published, warehouse
from f1_core.alert_timeline import CLOCK_COLUMNS, covered_clock, of_session, place
from f1_core.standardize import standardize

AUSTRIA = "2023-09-austrian-grand-prix-race"
START = datetime(2024, 5, 1, 12, 0, 0)  # a session run live: its laps' wall clock is today's


def history(rows: list[dict], clock: bool = True) -> pl.DataFrame:
    base = {"champion_version": "1", "classification": "data", "report_path": "/r.html"}
    frame = pl.DataFrame([{**base, **row} for row in rows]).with_columns(pl.col("computed_at").cast(pl.Datetime("us")))
    return frame if clock else frame.drop("last_lap", "session_time_s", "session_start_utc")


def alert(kind: str, at: datetime, **details) -> dict:
    return {"at": at.isoformat() + "+00:00", "kind": kind, "text": f"{kind} alert", "details": details}


def predictions(key: str, laps: range, first: datetime, every_s: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "session_key": key,
            "lap_number": list(laps),
            "logged_at": [(first + timedelta(seconds=i * every_s)).isoformat() + "+00:00" for i in range(len(laps))],
        }
    )


def test_the_clock_a_report_covers_comes_from_the_laps(real_session):
    laps = standardize(real_session(AUSTRIA)).laps
    clock = covered_clock(laps).row(0, named=True)
    assert clock["last_lap"] == laps["lap_number"].max() == 71
    assert clock["session_time_s"] == laps["session_time_s"].max()
    # every lap's wall-clock start sits on the session clock within FastF1's timing jitter
    lap = laps.filter(pl.col("lap_number") == 30).row(0, named=True)
    assert (lap["lap_start_date"] - clock["session_start_utc"]).total_seconds() == pytest.approx(
        lap["lap_start_time_s"], abs=1.0
    )


def test_a_drift_alert_sits_where_its_reports_laps_end():
    reports = history(
        [
            {
                "session_key": "s",
                "computed_at": START + timedelta(minutes=30),
                "last_lap": 18,
                "session_time_s": 1900.0,
                "session_start_utc": START,
            },
            {
                "session_key": "s",
                "computed_at": START + timedelta(minutes=50),
                "last_lap": 31,
                "session_time_s": 3000.0,
                "session_start_utc": START,
            },
        ]
    )
    placed = place(
        [
            alert("drift", START + timedelta(minutes=50, seconds=4), session_key="s", champion_version="1"),
            alert("drift", START + timedelta(minutes=30, seconds=2), session_key="s"),
        ],
        reports,
        None,
    )
    assert [(p.lap, p.session_time_s, p.placed_by) for p in placed] == [(18, 1900.0, "report"), (31, 3000.0, "report")]
    assert "after lap 18" in placed[0].note


def test_a_rollback_sits_on_the_session_being_predicted_then():
    # a replay: its laps keep their historical dates, so only the predictions place it
    reports = history(
        [
            {
                "session_key": "replayed",
                "computed_at": START,
                "last_lap": 10,
                "session_time_s": 900.0,
                "session_start_utc": datetime(2023, 7, 2, 12, 1),
            }
        ]
    )
    logged = pl.concat(
        [
            predictions("replayed", range(1, 41), START, 30.0),
            predictions("earlier", range(1, 11), START - timedelta(hours=3), 30.0),
        ]
    )
    at = START + timedelta(seconds=20 * 30 + 10)  # just after lap 21 was asked
    [rollback] = place([alert("rollback", at, demoted="3", restored="2")], reports, logged)
    assert (rollback.session_key, rollback.lap, rollback.placed_by) == ("replayed", 20, "live predictions")
    assert rollback.session_time_s is None  # the laps' 2023 wall clock says nothing about today
    on, off = of_session([rollback], "replayed")
    assert on == [rollback] and off == []


def test_a_rollback_in_a_live_session_gets_its_session_time_from_the_laps_wall_clock():
    reports = history(
        [
            {
                "session_key": "live",
                "computed_at": START + timedelta(minutes=20),
                "last_lap": 8,
                "session_time_s": 1150.0,
                "session_start_utc": START,
            },
            {
                "session_key": "live",
                "computed_at": START + timedelta(minutes=40),
                "last_lap": 22,
                "session_time_s": 2380.0,
                "session_start_utc": START,
            },
        ]
    )
    [rollback] = place([alert("rollback", START + timedelta(seconds=2000))], reports, None)
    assert (rollback.session_key, rollback.session_time_s, rollback.lap) == ("live", 2000.0, 8)
    assert rollback.placed_by == "session wall clock"
    with_predictions = place(
        [alert("rollback", START + timedelta(seconds=2000))],
        reports,
        predictions("live", range(1, 30), START + timedelta(seconds=60), 80.0),
    )
    # lap 25 was asked at 60 + 24 * 80 = 1980 s: lap 24 had landed
    assert (with_predictions[0].lap, with_predictions[0].session_time_s) == (24, 2000.0)


def test_what_cannot_be_placed_keeps_its_wall_clock_time_and_says_why():
    old = history(
        [{"session_key": "s", "computed_at": START, "last_lap": 5, "session_time_s": 1.0, "session_start_utc": START}],
        clock=False,
    )  # a warehouse from before the clock columns
    drift, rollback = place(
        [alert("drift", START + timedelta(seconds=5), session_key="s"), alert("rollback", START + timedelta(days=2))],
        old,
        predictions("s", range(1, 5), START, 60.0),
    )
    assert drift.placed_by == rollback.placed_by == "unplaced"
    assert "predates" in drift.note and "wall-clock" in rollback.note
    assert drift.session_key == "s" and rollback.session_key is None
    on, off = of_session([drift, rollback], "s")
    assert on == [] and off == [drift, rollback]
    assert of_session([drift, rollback], "other") == ([], [rollback])
    assert place([alert("drift", START, session_key="x")], None, None)[0].note.startswith("no published drift report")


def test_a_warehouse_made_before_the_clock_columns_still_loads_and_takes_new_rows(tmp_path):
    path = tmp_path / "warehouse"
    with closing(lake.cursor(path)) as con:  # the tables as they were
        for table, (_, columns) in (warehouse.TABLES | warehouse.HISTORY_TABLES).items():
            kept = [c for c in columns if c[0] not in CLOCK_COLUMNS]
            con.execute(f"CREATE TABLE {table} ({', '.join(f'{n} {ddl}' for n, ddl, _ in kept)})")
    row = {
        "session_key": "s",
        "champion_version": "1",
        "computed_at": START,
        "laps": 500,
        "features_compared": 30,
        "features_drifted": 3,
        "share_drifted": 0.1,
        "drifted_features": ["stint"],
        "live_mae_clean": 1.0,
        "train_mae_clean": 1.0,
        "error_ratio": 1.0,
        "classification": "none",
        "thresholds": "{}",
        "report_path": "/r.html",
    }
    old_writer = pl.DataFrame(
        [row],
        schema_overrides={
            "computed_at": pl.Datetime("us"),
            "laps": pl.Int32,
            "features_compared": pl.Int32,
            "features_drifted": pl.Int32,
        },
    )
    warehouse.append(path, {"drift_history": old_writer})  # a writer that knows no clock column
    warehouse.append(
        path,
        {
            "drift_history": old_writer.with_columns(
                pl.lit(40).alias("last_lap"),
                pl.lit(3600.0).alias("session_time_s"),
                pl.lit(START).alias("session_start_utc"),
            )
        },
    )
    rows = warehouse.query(path, "SELECT last_lap, session_time_s FROM drift_history ORDER BY last_lap NULLS FIRST")
    assert rows.rows() == [(None, None), (40, 3600.0)]
    assert set(CLOCK_COLUMNS) <= set(published.read(published.folder_of(path), "drift_history").frame.columns)
    with pytest.raises(ValueError, match="required column"):
        warehouse.append(path, {"drift_history": old_writer.drop("report_path")})
