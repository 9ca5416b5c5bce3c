"""Drift reports: Evidently's numbers on real laps, the classification, the Dagster asset with its
history tables, check and webhook alert."""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from f1_core import alerts, drift, settings, warehouse
from f1_core.model import relative_pace
from f1_core.training import load_warehouse, training_frame
from tests.test_training import fill_warehouse


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    path = tmp_path_factory.mktemp("warehouse") / "warehouse"
    fill_warehouse(path, rounds=range(1, 6))
    return relative_pace(training_frame(*load_warehouse(path)))


INPUTS = [
    "tyre_life",
    "prev_lap_time_s",
    "rolling_clean_mean_s",
    "fuel_kg",
    "air_temp_change_c",
    "degradation_s_per_lap",
    "stint",
]


def test_a_session_like_its_reference_does_not_drift_and_a_shifted_one_does(frame):
    reference = frame.filter(pl.col("event") != "2023-05")
    current = frame.filter(pl.col("event") == "2023-05")
    thresholds = drift.DriftThresholds(share_drifted=0.5)
    same = drift.compare(reference, current, INPUTS, thresholds, live_mae_clean=0.5, train_mae_clean=0.5)
    assert set(same.features["feature"]) == set(INPUTS)
    assert same.features.filter(pl.col("feature") == "prev_lap_time_s")["ks_p_value"][0] is not None
    assert same.features.filter(pl.col("feature") == "tyre_life")["ks_p_value"][0] is None  # not pace
    assert same.classification == "none", same.features
    # tyres three times older and every pace input two seconds off: the inputs moved
    shifted = current.with_columns(
        pl.col("tyre_life") * 3,
        pl.col("stint") + 2,
        *(pl.col(n) + 2.0 for n in ("prev_lap_time_s", "rolling_clean_mean_s", "degradation_s_per_lap", "fuel_kg")),
    )
    moved = drift.compare(reference, shifted, INPUTS, thresholds, live_mae_clean=0.5, train_mae_clean=0.5)
    assert moved.classification == "data"
    assert {"tyre_life", "prev_lap_time_s"} <= set(moved.drifted_features)
    assert moved.features.filter(pl.col("feature") == "tyre_life")["psi"][0] > 0.2
    assert "<html" in moved.html.lower()
    assert "tyre_life (PSI" in drift.describe("s", moved)


@pytest.mark.parametrize(
    "share,ratio,laps,expected",
    [
        (0.1, 1.0, 500, "none"),
        (0.7, 1.0, 500, "data"),
        (0.1, 2.0, 500, "concept"),
        (0.7, 2.0, 500, "both"),
        (0.7, 2.0, 10, "none"),  # too few laps to say anything
    ],
)
def test_classification(share, ratio, laps, expected):
    result = drift.DriftResult(pl.DataFrame(), share, laps, ratio, 1.0, "", "")
    assert drift.classify(result, drift.DriftThresholds()) == expected


def test_drift_reports_asset_stores_history_and_alerts(webhook):
    fill_warehouse(settings.warehouse_path(), rounds=range(1, 6))
    from f1_assets.definitions import defs

    definitions = defs()
    with dg.instance_for_test() as instance:
        trained = definitions.resolve_job_def("train_model_job").execute_in_process(
            instance=instance, run_config={"ops": {"lap_time_model": {"config": {"n_estimators": 60, "cv_folds": 2}}}}
        )
        assert trained.success
        job = definitions.resolve_job_def("drift_job")
        first = job.execute_in_process(instance=instance)  # every session, default thresholds
        sessions = warehouse.query(settings.warehouse_path(), "SELECT session_key FROM sessions")["session_key"]
        history = warehouse.query(settings.warehouse_path(), "SELECT * FROM drift_history")
        assert first.success and sorted(history["session_key"]) == sorted(sessions)
        assert (history["champion_version"] == "1").all() and history["train_mae_clean"].min() > 0
        features = warehouse.query(settings.warehouse_path(), "SELECT * FROM drift_features")
        assert features.height == history["features_compared"].sum()
        for report in history["report_path"]:
            assert "<html" in Path(report).read_text()[:2000].lower()
        # a second run finds nothing new to report on
        again = job.execute_in_process(instance=instance)
        meta = again.get_asset_materialization_events()[0].materialization.metadata
        assert meta["sessions"].value == 0
        # a session written again (laps landing live) is reported again, alone
        fill_warehouse(settings.warehouse_path(), rounds=[1])
        refreshed = job.execute_in_process(instance=instance)
        meta = refreshed.get_asset_materialization_events()[0].materialization.metadata
        assert meta["sessions"].value == 1 and "bahrain" in meta["reports"].value

        webhook.received.clear()
        session = sessions[0]
        strict = {"ops": {"drift_reports": {"config": {"sessions": [session], "share_drifted": 0.0}}}}
        flagged = job.execute_in_process(instance=instance, run_config=strict)
        check = [
            e.asset_check_evaluation_data for e in flagged.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
        ][0]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert session in check.metadata["drifted_sessions"].value
        assert len(webhook.bodies()) == 1
        alert = webhook.bodies()[0]
        assert alert["kind"] == "drift" and alert["details"]["session_key"] == session
        assert alert["details"]["classification"] in ("data", "both") and session in alert["text"]
        assert "PSI" in alert["text"] and alert["details"]["drifted_features"]
        # the alert log keeps it too, and each report says where its laps end on the session clock
        kept = alerts.read_log(settings.alert_log_path()).alerts
        assert [(a["kind"], a["details"]["session_key"]) for a in kept] == [("drift", session)]
        assert history["last_lap"].min() > 0 and history["session_time_s"].min() > 0
        ends = warehouse.query(
            settings.warehouse_path(),
            """
            SELECT session_key, max(lap_number) AS last_lap, max(session_time_s) AS session_time_s
            FROM laps GROUP BY 1 ORDER BY 1""",
        )
        assert ends.height == len(sessions)
        # each report's laps end where its session's laps do: its last lap and the session time then
        assert history.select(ends.columns).sort("session_key").rows() == ends.rows()
