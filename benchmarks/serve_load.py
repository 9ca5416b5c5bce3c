"""Latency and throughput of the real prediction service, serving the champion of `make run`.

Starts the service on a free port (keys, prediction log and live folder in a temporary folder,
so the project's own are untouched), lands three real races whole in its live folder, then
sends real laps: single-lap requests at concurrency 1, 8 and 32 (30 s each, every request a
different lap), and 1000-lap batches. Two kinds of single-lap requests, level by level: laps of
the landed races (`session`: features from the session's state) and laps of three other races
(`request`: no state, the request alone). With `--baseline REF`, the service as it was at that
git commit (a temporary worktree, the same virtual environment and champion) answers the landed
races' laps too, level by level in the same run.

The load generator (aiohttp, one process) runs on the same machine and shares its cores. Beside
the latencies it prints, from the service's own metrics, the laps predicted together per batch,
the time a batch took, its state lookup (reading the sessions' states, with what landed since)
and its features.

With `--floor` it measures benchmarks/serve_floor.py instead (same contract and workers, no work
of its own), single-lap requests only: the latency BentoML and the load generator cost here.

    .venv/bin/python benchmarks/serve_load.py [--seconds 30] [--concurrency 1,8,32] [--baseline REF] [--floor]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from f1_core import registry, settings, warehouse  # noqa: E402
from f1_core import replay as playback  # noqa: E402
from f1_core.api_keys import KeyStore  # noqa: E402
from f1_core.live import request_for  # noqa: E402
from f1_core.sources.archive import ArchiveSource  # noqa: E402
from f1_serving.local import LocalService  # noqa: E402


def archive_races(count: int = 6) -> list[str]:
    """The most recent races of the warehouse that the archive holds (their source rows can land)."""
    archived = {ref.key for ref in ArchiveSource(settings.archive_dir()).catalog()}
    sessions = warehouse.query(
        settings.warehouse_path(),
        "SELECT session_key FROM sessions WHERE session_type = 'race' ORDER BY event_date DESC",
    )["session_key"].to_list()
    return [key for key in sessions if key in archived][:count]


def real_requests(keys: list[str], limit: int = 3000) -> list[dict]:
    """One request per lap (from lap 2) of these warehouse sessions, as a live client sends it."""
    path = settings.warehouse_path()
    requests = []
    for key in keys:
        session = warehouse.query(path, "SELECT * FROM sessions WHERE session_key = ?", [key]).row(0, named=True)
        laps = warehouse.query(path, "SELECT * FROM laps WHERE session_key = ?", [key])
        weather = warehouse.query(path, "SELECT * FROM weather WHERE session_key = ? ORDER BY session_time_s", [key])
        total = int(laps["lap_number"].max())
        for _driver, rows in laps.group_by(["driver"]):
            # laps an older contract takes too (it needed a compound and a tyre life)
            asked = rows.filter(
                (pl.col("lap_number") > 1)
                & pl.col("lap_start_time_s").is_not_null()
                & pl.col("compound").is_not_null()
                & pl.col("tyre_life").is_not_null()
            )
            for lap_number, start in asked.select("lap_number", "lap_start_time_s").iter_rows():
                before = weather.filter(pl.col("session_time_s") <= start)
                requests.append(
                    request_for(
                        rows,
                        lap_number,
                        season=session["season"],
                        event=session["event_name"],
                        session=session["session_name"],
                        total_laps=total,
                        reading=before.row(-1, named=True) if before.height else None,
                    ).model_dump(mode="json")
                )
    rng = np.random.default_rng(7)
    return [requests[i] for i in rng.permutation(len(requests))[:limit]]


def land(keys: list[str], live_dir: Path) -> None:
    """The sessions' source rows, whole, in a live folder: the service's state holds them."""
    for key in keys:
        ref, raw = playback.load(settings.archive_dir(), key)
        folder = playback.LiveFolder(live_dir, ref, raw)
        folder.land(folder.laps_path, raw.laps)
        if raw.weather is not None:
            folder.land(folder.weather_path, raw.weather)


def landed_environment(tmp: Path, keys: list[str]) -> tuple[dict[str, str], str]:
    """A service's environment in the folder `tmp` (its keys, prediction log, and a live folder
    where these sessions landed whole), and a viewer key for it."""
    api_keys = tmp / "api_keys.json"
    _, key = KeyStore(api_keys).create("viewer", "benchmark")
    land(keys, tmp / "live")
    return {
        "F1_API_KEYS": str(api_keys),
        "F1_PREDICTION_LOG": str(tmp / "prediction_log"),
        "F1_LIVE_DIR": str(tmp / "live"),
    }, key


@contextmanager
def baseline_service(ref: str | None, tmp: Path, env: dict):
    """The service as it was at git commit `ref`, or None."""
    if ref is None:
        yield None
        return
    tree = tmp / "baseline"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(tree), ref], cwd=settings.PROJECT_ROOT, check=True
    )
    try:
        with LocalService(
            {**env, "PYTHONPATH": str(tree), "F1_DATA_DIR": str(settings.data_dir())},
            log_path=tmp / "baseline.log",
            cwd=tree,
        ) as service:
            yield service
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=settings.PROJECT_ROOT, check=True)


async def load(url: str, key: str, bodies: list[dict], concurrency: int, seconds: float) -> dict:
    import aiohttp

    latencies, errors, index = [], 0, 0
    encoded = [json.dumps(body).encode() for body in bodies]  # the client's JSON is not measured
    deadline = time.perf_counter() + seconds

    async def worker(session):
        nonlocal errors, index
        while time.perf_counter() < deadline:
            body = encoded[index % len(encoded)]
            index += 1
            started = time.perf_counter()
            async with session.post(f"{url}/predict", data=body) as answer:
                await answer.read()
                if answer.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    split = []

    async def count_connections():  # once every connection is open
        await asyncio.sleep(min(1.0, seconds / 2))
        split.append(connections_per_worker(int(url.rsplit(":", 1)[1])))

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        began = time.perf_counter()
        await asyncio.gather(count_connections(), *(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    ms = np.array(latencies) * 1000
    return {
        "requests": len(ms),
        "errors": errors,
        "rps": len(ms) / elapsed,
        "split": split[0],
        "p50": np.percentile(ms, 50),
        "p95": np.percentile(ms, 95),
        "p99": np.percentile(ms, 99),
    }


def connections_per_worker(port: int) -> str:
    """How the client's connections fell on the service's workers, e.g. "5/3": a worker accepts
    every connection waiting when it wakes, and one holding most of them does most of the work."""
    import psutil

    owners: dict[int, int] = {}
    for connection in psutil.net_connections(kind="tcp"):
        if connection.laddr and connection.laddr.port == port and connection.status == psutil.CONN_ESTABLISHED:
            owners[connection.pid] = owners.get(connection.pid, 0) + 1
    if not owners or None in owners:  # another user's processes: psutil cannot name them
        return "?"
    return "/".join(str(n) for n in sorted(owners.values(), reverse=True))


def batch_totals(url: str) -> dict[str, float]:
    """The service's own counters of batches (Prometheus, summed over its workers)."""
    wanted = (
        "f1_batch_laps_sum",
        "f1_batch_laps_count",
        "f1_batch_seconds_sum",
        "f1_feature_seconds_sum",
        "f1_state_seconds_sum",
    )
    totals = dict.fromkeys(wanted, 0.0)
    for line in httpx.get(f"{url}/metrics").text.splitlines():
        name, _, value = line.partition(" ")
        if name in totals:
            totals[name] += float(value)
    return totals


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated levels")
    parser.add_argument("--baseline", metavar="REF", help="also measure the service at this git commit")
    parser.add_argument("--floor", action="store_true", help="measure benchmarks/serve_floor.py")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    if args.floor:
        return floor(args.seconds, levels)
    champion = registry.version_of(registry.CHAMPION)
    if champion is None:
        sys.exit("no champion in the registry: run `make run` first")
    races = archive_races()
    live, alone = races[:3], races[3:]
    landed, unlanded = real_requests(live), real_requests(alone)
    print(
        f"champion v{champion}; {len(landed)} laps of {', '.join(live)} (landed) and {len(unlanded)} of "
        f"{', '.join(alone)}; workers={os.environ.get('F1_SERVING_WORKERS', '2 (default)')}, cpus={os.cpu_count()}"
    )
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        env, key = landed_environment(tmp, live)
        with (
            LocalService(env, log_path=tmp / "service.log") as service,
            baseline_service(args.baseline, tmp, env) as before,
        ):
            variants = [("session", service, landed), ("request", service, unlanded)]
            if before is not None:
                variants.append(("baseline", before, landed))
            for _, server, requests in variants:  # warm-up, not reported
                asyncio.run(load(server.url, key, [{"laps": [r]} for r in requests], 4, 3.0))
            print(
                f"{'single-lap requests':<24} {'requests':>8} {'errors':>6} {'req/s':>7} "
                f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'laps/batch':>10} {'batch ms':>8} {'state ms':>8} "
                f"{'features ms':>11} {'conns/worker':>12}"
            )
            for concurrency in levels:
                for label, server, requests in variants:
                    before_totals = batch_totals(server.url)
                    r = asyncio.run(load(server.url, key, [{"laps": [r]} for r in requests], concurrency, args.seconds))
                    d = {k: v - before_totals[k] for k, v in batch_totals(server.url).items()}
                    batches = max(d["f1_batch_laps_count"], 1)
                    state = "-" if server is not service else f"{d['f1_state_seconds_sum'] / batches * 1000:.3f}"
                    print(
                        f"{label + ' c=' + str(concurrency):<24} {r['requests']:>8} {r['errors']:>6} "
                        f"{r['rps']:>7.1f} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['p99']:>7.1f} "
                        f"{d['f1_batch_laps_sum'] / batches:>10.1f} {d['f1_batch_seconds_sum'] / batches * 1000:>8.2f} "
                        f"{state:>8} {d['f1_feature_seconds_sum'] / batches * 1000:>11.2f} {r['split']:>12}"
                    )
            if not args.batches:
                return
            # every batch a different window of the landed races' laps, wrapping round
            batch = [{"laps": [landed[(i * 1000 + j) % len(landed)] for j in range(1000)]} for i in range(args.batches)]
            times, errors = [], 0
            with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=120) as client:
                for body in batch:
                    started = time.perf_counter()
                    answer = client.post(f"{service.url}/predict", json=body)
                    times.append(time.perf_counter() - started)
                    errors += answer.status_code != 200 or len(answer.json()) != 1000
            ms = np.array(times) * 1000
            print(
                f"1000-lap batches (session): {len(ms)} requests, {errors} errors, p50 {np.percentile(ms, 50):.0f} ms, "
                f"max {ms.max():.0f} ms, {1000 / np.median(times):.0f} laps/s"
            )


def floor(seconds: float, levels: list[int]) -> None:
    requests = real_requests(archive_races(3))
    print(
        f"serve_floor.py (no auth, features, model or log); {len(requests)} distinct real laps; "
        f"workers={os.environ.get('F1_SERVING_WORKERS', '2 (default)')}, cpus={os.cpu_count()}"
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalService(log_path=Path(tmp) / "service.log", target="benchmarks.serve_floor:Floor") as service,
    ):
        singles = [{"laps": [r]} for r in requests]
        asyncio.run(load(service.url, "none", singles, 4, 3.0))  # warm-up, not reported
        print(
            f"{'single-lap requests':<22} {'requests':>8} {'errors':>6} {'req/s':>7} "
            f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'conns/worker':>12}"
        )
        for concurrency in levels:
            r = asyncio.run(load(service.url, "none", singles, concurrency, seconds))
            print(
                f"{'concurrency ' + str(concurrency):<22} {r['requests']:>8} {r['errors']:>6} "
                f"{r['rps']:>7.1f} {r['p50']:>7.1f} {r['p95']:>7.1f} {r['p99']:>7.1f} {r['split']:>12}"
            )


if __name__ == "__main__":
    main()
