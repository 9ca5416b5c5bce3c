"""The closed loop end to end: a champion trained on early races serves; a qualifying session,
unlike anything it learnt from, is replayed through the service; its drift report, the alert,
the sensor firing once, the retraining run and its gate decision follow, and the service answers
with the new champion without a failed request."""

import threading
import time
from pathlib import Path

import dagster as dg
import httpx
from click.testing import CliRunner

from f1_assets.defs.monitoring.sensors import TRIGGER_TAG, drift_retraining_sensor
from f1_assets.defs.warehouse.resources import WarehouseResource
from f1_core import registry, settings, warehouse
from f1_core.api_keys import KeyStore
from f1_core.model import ModelParams
from f1_core.training import load_warehouse, train_and_evaluate, training_frame
from f1_serving.local import LocalService
from tests.conftest import copy_archive
from tests.test_training import fill_warehouse, register

SAUDI_QUALIFYING = "2021-21-saudi-arabian-grand-prix-qualifying"


def test_drift_alert_retraining_and_a_new_champion_serving(tmp_path, monkeypatch, webhook):
    # the champion: a quick two-tree model of four 2023 races (its holdout, the latest, unseen)
    fill_warehouse(settings.warehouse_path(), rounds=range(1, 5))
    early = train_and_evaluate(
        training_frame(*load_warehouse(settings.warehouse_path())),
        ModelParams(n_estimators=2, learners=["lightgbm"]),
        folds=2,
    )
    first = register(early)
    import mlflow

    with mlflow.start_run(run_id=registry.client().get_model_version(registry.MODEL_NAME, first).run_id):
        from f1_core.drift import reference_sample

        registry.log_reference(reference_sample(early.cross_validated))
        mlflow.log_metrics({k: v for k, v in early.metrics.items() if k.startswith("holdout_mae")})
        mlflow.set_tag("train_events", ",".join(early.train_events))
    assert registry.promotion_gate(first, early.holdout, 1e9, 0.02, 0.01).promoted
    _, key = KeyStore(settings.api_keys_path()).create("viewer")
    monkeypatch.setenv("F1_API_KEY", key)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    archive = copy_archive(tmp_path / "archive", [SAUDI_QUALIFYING])

    with LocalService(
        {"F1_DATA_DIR": str(settings.data_dir()), "F1_SERVING_POLL_SECONDS": "0.5"}, log_path=tmp_path / "service.log"
    ) as service:
        from f1_assets.cli import main

        played = CliRunner().invoke(
            main,
            [
                "replay",
                SAUDI_QUALIFYING,
                "--archive",
                str(archive),
                "--speed",
                "20000",
                "--url",
                service.url,
                "--ingest-every",
                "5",
            ],
        )
        assert played.exit_code == 0, played.output
        assert "failed requests 0" in played.output.split("\r")[-1] and f"model v{first}" in played.output

        from f1_assets.definitions import defs

        definitions = defs()
        with dg.instance_for_test() as instance:
            # the drift report of the replayed session, and its alert
            reported = definitions.resolve_job_def("drift_job").execute_in_process(instance=instance)
            assert reported.success
            history = warehouse.query(
                settings.warehouse_path(), "SELECT * FROM drift_history WHERE session_key = ?", [SAUDI_QUALIFYING]
            )
            assert history["classification"][0] in ("data", "both"), history.row(0, named=True)
            assert "<html" in Path(history["report_path"][0]).read_text()[:2000].lower()
            alerts = [a for a in webhook.bodies() if a["details"]["session_key"] == SAUDI_QUALIFYING]
            assert len(alerts) == 1 and alerts[0]["kind"] == "drift"

            # the sensor fires once for this drift event
            context = dg.build_sensor_context(instance=instance, resources={"warehouse": WarehouseResource()})
            fired = drift_retraining_sensor(context)
            assert isinstance(fired, dg.SensorResult) and len(fired.run_requests) == 1
            request = fired.run_requests[0]
            assert SAUDI_QUALIFYING in request.tags["f1/drift_sessions"]
            again = dg.build_sensor_context(
                instance=instance, cursor=fired.cursor, resources={"warehouse": WarehouseResource()}
            )
            assert isinstance(drift_retraining_sensor(again), dg.SkipReason)

            # the retraining run it asks for, while the service keeps answering
            answers, stop = [], threading.Event()
            lap = {
                "season": 2021,
                "event": "Saudi Arabian Grand Prix",
                "session": "Race",
                "driver": "HAM",
                "lap_number": 10,
                "compound": "MEDIUM",
                "tyre_life": 9,
                "previous_laps": [{"lap_number": n, "lap_time": 92.0 + n / 10} for n in range(1, 10)],
            }

            def load():
                with httpx.Client(headers={"Authorization": f"Bearer {key}"}) as client:
                    while not stop.is_set():
                        r = client.post(service.url + "/predict", json={"laps": [lap]}, timeout=30)
                        answers.append(
                            (r.status_code, r.json()[0]["model_version"] if r.status_code == 200 else r.text)
                        )
                        time.sleep(0.05)

            threads = [threading.Thread(target=load) for _ in range(2)]
            for t in threads:
                t.start()
            # as the sensor asks (an incremental retraining), with 15 trees more instead of 100
            config = request.run_config["ops"]["lap_time_model"]["config"]
            assert config == {"mode": "incremental", "learn_from_sessions": [SAUDI_QUALIFYING]}
            retrained = definitions.resolve_job_def("train_model_job").execute_in_process(
                instance=instance,
                tags=request.tags,
                run_config={"ops": {"lap_time_model": {"config": config | {"incremental_trees": 15}}}},
            )
            assert retrained.success
            meta = {
                m.asset_key.to_user_string(): m.materialization.metadata
                for m in retrained.get_asset_materialization_events()
            }
            assert meta["lap_time_model"]["retrain_mode"].value == "incremental"
            decision = meta["champion_model"]
            assert "Promotion decision" in decision["report"].value
            assert decision["promoted"].value, decision["report"].value
            new = decision["champion_version"].value
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(v == new for _, v in answers[-2:]):
                time.sleep(0.2)
            time.sleep(0.5)
            stop.set()
            for t in threads:
                t.join()
            run = instance.get_run_by_id(retrained.run_id)
            assert run.tags[TRIGGER_TAG] == "drift"
    assert answers and all(status == 200 for status, _ in answers), [a for a in answers if a[0] != 200][:3]
    assert answers[0][1] == first and answers[-1][1] == new != first
