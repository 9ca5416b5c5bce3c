"""The service's prediction log: every prediction with the features it was made from, where the
monitoring pipeline reads it without touching the warehouse (whose single writer must not wait
for a service answering in milliseconds).

Each service process appends JSON lines to its own file, `<dir>/<UTC date>/<host>-<pid>.jsonl`,
from a background thread that writes whole lines in one call every `flush_seconds`: requests
never wait on the disk, and no two writers share a file. A reader may meet the line being
written last; `read` skips a line that does not parse and gets it on the next read.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from f1_core.model import SINGLE_THREAD_ROWS

logger = logging.getLogger(__name__)


class PredictionLog:
    def __init__(self, directory: Path, flush_seconds: float = 0.5, schema: dict | None = None):
        """`schema`: the fields logged of rows appended as dicts, with their types."""
        self.directory = Path(directory)
        self.flush_seconds = flush_seconds
        self.schema = schema or {}
        self._pending: list[tuple[pl.DataFrame | list[dict], dict, tuple | None]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def append(
        self,
        rows: pl.DataFrame | list[dict],
        columns: dict[str, list] | None = None,
        shadow: tuple[str, Any] | None = None,
    ) -> None:
        """One row per prediction, as a frame or as dicts (their `schema` fields are logged);
        NaN and infinities are logged as null (JSON has neither). `columns`: more columns, as
        lists of one value per row. `shadow`: (version, model) whose point prediction from these
        rows' features is logged beside them as `shadow_lap_time`. Rows, columns and shadow
        predictions are made into one frame when the log is written, for all the requests since
        the last write at once: off the request path, and cheaper than per request."""
        if not isinstance(rows, pl.DataFrame) and not self.schema:
            raise ValueError("rows as dicts need the log's schema: the fields to log and their types")
        columns = columns or {}
        wrong = [name for name, values in columns.items() if len(values) != len(rows)]
        if wrong:  # caught here, where the caller can be named, not when the log is written
            raise ValueError(f"columns {wrong} do not hold one value per row ({len(rows)})")
        with self._lock:
            self._pending.append((rows, columns, shadow))

    def flush(self) -> None:
        with self._lock:
            frames, self._pending = self._pending, []
        if not frames:
            return
        try:
            rows = pl.concat(
                [_with_shadow(group, shadow) for group, shadow in _groups(frames, self.schema)], how="diagonal_relaxed"
            )
        except Exception:  # a bug here must not stop the thread: later requests are still logged
            logger.exception("prediction log: could not make %d requests' records", len(frames))
            return
        rows = rows.with_columns(
            pl.when(pl.col(c).is_finite()).then(pl.col(c)).alias(c)
            for c, dtype in rows.schema.items()
            if dtype.is_float()
        )
        now = datetime.now(UTC)
        path = self.directory / now.strftime("%Y-%m-%d") / f"{socket.gethostname()}-{os.getpid()}.jsonl"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("ab") as handle:  # one write of whole lines
                handle.write(rows.write_ndjson().encode())
        except OSError:
            # the predictions were answered; losing their log is bad but must not stop serving
            logger.exception("prediction log: could not write %d records to %s", rows.height, path)

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()


def _groups(
    entries: list[tuple[pl.DataFrame | list[dict], dict, tuple | None]], schema: dict
) -> list[tuple[pl.DataFrame, tuple | None]]:
    """Entries with the same kind of rows, shadow and extra columns, as one frame each."""
    groups: dict[tuple, tuple[list, dict, tuple | None]] = {}
    for rows, columns, shadow in entries:
        framed = isinstance(rows, pl.DataFrame)
        parts, merged, _ = groups.setdefault(
            (framed, id(shadow[1]) if shadow else 0, *columns), ([], {name: [] for name in columns}, shadow)
        )
        if framed:
            parts.append(rows)
        else:  # dicts: one frame for all of them
            parts.extend(rows)
        for name, values in columns.items():
            merged[name].extend(values)
    return [
        (_frame(parts, schema).hstack(pl.DataFrame(merged, strict=False)), shadow)
        for parts, merged, shadow in groups.values()
    ]


def _frame(parts: list, schema: dict) -> pl.DataFrame:
    if parts and isinstance(parts[0], pl.DataFrame):
        return pl.concat(parts, how="diagonal_relaxed")
    return pl.DataFrame(parts, schema=schema, orient="row")


def _with_shadow(rows: pl.DataFrame, shadow: tuple | None) -> pl.DataFrame:
    version, prediction = None, pl.lit(None, pl.Float64)
    if shadow is not None:
        try:
            # in slices small enough for the boosters' single thread: this thread must not take
            # every core from the requests being answered
            prediction = pl.concat(
                [
                    shadow[1].predict(part, interval=False)["lap_time"]
                    for part in rows.iter_slices(SINGLE_THREAD_ROWS - 1)
                ]
            )
            version = shadow[0]
        except Exception:  # the champion's predictions are logged whatever its shadow does
            logger.exception("prediction log: shadow v%s could not predict %d laps", shadow[0], rows.height)
    return rows.with_columns(prediction.alias("shadow_lap_time"), pl.lit(version, pl.String).alias("shadow_version"))


def read(directory: Path) -> pl.DataFrame:
    """Every logged prediction (empty when none was logged yet)."""
    import duckdb

    files = sorted(Path(directory).glob("*/*.jsonl"))
    if not files:
        return pl.DataFrame()
    with duckdb.connect() as connection:
        return connection.sql(
            "SELECT * FROM read_json(?, format='newline_delimited', union_by_name=true, "
            "ignore_errors=true) WHERE logged_at IS NOT NULL",
            params=[[str(f) for f in files]],
        ).pl()
