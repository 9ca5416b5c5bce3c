"""The closed loop's time budgets under the real Dagster daemon, with nothing run by hand:

1. the last lap of a drifted session lands in the live folder -> the drift alert reaches the
   webhook (live_session_sensor ingests it, monitoring_automation runs drift_reports): budget 60 s;
2. the alert -> the service answers with a new champion (drift_retraining_sensor launches the
   retraining, the gate promotes, the service's watcher swaps): budget 3 minutes.

Setup (not timed), in a temporary folder: the first four 2023 races ingested and a quick champion
trained through the Dagster jobs (two LightGBM trees, 2-fold CV, so the sensor's incremental
retraining has much to gain), the service started, and `dagster-daemon run` started with the
project's dagster.yaml and only the live source configured. Then the 2021 Saudi Arabian qualifying
is replayed through the service with no ingestion of its own (`f1 replay --no-ingest`): from then
on only the daemon acts. Every run is a new process, and every sensor ticks on its own interval.

    .venv/bin/python benchmarks/loop_daemon.py
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.loop_budget import QUALIFYING  # noqa: E402
from f1_core.alerts import AlertReceiver  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="f1-daemon-"))
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    alerts = AlertReceiver().start()
    os.environ.update(
        {
            "F1_DATA_DIR": str(tmp / "data"),
            "F1_WAREHOUSE": str(tmp / "data" / "warehouse"),
            "DAGSTER_HOME": str(home),
            "F1_ALERT_WEBHOOK_URL": alerts.url,
            "MLFLOW_LOGGING_LEVEL": "WARNING",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        }
    )

    import dagster as dg
    import httpx
    import polars as pl

    from f1_assets.definitions import defs
    from f1_assets.defs.ingestion.partitions import session_partitions
    from f1_core import registry, replay, settings
    from f1_core.api_keys import KeyStore
    from f1_core.live import request_for
    from f1_core.sources.archive import ArchiveSource
    from f1_core.standardize import standardize
    from f1_serving.local import LocalService

    definitions = defs()
    instance = dg.DagsterInstance.get()
    keys = [ref.key for ref in ArchiveSource(settings.archive_dir()).catalog([2023]) if ref.round <= 4]
    instance.add_dynamic_partitions(session_partitions.name, keys)
    for key in keys:
        assert (
            definitions.resolve_job_def("ingest_session_job")
            .execute_in_process(partition_key=key, instance=instance)
            .success
        ), key
    assert (
        definitions.resolve_job_def("train_model_job")
        .execute_in_process(
            instance=instance,
            run_config={
                "ops": {"lap_time_model": {"config": {"n_estimators": 2, "learners": ["lightgbm"], "cv_folds": 2}}}
            },
        )
        .success
    )
    first = registry.version_of(registry.CHAMPION)
    # as after `make run`, the sessions already ingested have their drift reports
    assert definitions.resolve_job_def("drift_job").execute_in_process(instance=instance).success
    drifted = [a["details"]["session_key"] for a in alerts.bodies()]
    alerts.received.clear()
    _, key = KeyStore(settings.api_keys_path()).create("viewer")
    print(
        f"setup: {len(keys)} races ingested, champion v{first}, their drift reports written "
        f"(drifted: {', '.join(drifted) or 'none'})",
        flush=True,
    )

    daemon_log = open(tmp / "daemon.log", "wb")
    daemon = subprocess.Popen(
        [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w", str(PROJECT / "workspace.yaml")],
        cwd=PROJECT,
        env={**os.environ, "F1_SOURCES": "live"},
        stdout=daemon_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with (
            LocalService({"F1_SERVING_POLL_SECONDS": "2"}, log_path=tmp / "service.log") as service,
            httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as client,
        ):
            deadline = time.monotonic() + 120
            while not instance.get_daemon_heartbeats().get("SENSOR") and time.monotonic() < deadline:
                time.sleep(1)
            print("setup: service and daemon up", flush=True)
            ref, raw = replay.load(settings.archive_dir(), QUALIFYING)
            started_at = time.time()
            state = replay.replay(
                ref,
                raw,
                settings.live_dir(),
                lambda laps: client.post("/predict", json={"laps": laps}).json(),
                speed=20000,
            )
            landed = time.perf_counter()
            print(
                f"replayed {state.laps_played} laps of {QUALIFYING} (no ingestion of its own); live MAE "
                f"{state.live_mae:.3f} s with champion v{first}",
                flush=True,
            )
            alerted = wait(lambda: alerts.arrival(QUALIFYING), 300)
            if alerted is None:
                print("no drift alert within 300 s; see", tmp / "daemon.log")
                return
            print(f"1. last lap landed -> drift alert: {alerted - landed:.1f} s; budget 60 s", flush=True)
            ham = standardize(raw).laps.filter(pl.col("driver") == "HAM")
            probe = {
                "laps": [
                    request_for(ham, 3, season=ref.season, event=ref.event_name, session=ref.session_name).model_dump(
                        mode="json"
                    )
                ]
            }
            serving = wait(
                lambda: (
                    time.perf_counter()
                    if client.post("/predict", json=probe).json()[0]["model_version"] != first
                    else None
                ),
                400,
            )
            if serving is None:
                runs = instance.get_runs(dg.RunsFilter(job_name="train_model_job"), limit=3)
                print(
                    f"no new champion within 400 s (retraining runs: {[(r.run_id[:8], r.status.value) for r in runs]})"
                )
                return
            print(
                f"2. drift alert -> new champion v{registry.version_of(registry.CHAMPION)} serving: "
                f"{serving - alerted:.1f} s; budget 180 s"
            )
            print_runs(instance, since=started_at)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
        daemon_log.close()
        alerts.stop()


def print_runs(instance, since: float) -> None:
    """The daemon's runs since the replay began: when each was created (from the replay's start),
    how long it waited in the queue and how long it ran."""
    import dagster as dg

    records = [
        r
        for r in instance.get_run_records(dg.RunsFilter(), limit=50)
        if r.create_timestamp.timestamp() >= since and r.end_time
    ]
    for r in sorted(records, key=lambda r: r.create_timestamp):
        created = r.create_timestamp.timestamp()
        started = r.start_time or created
        print(
            f"   {r.dagster_run.tags.get('dagster/sensor_name', '?'):<24} {r.dagster_run.job_name:<20} "
            f"created at {created - since:6.1f} s, queued {started - created:5.1f} s, "
            f"ran {r.end_time - started:5.1f} s "
            f"({r.dagster_run.status.value.lower()})"
        )


def wait(probe, seconds: float):
    """The first non-None value of probe(), polled every 0.5 s, or None after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (value := probe()) is not None:
            return value
        time.sleep(0.5)
    return None


if __name__ == "__main__":
    main()
