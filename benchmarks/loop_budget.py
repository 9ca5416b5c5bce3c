"""The closed loop's time budgets, measured on real data in a temporary folder:

1. from the moment the last lap of a drifted session lands to the drift alert (ingestion of the
   session, its drift report, the webhook): budget 60 s;
2. from the alert to the new champion serving (sensor, retraining with its gate, the service's
   swap): budget 3 minutes.

The scenario is tests/test_closed_loop.py's: a quick champion of four 2023 races serves, the
2021 Saudi Arabian qualifying is replayed through the service, and the drift-launched retraining
(15 LightGBM trees, 2-fold CV) is promoted. Each step runs as the daemon would run it, in this
process (Dagster's in-process executor), so the figures hold no daemon polling delay; the sensor
ticks every 15 s and the eager automation every 30 s by default, which a deployment adds.

    .venv/bin/python benchmarks/loop_budget.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUALIFYING = "2021-21-saudi-arabian-grand-prix-qualifying"


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="f1-loop-"))
    os.environ.update({"F1_DATA_DIR": str(tmp / "data"), "F1_WAREHOUSE": str(tmp / "data" / "warehouse.duckdb"),
                       "DAGSTER_HOME": str(tmp / "dagster_home"), "MLFLOW_LOGGING_LEVEL": "WARNING",
                       "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"})
    (tmp / "dagster_home").mkdir()
    alerts: list[tuple[float, dict]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            alerts.append((time.perf_counter(), json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    os.environ["F1_ALERT_WEBHOOK_URL"] = f"http://127.0.0.1:{hook.server_port}/"

    import dagster as dg
    import httpx
    import mlflow
    import polars as pl

    from f1_assets.definitions import defs
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

    source = ArchiveSource(settings.archive_dir())
    for ref in source.catalog([2023]):
        if ref.round <= 4:
            s = standardize(source.load(ref))
            warehouse.replace_session(settings.warehouse_path(), ref.key, {
                "sessions": s.session, "laps": s.laps, "weather": s.weather, "quarantine": s.quarantine})
    early = train_and_evaluate(training_frame(*load_warehouse(settings.warehouse_path())),
                               ModelParams(n_estimators=2, learners=["lightgbm"]), folds=2)
    with mlflow.start_run(experiment_id=registry.ensure_experiment()):
        first = registry.log_model(early.model, early.holdout.head(20))
        registry.log_reference(reference_sample(early.cross_validated))
        mlflow.log_metrics({k: v for k, v in early.metrics.items() if k.startswith("holdout_mae")})
        mlflow.set_tag("train_events", ",".join(early.train_events))
    registry.promotion_gate(first, early.holdout, 1e9, 0.02, 0.01)
    _, key = KeyStore(settings.api_keys_path()).create("viewer")
    definitions = defs()
    instance = dg.DagsterInstance.get()

    with LocalService({"F1_SERVING_POLL_SECONDS": "2"}, log_path=tmp / "service.log") as service, \
            httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client:
        ref, raw = replay.load(settings.archive_dir(), QUALIFYING)
        state = replay.replay(ref, raw, settings.live_dir(), lambda laps: client.post("/predict", json={"laps": laps}).json(),
                              speed=20000)
        landed = time.perf_counter()
        print(f"replayed {state.laps_played} laps of {QUALIFYING}; live MAE {state.live_mae:.3f} s with champion v{first}")

        ingest = definitions.resolve_job_def("ingest_session_job")
        from f1_assets.defs.ingestion.partitions import session_partitions

        instance.add_dynamic_partitions(session_partitions.name, [QUALIFYING])
        assert ingest.execute_in_process(partition_key=QUALIFYING, instance=instance).success
        ingested = time.perf_counter()
        assert definitions.resolve_job_def("drift_job").execute_in_process(instance=instance).success
        alerted = next(t for t, a in alerts if a["details"]["session_key"] == QUALIFYING)
        print(f"1. last lap landed -> drift alert: {alerted - landed:.1f} s "
              f"(ingestion {ingested - landed:.1f} s, drift report and alert {alerted - ingested:.1f} s); budget 60 s")

        fired = drift_retraining_sensor(dg.build_sensor_context(
            instance=instance, resources={"warehouse": WarehouseResource()}))
        request = fired.run_requests[0]
        retrained = definitions.resolve_job_def("train_model_job").execute_in_process(
            instance=instance, tags=request.tags, run_config={"ops": {"lap_time_model": {"config": {
                "n_estimators": 15, "learners": ["lightgbm"], "cv_folds": 2}}}})
        gated = time.perf_counter()
        decision = {m.asset_key.to_user_string(): m.materialization.metadata
                    for m in retrained.get_asset_materialization_events()}["champion_model"]
        print(f"   gate: {decision['reason'].value}")
        new = decision["champion_version"].value
        ham = standardize(raw).laps.filter(pl.col("driver") == "HAM")
        probe = {"laps": [request_for(ham, 3, season=ref.season, event=ref.event_name,
                                      session=ref.session_name).model_dump(mode="json")]}
        while time.perf_counter() - gated < 120:
            if client.post("/predict", json=probe).json()[0]["model_version"] == new:
                break
            time.sleep(0.2)
        serving = time.perf_counter()
        print(f"2. drift alert -> new champion v{new} serving: {serving - alerted:.1f} s "
              f"(sensor, retraining and gate {gated - alerted:.1f} s, swap seen {serving - gated:.1f} s); budget 180 s")
    hook.shutdown()


if __name__ == "__main__":
    main()
