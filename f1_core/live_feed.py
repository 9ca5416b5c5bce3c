"""The live lap stream into the online store: tails the live folder ($F1_LIVE_DIR, the archive's
layout, which `f1 replay` or a live-timing client writes and the pipeline ingests) and adds each
complete new row to the session's state, standardized by the pipeline's own rules.

What a writer of that folder must do (docs/live-sessions.md): list the session in
`manifest.csv` (with the race distance in an optional `total_laps` column); write each table's
header once, then append whole lines (a line counts once it ends with a newline); never rewrite
a row (a file that shrinks or is replaced is read again from its start, and rows already held
stay as they were). Laps may land in any order.

A session whose rows must go (a replay sought back: the files hold the session as it stood
earlier) gets a new value in the manifest's optional `generation` column, after its files were
rewritten: the session's state is then replaced by what its files hold now (`store.replace`).

A row that cannot be used (the wrong number of fields, a value the pipeline would quarantine, a
lap that landed before) is skipped, logged with its session, table and row number, and counted
(`skipped`), never a crash: the rest of the stream goes on.
"""

from __future__ import annotations

import csv
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from f1_core.online_store import DEFAULT_TTL_S, StoreUnavailable, lap_id
from f1_core.raw import LAP_COLUMNS, WEATHER_COLUMNS
from f1_core.session_state import SessionMeta, lookup_key
from f1_core.standardize import standardize_laps, standardize_weather

logger = logging.getLogger(__name__)

NULLS = frozenset(("", "nan", "NaN", "NaT"))  # as `raw.read_csv_text` reads them
TABLES = {"laps": LAP_COLUMNS, "weather": WEATHER_COLUMNS}


@dataclass
class _Tail:
    """How far one file has been read."""

    path: Path
    table: str
    offset: int = 0
    header: list[str] | None = None
    rows: int = 0  # data rows read
    inode: int | None = None
    bad_header: bool = False


@dataclass
class _Session:
    meta: SessionMeta
    tails: dict[str, _Tail]
    seen: set = field(default_factory=set)  # lap ids added
    added: bool = False  # rows reached the store
    generation: str | None = None  # the manifest's, when it names one


