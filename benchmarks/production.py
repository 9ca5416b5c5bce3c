"""The production profile against the embedded default, measured in one run on this machine.

1. Ingestion of every archive session, by two `f1 run --skip-training` clients at once (half the
   sessions each, as two engineers or a backfill and a live session would): embedded (SQLite
   instance, SQLite-catalog warehouse, steps in each run's process) against the profile's
   PostgreSQL instance and catalog with its steps on 1 and on 2 celery workers (RabbitMQ).
   Meanwhile this process queries the warehouse every 0.2 s, as an analyst would: the latency of
   each query while the writers write.
2. Single-lap requests at concurrency 1 and 8 to one service directly against two replicas
   behind HAProxy sharing Redis (the champion of `make run`, three races landed in the live
   folder).

    .venv/bin/python benchmarks/production.py [--sessions N] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from f1_core import lake, registry, settings, warehouse  # noqa: E402
from f1_core.sources.archive import ArchiveSource  # noqa: E402
from f1_production import postgres  # noqa: E402
from f1_production.balancer import Balancer  # noqa: E402
from f1_production.celery_worker import CeleryWorker, delete_queue  # noqa: E402
from f1_serving.local import LocalService  # noqa: E402

QUERY = "SELECT session_key, count(*) AS laps, avg(lap_time_s) AS mean_lap_s FROM laps GROUP BY 1"


def scenario_env(tmp: Path, workers: int, databases: dict[str, str]) -> dict[str, str]:
    env = {
        **os.environ,
        "F1_SOURCES": "archive",
        "F1_DATA_DIR": str(tmp / "data"),
        "F1_WAREHOUSE": str(tmp / "data" / "warehouse"),
    }
    for name in ("F1_PROFILE", "F1_WAREHOUSE_CATALOG", "F1_EXECUTOR", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    home = tmp / "dagster_home"
    home.mkdir()
    if not workers:  # the embedded default
        shutil.copy(settings.dagster_home("default") / "dagster.yaml", home)
        return {**env, "DAGSTER_HOME": str(home)}
    shutil.copy(settings.dagster_home("postgres") / "dagster.yaml", home)
    return {
        **env,
        "DAGSTER_HOME": str(home),
        **postgres.dagster_environment(databases["dagster"]),
        "F1_WAREHOUSE_CATALOG": f"postgres:{postgres.conninfo(databases['warehouse'])}",
        "F1_EXECUTOR": "celery",
        "F1_CELERY_QUEUE": f"f1-bench-{uuid.uuid4().hex[:8]}",
    }


class Analyst(threading.Thread):
    """Queries the warehouse every 0.2 s until stopped; each query's latency."""

    def __init__(self, folder: str):
        super().__init__(daemon=True)
        self.folder, self.latencies, self.errors = folder, [], []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            started = time.perf_counter()
            try:
                warehouse.query(self.folder, QUERY)
                self.latencies.append(time.perf_counter() - started)
            except Exception as exc:  # counted and shown, never hidden
                self.errors.append(repr(exc))
            self.done.wait(0.2)


