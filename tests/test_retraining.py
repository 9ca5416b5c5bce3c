"""Drift-triggered retraining: the sensor's run keys, cursor and cooldown."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from f1_assets.defs.monitoring.sensors import TRIGGER_TAG, drift_retraining_sensor
from f1_assets.defs.warehouse.resources import WarehouseResource
from f1_core import settings, warehouse


def report(session_key: str, classification: str, minutes_ago: float) -> pl.DataFrame:
    at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).replace(tzinfo=None)
    return pl.DataFrame(
        [
            {
                "session_key": session_key,
                "champion_version": "3",
                "computed_at": at,
                "laps": 500,
                "features_compared": 30,
                "features_drifted": 20,
                "share_drifted": 0.66,
                "drifted_features": ["tyre_life"],
                "live_mae_clean": 1.0,
                "train_mae_clean": 0.5,
                "error_ratio": 2.0,
                "classification": classification,
                "thresholds": "{}",
                "report_path": "/r.html",
            }
        ],
        schema_overrides={
            "computed_at": pl.Datetime("us"),
            "laps": pl.Int32,
            "features_compared": pl.Int32,
            "features_drifted": pl.Int32,
        },
    )


def evaluate(instance, cursor=None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource()})
    return drift_retraining_sensor(context)


def test_one_run_per_drift_event_then_nothing_until_new_drift(monkeypatch):
    monkeypatch.setenv("F1_RETRAIN_COOLDOWN_SECONDS", "600")
    with dg.instance_for_test() as instance:
        assert isinstance(evaluate(instance), dg.SkipReason)  # no warehouse yet
        warehouse.append(
            settings.warehouse_path(),
            {
                "drift_history": pl.concat(
                    [
                        report("2023-01-a-race", "none", 3),
                        report("2023-02-b-race", "data", 2),
                        report("2023-03-c-race", "both", 1),
                    ]
                )
            },
        )
        first = evaluate(instance)
        assert isinstance(first, dg.SensorResult) and len(first.run_requests) == 1
        request = first.run_requests[0]
        assert request.tags[TRIGGER_TAG] == "drift"
        assert request.tags["f1/drift_sessions"] == "2023-02-b-race,2023-03-c-race"
        assert request.run_key.startswith("drift:v3:2023-02-b-race,2023-03-c-race:")
        # the same reports are not an event again
        again = evaluate(instance, cursor=first.cursor)
        assert isinstance(again, dg.SkipReason) and "no drift reported since" in again.skip_message


def test_cooldown_holds_new_drift_back_without_losing_it(monkeypatch):
    monkeypatch.setenv("F1_RETRAIN_COOLDOWN_SECONDS", "600")
    with dg.instance_for_test() as instance:
        warehouse.append(settings.warehouse_path(), {"drift_history": report("2023-02-b-race", "concept", 1)})
        # a retraining the sensor launched a moment ago
        instance.add_run(
            dg.DagsterRun(
                job_name="train_model_job",
                run_id="a" * 36,
                tags={TRIGGER_TAG: "drift"},
                status=dg.DagsterRunStatus.STARTED,
            )
        )
        held = evaluate(instance)
        assert isinstance(held, dg.SkipReason) and "cooldown" in held.skip_message
        monkeypatch.setenv("F1_RETRAIN_COOLDOWN_SECONDS", "0")
        released = evaluate(instance)
        assert isinstance(released, dg.SensorResult) and len(released.run_requests) == 1


def promoted_twice():
    """v1 promoted as the first model, then v2 forced through the gate (margin -100%): the
    deliberately unchecked promotion the live watch must catch."""
    from f1_core import registry
    from f1_core.training import load_warehouse, train_and_evaluate, training_frame
    from tests.test_training import SMALL, fill_warehouse, register

    fill_warehouse(settings.warehouse_path(), rounds=range(1, 5))
    result = train_and_evaluate(training_frame(*load_warehouse(settings.warehouse_path())), SMALL, folds=2)
    v1, v2 = register(result), register(result)
    assert registry.promotion_gate(v1, result.holdout, 1e9, 0.02, 0.01).promoted
    assert registry.promotion_gate(v2, result.holdout, 1e9, -1.0, 1.0).promoted
    return v1, v2


def live_rows(n: int, champion: str, previous: str, champion_error: float, previous_error: float) -> pl.DataFrame:
    from f1_core.monitoring import LIVE_SCHEMA

    observed = [80.0 + i % 7 for i in range(n)]
    return pl.DataFrame(
        {
            "session_key": ["2023-05-miami-grand-prix-race"] * n,
            "circuit_ref": ["miami"] * n,
            "session_type": ["race"] * n,
            "driver": ["VER"] * n,
            "lap_number": list(range(n)),
            "compound": ["MEDIUM"] * n,
            "tyre_life": [i % 20 + 1 for i in range(n)],
            "model_version": [champion] * n,
            "context": ["session"] * n,
            "prediction": [o + champion_error for o in observed],
            "lower": [o - 5 for o in observed],
            "upper": [o + 5 for o in observed],
            "observed": observed,
            "clean": [True] * n,
            "abs_error": [champion_error] * n,
            "covered": [True] * n,
            "logged_at": ["2026-01-01"] * n,
            "shadow_prediction": [o + previous_error for o in observed],
            "shadow_version": [previous] * n,
        },
        schema=LIVE_SCHEMA,
    )


def test_a_worse_champion_is_rolled_back_once_enough_live_laps_show_it(caplog):
    from f1_assets.defs.monitoring.assets import champion_watch
    from f1_assets.defs.monitoring.resources import AlertResource
    from f1_core import registry

    v1, v2 = promoted_twice()
    resources = {"warehouse": WarehouseResource(), "alerts": AlertResource(webhook_url=None)}
    config = {"ops": {"champion_watch": {"config": {"laps": 200, "margin": 0.05}}}}

    def verdict():
        result = dg.materialize([champion_watch], resources=resources, run_config=config)
        return result.get_asset_materialization_events()[0].materialization.metadata["verdict"].value

    warehouse.replace_table(settings.warehouse_path(), "live_predictions", live_rows(150, v2, v1, 2.0, 0.5), "")
    assert verdict() == "watching" and registry.version_of("champion") == v2  # 150 laps: too few to judge
    warehouse.replace_table(settings.warehouse_path(), "live_predictions", live_rows(250, v2, v1, 2.0, 0.5), "")
    assert verdict() == "rollback"
    assert registry.version_of("champion") == v1
    tags = registry.client().get_model_version(registry.MODEL_NAME, v2).tags
    assert tags["rolled_back"] == "true" and tags["live_watch"] == "rollback"
    assert f"ALERT rollback: champion v{v2} rolled back to v{v1}: clean-lap MAE 2.000 s on 250 live laps" in caplog.text


def test_a_champion_as_good_as_the_previous_one_passes_its_watch():
    from f1_assets.defs.monitoring.assets import champion_watch
    from f1_assets.defs.monitoring.resources import AlertResource
    from f1_core import registry

    v1, v2 = promoted_twice()
    warehouse.replace_table(settings.warehouse_path(), "live_predictions", live_rows(250, v2, v1, 0.52, 0.5), "")
    resources = {"warehouse": WarehouseResource(), "alerts": AlertResource(webhook_url=None)}
    result = dg.materialize([champion_watch], resources=resources)
    assert result.get_asset_materialization_events()[0].materialization.metadata["verdict"].value == "passed"
    assert registry.version_of("champion") == v2
