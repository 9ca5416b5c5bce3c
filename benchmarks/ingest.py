"""Ingestion speed and memory: every archive session from cold, then one session again.

Each scenario runs in its own child process so its peak RSS is its own. Two paths are measured:
`pipeline` (the Dagster job, one run per session, as `make run` does) and `library` (the same
source → standardize → warehouse code with no orchestration), to show what Dagster adds.

    .venv/bin/python benchmarks/ingest.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONE = "2023-16-japanese-grand-prix-race"


def library(keys: list[str] | None) -> int:
    from f1_core import settings, warehouse
    from f1_core.sources import SessionCatalog, build_source
    from f1_core.standardize import standardize

    catalog = SessionCatalog([build_source("archive")])
    sessions = catalog.sessions()
    for key in keys or sorted(sessions):
        source, ref = sessions[key]
        standard = standardize(source.load(ref))
        warehouse.replace_session(
            settings.warehouse_path(),
            key,
            {
                "sessions": standard.session,
                "laps": standard.laps,
                "weather": standard.weather,
                "quarantine": standard.quarantine,
            },
        )
    return len(keys or sessions)


def pipeline(keys: list[str] | None) -> int:
    import dagster as dg

    from f1_assets.definitions import defs
    from f1_core.sources import SessionCatalog, build_source

    keys = keys or sorted(SessionCatalog([build_source("archive")]).sessions())
    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions("sessions", keys)
    job = defs().resolve_job_def("ingest_session_job")
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    for key in keys:
        assert job.execute_in_process(partition_key=key, instance=instance, run_config=quiet).success, key
    return len(keys)


def child(path: str, keys: str) -> None:
    # imports are start-up, not ingestion: load them before the clock starts
    import f1_core.standardize  # noqa: F401
    import f1_core.warehouse  # noqa: F401

    if path == "pipeline":
        import f1_assets.definitions  # noqa: F401
    started = time.perf_counter()
    count = {"library": library, "pipeline": pipeline}[path](keys.split(",") if keys else None)
    print(json.dumps({"seconds": time.perf_counter() - started, "sessions": count}))


def measure(path: str, keys: str, env: dict) -> dict:
    """Runs one scenario in a child process; its own peak RSS comes from wait4."""
    started = time.perf_counter()
    child_process = subprocess.Popen(
        [sys.executable, __file__, "--child", path, keys], env=env, stdout=subprocess.PIPE, text=True
    )
    out = child_process.stdout.read()
    _, status, usage = os.wait4(child_process.pid, 0)
    child_process.returncode = os.waitstatus_to_exitcode(status)
    if child_process.returncode:
        raise SystemExit(f"scenario {path} {keys or 'all'} failed")
    result = json.loads(out.strip().splitlines()[-1])
    result.update(wall=time.perf_counter() - started, peak_mib=usage.ru_maxrss / 1024)
    return result


def main() -> None:
    print("work s: ingestion only; wall s: the whole child process, start-up included")
    print(f"{'scenario':<58} {'sessions':>8} {'work s':>8} {'wall s':>8} {'peak RSS MiB':>13}")
    for path in ("library", "pipeline"):
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "dagster_home"
            home.mkdir()
            shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home)
            env = {
                **os.environ,
                "F1_SOURCES": "archive",
                "F1_DATA_DIR": tmp,
                "F1_WAREHOUSE": str(Path(tmp) / "warehouse"),
                "DAGSTER_HOME": str(home),
            }
            for name, keys in ((f"{path}: all archive sessions, cold", ""), (f"{path}: re-ingest {ONE}", ONE)):
                r = measure(path, keys, env)
                print(f"{name:<58} {r['sessions']:>8} {r['seconds']:>8.2f} {r['wall']:>8.2f} {r['peak_mib']:>13.0f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
    else:
        main()
