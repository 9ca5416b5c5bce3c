"""How soon a lap landed in the live folder is in the state of every service worker.

Starts the service (its two default workers, nothing else: the embedded store, each worker
reading the live folder itself; with `--redis URL`, both sharing one Redis), then lands the laps
of a real race one row at a time, every `--every` seconds, and reads the service's metrics
every 5 ms: `f1_live_state_laps` holds, per worker (pid), the laps of the session in its state.
Prints, per worker, the delay from the row's write to the first reading that holds it.

    .venv/bin/python benchmarks/live_state.py [--laps 40] [--every 0.25] [--redis redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from f1_core import replay as playback  # noqa: E402
from f1_core import settings
from f1_core.api_keys import KeyStore  # noqa: E402
from f1_serving.local import LocalService  # noqa: E402

SESSION = "2023-16-japanese-grand-prix-race"


def watch(url: str, session_key: str, landed: dict, seen: dict, stop: threading.Event) -> None:
    """Reads the metrics; records when each worker first held each lap count."""
    pattern = re.compile(
        r'^f1_live_state_laps\{(?=[^}]*pid="(\d+)")(?=[^}]*session_key="'
        + re.escape(session_key)
        + r'")[^}]*\} ([0-9.e+]+)$',
        re.MULTILINE,
    )
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            text = client.get(url + "/metrics").text
            now = time.perf_counter()
            for pid, laps in pattern.findall(text):
                for count in range(1, int(float(laps)) + 1):
                    if count in landed:
                        seen.setdefault((int(pid), count), now)
            time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--laps", type=int, default=40)
    parser.add_argument("--every", type=float, default=0.25, help="seconds between two rows")
    parser.add_argument("--redis", metavar="URL", help="share the state in this Redis instead")
    args = parser.parse_args()
    ref, raw = playback.load(settings.archive_dir(), SESSION)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        KeyStore(tmp / "keys.json").create("engineer", "benchmark")
        env = {
            "F1_API_KEYS": str(tmp / "keys.json"),
            "F1_LIVE_DIR": str(tmp / "live"),
            "F1_PREDICTION_LOG": str(tmp / "log"),
        }
        if args.redis:
            env |= {"F1_ONLINE_STORE": args.redis, "F1_ONLINE_STORE_PREFIX": f"f1bench-{time.time_ns()}:"}
        folder = playback.LiveFolder(tmp / "live", ref, raw)
        with LocalService(env, log_path=tmp / "service.log") as service:
            landed, seen, stop = {}, {}, threading.Event()
            watchers = [threading.Thread(target=watch, args=(service.url, ref.key, landed, seen, stop))]
            for thread in watchers:
                thread.start()
            time.sleep(1.0)
            for count in range(1, args.laps + 1):
                folder.land(folder.laps_path, raw.laps[count - 1 : count])
                landed[count] = time.perf_counter()
                time.sleep(args.every)
            time.sleep(1.5)
            stop.set()
            for thread in watchers:
                thread.join()
        if args.redis:  # the benchmark's keys go with it
            import redis

            client = redis.Redis.from_url(args.redis)
            keys = list(client.scan_iter(match=f"{env['F1_ONLINE_STORE_PREFIX']}*"))
            if keys:
                client.delete(*keys)
            client.close()
    workers = sorted({worker for worker, _ in seen})
    store = "redis " + args.redis if args.redis else "memory (each worker reads the folder)"
    print(f"store: {store}; {args.laps} rows of {SESSION}, one every {args.every:g} s; workers {workers}")
    for worker in workers:
        delays = np.array([seen[(worker, n)] - landed[n] for n in landed if (worker, n) in seen]) * 1000
        print(
            f"worker {worker}: {delays.size}/{len(landed)} rows seen, delay p50 {np.percentile(delays, 50):.0f} ms, "
            f"p95 {np.percentile(delays, 95):.0f} ms, max {delays.max():.0f} ms"
        )
    both = [max(seen[(w, n)] for w in workers) - landed[n] for n in landed if all((w, n) in seen for w in workers)]
    print(f"in both workers: {len(both)}/{len(landed)} rows, max {max(both) * 1000:.0f} ms after the write")


if __name__ == "__main__":
    main()