class LiveFeed:
    def __init__(
        self,
        root: str | Path,
        store,
        ttl_s: float = DEFAULT_TTL_S,
        interval_s: float = 0.2,
        on_skip: Callable[[str, str, int, str], None] | None = None,
        on_state: Callable | None = None,
        clock=time.time,
    ):
        """`on_skip(session key, table, row, reason)` for each row skipped; `on_state(state)`
        with the session's state as this process reads it, after rows of it were added."""
        self.root = Path(root)
        self.store = store
        self.ttl_s = ttl_s
        self.interval_s = interval_s
        self.on_skip = on_skip
        self.on_state = on_state
        self.skipped: Counter = Counter()  # (session key, table) -> rows skipped
        self._clock = clock
        self._sessions: dict[str, _Session] = {}  # lookup key -> session
        self._manifest_stamp = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LiveFeed:
        self._thread = threading.Thread(target=self._run, name="live-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=10)

    def sync(self, check_store: bool = True) -> None:
        """Reads what landed in every session of the folder. `check_store`: also re-adds a
        session the store lost (expired while its files were still written, a Redis restart)."""
        with self._lock:
            self._read_manifest()
            for session in list(self._sessions.values()):
                try:
                    self._sync(session, check_store)
                except StoreUnavailable:
                    raise  # the store says why; every session waits for it alike
                except Exception:  # one session's bad file must not stop the others
                    logger.exception("live feed: session %s not read this time", session.meta.session_key)

    def sync_session(self, season: int, event: str, session: str) -> None:
        """Reads what landed in the session a request names, if the folder has it (cheap when
        nothing did: a stat of each file)."""
        key = lookup_key(season, event, session)
        with self._lock:
            # a session listed since the last look, or written anew (a stat when nothing changed)
            self._read_manifest()
            found = self._sessions.get(key)
            if found is not None:
                self._sync(found, check_store=False)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync()
            except StoreUnavailable:
                pass  # the store says why in its status; the next tick tries again
            except Exception:  # never stop feeding over one bad tick
                logger.exception("live feed: reading %s failed", self.root)
            self._stop.wait(self.interval_s)

    def _read_manifest(self) -> None:
        from f1_core.errors import SessionReadError
        from f1_core.sources.archive import ArchiveSource

        manifest = self.root / "manifest.csv"
        try:
            stat = manifest.stat()
        except FileNotFoundError:
            return
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp == self._manifest_stamp:
            return
        source = ArchiveSource(self.root)
        try:  # read once: the sessions and their optional columns from the same bytes
            rows = source.manifest_rows()
            refs = source.refs(rows)
        except (FileNotFoundError, SessionReadError, ValueError) as exc:
            logger.error("live feed: %s cannot be read, keeping the sessions it listed before: %s", manifest, exc)
            return
        self._manifest_stamp = stamp
        distances, generations = _optional_columns(rows)
        for ref in refs:
            meta = SessionMeta(
                ref.key, ref.season, ref.event_name, ref.session_name, ref.circuit_ref, distances.get(ref.locator)
            )
            generation = generations.get(ref.locator)
            folder = self.root / ref.locator
            known = self._sessions.get(meta.lookup)
            if known is None:
                self._sessions[meta.lookup] = _Session(meta, self._tails(folder), generation=generation)
            elif generation is not None and generation != known.generation:
                # written anew: what its files hold now replaces the state, at the next read
                logger.info(
                    "live feed: %s is a new generation (%s); reading its files anew", meta.session_key, generation
                )
                self._sessions[meta.lookup] = _Session(meta, self._tails(folder), generation=generation)

    @staticmethod
    def _tails(folder: Path) -> dict[str, _Tail]:
        return {table: _Tail(folder / f"{table}.csv", table) for table in TABLES}

    def _sync(self, session: _Session, check_store: bool) -> None:
        key = session.meta.session_key
        if check_store and session.added and not self.store.has(key):
            logger.info("live feed: the store no longer holds %s; reading its files again", key)
            session.tails = {table: _Tail(tail.path, table) for table, tail in session.tails.items()}
            session.seen.clear()
            session.added = False
        # what was read is only kept once the store took it: a failed add reads it again (the lap
        # ids seen are only added after the store took them)
        saved = {table: replace(tail) for table, tail in session.tails.items()}, session.added
        try:
            stored = self._read_into_store(session)
        except BaseException:
            session.tails, session.added = saved
            raise
        if stored and self.on_state is not None:
            # read back (once the store took the rows, so a failure here re-reads nothing): a
            # shared store's copy in this process is brought up to date (and its state prepared)
            # here rather than by the next request
            state = self.store.get(key)
            if state is not None:
                self.on_state(state)

    def _read_into_store(self, session: _Session) -> bool:
        """Reads the session's new rows into the store; whether it wrote any."""
        key = session.meta.session_key
        laps, weather, landed_at = [], [], None
        for tail in session.tails.values():
            lines, stamp = self._new_lines(tail)
            if stamp is None:
                continue
            landed_at = max(landed_at or 0.0, stamp)
            if lines:
                (laps if tail.table == "laps" else weather).extend(self._standardize(session, tail, lines))
        # a session listed, its files begun, no row yet: its state is an empty field, not none
        if landed_at is None or (session.added and not laps and not weather):
            return False
        fresh, new_ids = [], set()
        for lap in laps:
            ident = lap_id(lap)
            if ident in session.seen or ident in new_ids:
                self._skip(key, "laps", lap["source_row"], "duplicate_lap: the lap landed before; the first stays")
            else:
                new_ids.add(ident)
                fresh.append(lap)
        if session.generation is not None and not session.added:
            # read from the start: the store's copy becomes exactly this generation's rows
            self.store.replace(session.meta, fresh, weather, landed_at=landed_at, generation=session.generation)
        else:
            self.store.add(session.meta, fresh, weather, landed_at=landed_at)
        session.seen |= new_ids
        session.added = True
        return True

    def _new_lines(self, tail: _Tail) -> tuple[list[tuple[int, list[str] | str]], float | None]:
        """Complete lines appended since the last read, as (row number, fields or what is wrong),
        and when the file was last written (None: no file, or one older than the state lives)."""
        try:
            stat = tail.path.stat()
        except FileNotFoundError:
            return [], None
        if self._clock() - stat.st_mtime > self.ttl_s:
            return [], None
        if stat.st_ino != tail.inode or stat.st_size < tail.offset:  # new or rewritten: from the start
            tail.offset, tail.header, tail.rows, tail.inode, tail.bad_header = 0, None, 0, stat.st_ino, False
        if stat.st_size == tail.offset:
            return [], stat.st_mtime
        with tail.path.open("rb") as handle:
            handle.seek(tail.offset)
            data = handle.read(stat.st_size - tail.offset)
        end = data.rfind(b"\n")
        if end < 0:
            return [], stat.st_mtime  # a line still being written
        lines = data[: end + 1].decode("utf-8", errors="replace").splitlines()
        if tail.header is None:
            while lines and not lines[0].strip():
                lines.pop(0)  # blank lines before the header
            if not lines:
                return [], stat.st_mtime  # no header yet: read it all again next time
            tail.header = next(csv.reader([lines.pop(0)]), [])
            missing = [column for column in TABLES[tail.table] if column not in tail.header]
            if missing:
                tail.bad_header = True
                logger.error(
                    "live feed: %s has no column %s; its rows are skipped until it is rewritten",
                    tail.path,
                    ", ".join(missing),
                )
        tail.offset += end + 1
        parsed = []
        for line in lines:
            if not line.strip():
                continue
            tail.rows += 1
            fields = next(csv.reader([line]), [])
            if tail.bad_header:
                parsed.append((tail.rows, "the file's header lacks required columns"))
            elif len(fields) != len(tail.header):
                parsed.append((tail.rows, f"{len(fields)} fields where the header has {len(tail.header)}"))
            else:
                parsed.append((tail.rows, fields))
        return parsed, stat.st_mtime

    def _standardize(self, session: _Session, tail: _Tail, lines: list) -> list[dict]:
        """The lines' rows as the pipeline standardizes them; the others skipped."""
        key = session.meta.session_key
        header = tail.header
        index_column = header[0] in ("", "Unnamed: 0")  # a pandas index written by mistake
        rows, run = [], []  # runs of consecutive good lines, one frame each
        for number, fields in lines:
            if isinstance(fields, str):
                self._skip(key, tail.table, number, f"unreadable line: {fields}")
                continue
            if run and run[-1][0] != number - 1:
                rows.extend(self._frame_rows(session, tail, run, header, index_column))
                run = []
            run.append((number, fields))
        if run:
            rows.extend(self._frame_rows(session, tail, run, header, index_column))
        return rows

    def _frame_rows(
        self, session: _Session, tail: _Tail, run: list, header: list[str], index_column: bool
    ) -> list[dict]:
        columns = header[1:] if index_column else header
        values = [fields[1:] if index_column else fields for _, fields in run]
        frame = pl.DataFrame(
            {name: [None if row[i] in NULLS else row[i] for row in values] for i, name in enumerate(columns)},
            schema=dict.fromkeys(columns, pl.String),
        )
        now = datetime.now(UTC).replace(tzinfo=None)
        standardize = standardize_laps if tail.table == "laps" else standardize_weather
        good, quarantine = standardize(frame, session.meta.session_key, now, first_row=run[0][0])
        for row in quarantine.iter_rows(named=True):
            self._skip(session.meta.session_key, tail.table, row["source_row"], row["details"])
        out = good.to_dicts()
        for row in out:
            if isinstance(row.get("lap_start_date"), datetime):
                row["lap_start_date"] = row["lap_start_date"].isoformat()
        return out

    def _skip(self, session_key: str, table: str, row: int, reason: str) -> None:
        self.skipped[(session_key, table)] += 1
        logger.warning("live feed: session %s, %s row %d skipped: %s", session_key, table, row, reason)
        if self.on_skip is not None:
            self.on_skip(session_key, table, row, reason)


def _optional_columns(rows: pl.DataFrame) -> tuple[dict[str, int], dict[str, str]]:
    """The manifest's optional columns by session path: `total_laps` (a race's distance) and
    `generation` (changed when the session's files were written anew)."""
    distances, generations = {}, {}
    if "total_laps" in rows.columns:
        distances = {
            path: int(laps)
            for path, laps in rows.select("path", "total_laps").iter_rows()
            if laps and laps.strip().isdigit()
        }
    if "generation" in rows.columns:
        generations = {
            path: value.strip()
            for path, value in rows.select("path", "generation").iter_rows()
            if value and value.strip()
        }
    return distances, generations