def ingest(label: str, workers: int, keys: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as name, ExitStack() as stack:
        tmp = Path(name)
        databases = {part: f"f1_bench_{uuid.uuid4().hex[:8]}_{part}" for part in ("dagster", "warehouse")}
        if workers:
            for database in databases.values():
                postgres.ensure_database(database)
                stack.callback(postgres.drop_database, database)
        env = scenario_env(tmp, workers, databases)
        # this process's analyst reads the scenario's warehouse
        os.environ.pop("F1_WAREHOUSE_CATALOG", None)
        os.environ.update({k: v for k, v in env.items() if k == "F1_WAREHOUSE_CATALOG"})
        warehouse.ensure_tables(env["F1_WAREHOUSE"])  # the analyst's tables exist from the start
        for number in range(1, workers + 1):
            stack.enter_context(CeleryWorker(env, name=f"bench-{number}", log_path=tmp / f"worker{number}.log"))
        if workers:
            stack.callback(delete_queue, env["F1_CELERY_QUEUE"])
        analyst = Analyst(env["F1_WAREHOUSE"])
        analyst.start()
        started = time.perf_counter()
        clients = [
            subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "f1"),
                    "run",
                    "--skip-training",
                    *[arg for key in half for arg in ("--session", key)],
                ],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for half in (keys[0::2], keys[1::2])
        ]
        outputs = [client.communicate()[0] for client in clients]
        wall = time.perf_counter() - started
        analyst.done.set()
        analyst.join()
        failed = [out[-2000:] for client, out in zip(clients, outputs, strict=True) if client.returncode]
        if failed:
            raise SystemExit(f"{label}: an f1 run failed:\n" + "\n".join(failed))
        stored = warehouse.query(env["F1_WAREHOUSE"], "SELECT count(*) AS n FROM sessions")["n"][0]
        lake.close_all()
    os.environ.pop("F1_WAREHOUSE_CATALOG", None)
    ms = np.array(analyst.latencies) * 1000
    return {
        "label": label,
        "sessions": stored,
        "wall": wall,
        "queries": len(ms),
        "errors": len(analyst.errors),
        "p50": np.percentile(ms, 50),
        "p95": np.percentile(ms, 95),
        "max": ms.max(),
    }


def serving(seconds: float) -> list[tuple]:
    from benchmarks.serve_load import archive_races, landed_environment, load, real_requests

    if registry.version_of(registry.CHAMPION) is None:
        raise SystemExit("no champion in the registry: run `make run` first")
    races = archive_races(3)
    requests = [{"laps": [request]} for request in real_requests(races)]
    rows = []
    with tempfile.TemporaryDirectory() as name, ExitStack() as stack:
        tmp = Path(name)
        env, key = landed_environment(tmp, races)
        direct = stack.enter_context(LocalService(env, log_path=tmp / "direct.log"))
        shared = {
            **env,
            "F1_ONLINE_STORE": "redis://127.0.0.1:6379/0",
            "F1_ONLINE_STORE_PREFIX": f"f1:bench-{uuid.uuid4().hex[:8]}:",
        }
        replicas = [stack.enter_context(LocalService(shared, log_path=tmp / f"replica{n}.log")) for n in (1, 2)]
        balancer = stack.enter_context(
            Balancer([f"127.0.0.1:{r.port}" for r in replicas], log_path=tmp / "haproxy.log")
        )
        targets = [("one service, directly", direct.url), ("2 replicas behind HAProxy", balancer.url)]
        for _, url in targets:  # warm-up, not reported
            asyncio.run(load(url, key, requests, 4, 3.0))
        for concurrency in (1, 8):
            for label, url in targets:
                result = asyncio.run(load(url, key, requests, concurrency, seconds))
                rows.append((f"{label}, c={concurrency}", result))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=None, help="the first N archive sessions (default: all)")
    parser.add_argument("--seconds", type=float, default=15.0, help="of each serving load level")
    args = parser.parse_args()
    keys = sorted(ref.key for ref in ArchiveSource(settings.archive_dir()).catalog())[: args.sessions]
    print(f"{len(keys)} archive sessions, 2 f1 run clients at once; cpus={os.cpu_count()}")
    print(
        f"{'ingestion':<44} {'sessions':>8} {'wall s':>7} {'s/session':>9} "
        f"{'queries':>7} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}"
    )
    for label, workers in (
        ("embedded (SQLite, steps in the run)", 0),
        ("production, 1 celery worker", 1),
        ("production, 2 celery workers", 2),
    ):
        r = ingest(label, workers, keys)
        print(
            f"{r['label']:<44} {r['sessions']:>8} {r['wall']:>7.1f} {r['wall'] / r['sessions']:>9.2f} "
            f"{r['queries']:>7} {r['errors']:>6} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['max']:>7.1f}",
            flush=True,
        )
    print(
        f"\n{'single-lap requests':<44} {'requests':>8} {'errors':>6} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7}"
    )
    for label, r in serving(args.seconds):
        print(
            f"{label:<44} {r['requests']:>8} {r['errors']:>6} {r['rps']:>7.1f} {r['p50']:>7.1f} "
            f"{r['p95']:>7.1f} {r['p99']:>7.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
