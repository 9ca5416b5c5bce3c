"""Does an analyst's open connection hold the pipeline up? Archive sessions are written to a new
warehouse, then written again while another process holds a read transaction open the whole
time (a notebook left open mid-query); each write is timed.

    .venv/bin/python benchmarks/warehouse_readers.py [--sessions 10] [--catalog postgres:dbname=...]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _reader(folder: str, opened, done) -> None:
    from f1_core import warehouse

    con = warehouse.open_connection(folder)
    con.execute("BEGIN TRANSACTION")
    con.execute("SELECT count(*) FROM laps").fetchone()
    opened.set()
    done.wait(600)
    con.execute("COMMIT")


def _write_all(folder: Path, sessions: list) -> list[float]:
    from f1_core import warehouse

    seconds = []
    for key, tables in sessions:
        started = time.perf_counter()
        warehouse.replace_session(folder, key, tables)
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--catalog", help="F1_WAREHOUSE_CATALOG for the run (default: the SQLite file)")
    args = parser.parse_args()
    if args.catalog:
        os.environ["F1_WAREHOUSE_CATALOG"] = args.catalog
    from f1_core import lake, warehouse
    from f1_core.sources.archive import ArchiveSource
    from f1_core.standardize import standardize

    source = ArchiveSource(Path(__file__).resolve().parent.parent.parent / "shared" / "f1data" / "archive")
    sessions = []
    for ref in sorted(source.catalog(), key=lambda r: r.key)[: args.sessions]:
        standard = standardize(source.load(ref))
        sessions.append(
            (
                ref.key,
                {
                    "sessions": standard.session,
                    "laps": standard.laps,
                    "weather": standard.weather,
                    "quarantine": standard.quarantine,
                },
            )
        )
    print(
        f"catalog: {'PostgreSQL' if args.catalog else 'SQLite file'}; {len(sessions)} sessions, "
        f"{sum(t['laps'].height for _, t in sessions)} laps"
    )
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        for label in ("nobody reading", "a reader's transaction open throughout"):
            folder = Path(tmp) / "warehouse"  # one lake: a server catalog holds one
            warehouse.replace_session(folder, *sessions[0])  # the first write's one-off costs, untimed
            opened, done = ctx.Event(), ctx.Event()
            reader = ctx.Process(target=_reader, args=(str(folder), opened, done)) if "open" in label else None
            if reader:
                reader.start()
                assert opened.wait(60), "the reader never opened the warehouse"
            try:
                seconds = _write_all(folder, sessions)
            finally:
                done.set()
                if reader:
                    reader.join(60)
            print(
                f"{label:<40} write per session: median {statistics.median(seconds) * 1000:.0f} ms, "
                f"max {max(seconds) * 1000:.0f} ms; all {sum(seconds):.2f} s"
            )
            lake.close_all()


if __name__ == "__main__":
    main()
