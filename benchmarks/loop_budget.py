"""The closed loop's time budgets, measured on real data in a temporary folder:

1. from the moment the last lap of a drifted session lands to the drift alert (ingestion of the
   session, its drift report, the webhook): budget 60 s;
2. from the alert to the new champion serving (sensor, retraining with its gate, the service's
   swap): budget 3 minutes.

Two scenarios:

- default (quick): tests/test_closed_loop.py's. A two-tree champion of four 2023 races serves, the
  2021 Saudi Arabian qualifying is replayed through the service, and the drift-launched
  incremental retraining (15 more trees) is promoted.
- `--full`: every session the configured sources offer except the wet 2025 Miami sprint is
  ingested, a champion is trained on them with the default configuration, and every session gets
  its drift report (as `make run` does; not timed). The sprint is then replayed from the frozen
  live timing, and the drift-launched retraining runs with the sensor's configuration as is
  (incremental, 100 more trees per booster, on the whole warehouse). If the sprint does not drift
  against that champion, it says so and measures no step 2; if the gate refuses the retrained
  model, step 2 ends at the gate's decision.

Each step runs as the daemon would run it, in this process (Dagster's in-process executor), so the
figures hold no daemon polling delay (the live and monitoring sensors tick every 10 s, the drift
sensor every 15 s) nor a new process per run, which a deployment adds.

    .venv/bin/python benchmarks/loop_budget.py [--full]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from f1_core.alerts import AlertReceiver  # noqa: E402

QUALIFYING = "2021-21-saudi-arabian-grand-prix-qualifying"
# the wet 2025 Miami sprint (frozen live timing): unlike every other session, whatever the champion learnt
WET_SPRINT = "2025-06-miami-grand-prix-sprint"


def main(full: bool) -> None:
    played = WET_SPRINT if full else QUALIFYING
    tmp = Path(tempfile.mkdtemp(prefix="f1-loop-"))
    os.environ.update(
        {
            "F1_DATA_DIR": str(tmp / "data"),
            "F1_WAREHOUSE": str(tmp / "data" / "warehouse"),
            "DAGSTER_HOME": str(tmp / "dagster_home"),
            "MLFLOW_LOGGING_LEVEL": "WARNING",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }
    )
    (tmp / "dagster_home").mkdir()
    alerts = AlertReceiver().start()
    os.environ["F1_ALERT_WEBHOOK_URL"] = alerts.url

    import dagster as dg
    import httpx
    import mlflow
    import polars as pl

    from f1_assets.definitions import defs
    from f1_assets.defs.ingestion.partitions import session_partitions
    from f1_assets.defs.monitoring.sensors import drift_retraining_sensor
    from f1_assets.defs.warehouse.resources import WarehouseResource
    from f1_core import registry, replay, settings, warehouse
    from f1_core.api_keys import KeyStore
    from f1_core.drift import reference_sample
    from f1_core.live import request_for
    from f1_core.model import ModelParams
    from f1_core.sources.archive import ArchiveSource
    from f1_core.standardize import standardize
    from f1_core.training import load_warehouse, train_and_evaluate, training_frame
    from f1_serving.local import LocalService

    definitions = defs()
    instance = dg.DagsterInstance.get()
    cursor = None
    ingest = definitions.resolve_job_def("ingest_session_job")
    if full:
        from f1_assets.defs.ingestion.resources import SessionSourceResource

        catalog = SessionSourceResource().catalog()
        keys = sorted(k for k in catalog.sessions() if k != played)
        started = time.perf_counter()
        instance.add_dynamic_partitions(session_partitions.name, keys)
        for key in keys:
            assert ingest.execute_in_process(partition_key=key, instance=instance).success, key
        print(f"setup: ingested {len(keys)} sessions in {time.perf_counter() - started:.0f} s", flush=True)
        started = time.perf_counter()
        assert definitions.resolve_job_def("train_model_job").execute_in_process(instance=instance).success
        first = registry.version_of(registry.CHAMPION)
        print(
            f"setup: champion v{first} trained (default configuration) in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        started = time.perf_counter()
        # as after `make run`: every session already has its report, so only the new one is reported
        assert definitions.resolve_job_def("drift_job").execute_in_process(instance=instance).success
        alerts.received.clear()
        # the drift those reports found was acted on before this weekend: the sensor's cursor moves past it
        cursor = drift_retraining_sensor(
            dg.build_sensor_context(instance=instance, resources={"warehouse": WarehouseResource()})
        ).cursor
        print(f"setup: drift reports of the {len(keys)} sessions in {time.perf_counter() - started:.0f} s", flush=True)
    else:
        source = ArchiveSource(settings.archive_dir())
        for ref in source.catalog([2023]):
            if ref.round <= 4:
                s = standardize(source.load(ref))
                warehouse.replace_session(
                    settings.warehouse_path(),
                    ref.key,
                    {"sessions": s.session, "laps": s.laps, "weather": s.weather, "quarantine": s.quarantine},
                )
        early = train_and_evaluate(
            training_frame(*load_warehouse(settings.warehouse_path())),
            ModelParams(n_estimators=2, learners=["lightgbm"]),
            folds=2,
        )
        with mlflow.start_run(experiment_id=registry.ensure_experiment()):
            first = registry.log_model(early.model, early.holdout.head(20))
            registry.log_reference(reference_sample(early.cross_validated))
            mlflow.log_metrics({k: v for k, v in early.metrics.items() if k.startswith("holdout_mae")})
            mlflow.set_tag("train_events", ",".join(early.train_events))
        registry.promotion_gate(first, early.holdout, 1e9, 0.02, 0.01)
    _, key = KeyStore(settings.api_keys_path()).create("viewer")

    with (
        LocalService({"F1_SERVING_POLL_SECONDS": "2"}, log_path=tmp / "service.log") as service,
        httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client,
    ):
        if full:
            source, ref = catalog.find(played)
            raw = source.load(ref)
        else:
            ref, raw = replay.load(settings.archive_dir(), played)
        state = replay.replay(
            ref, raw, settings.live_dir(), lambda laps: client.post("/predict", json={"laps": laps}).json(), speed=20000
        )
        landed = time.perf_counter()
        print(f"replayed {state.laps_played} laps of {played}; live MAE {state.live_mae:.3f} s with champion v{first}")

        instance.add_dynamic_partitions(session_partitions.name, [played])
        assert ingest.execute_in_process(partition_key=played, instance=instance).success
        ingested = time.perf_counter()
        assert definitions.resolve_job_def("drift_job").execute_in_process(instance=instance).success
        alerted = alerts.arrival(played)
        if alerted is None:
            report = warehouse.query(
                settings.warehouse_path(),
                "SELECT classification, share_drifted, error_ratio FROM drift_history WHERE session_key = ?",
                [played],
            )
            print(f"   no drift alert: the report says {report.row(0, named=True)}; nothing to measure")
            return
        print(
            f"1. last lap landed -> drift alert: {alerted - landed:.1f} s "
            f"(ingestion {ingested - landed:.1f} s, drift report and alert {alerted - ingested:.1f} s); budget 60 s"
        )

        fired = drift_retraining_sensor(
            dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource()})
        )
        if not isinstance(fired, dg.SensorResult):
            print(f"   the sensor did not fire: {fired.skip_message}; no step 2 to measure")
            return
        request = fired.run_requests[0]
        config = request.run_config["ops"]["lap_time_model"]["config"]
        if not full:
            config = config | {"incremental_trees": 15}
        retrained = definitions.resolve_job_def("train_model_job").execute_in_process(
            instance=instance, tags=request.tags, run_config={"ops": {"lap_time_model": {"config": config}}}
        )
        gated = time.perf_counter()
        meta = {
            m.asset_key.to_user_string(): m.materialization.metadata
            for m in retrained.get_asset_materialization_events()
        }
        decision = meta["champion_model"]
        print(
            f"   retraining: {meta['lap_time_model']['retrain_mode'].value}, "
            f"{meta['lap_time_model']['training_seconds'].value:.1f} s of training"
        )
        print(f"   gate: {decision['reason'].value}")
        if not decision["promoted"].value:
            print(
                f"2. drift alert -> gate decision, not promoted: {gated - alerted:.1f} s (sensor, retraining and "
                f"gate); no new champion to serve"
            )
            return
        new = decision["champion_version"].value
        ham = standardize(raw).laps.filter(pl.col("driver") == "HAM")
        probe = {
            "laps": [
                request_for(ham, 3, season=ref.season, event=ref.event_name, session=ref.session_name).model_dump(
                    mode="json"
                )
            ]
        }
        while time.perf_counter() - gated < 120:
            if client.post("/predict", json=probe).json()[0]["model_version"] == new:
                break
            time.sleep(0.2)
        serving = time.perf_counter()
        print(
            f"2. drift alert -> new champion v{new} serving: {serving - alerted:.1f} s "
            f"(sensor, retraining and gate {gated - alerted:.1f} s, swap seen {serving - gated:.1f} s); budget 180 s"
        )
    alerts.stop()


if __name__ == "__main__":
    main(full="--full" in sys.argv[1:])
