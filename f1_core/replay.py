"""A race weekend session played back lap by lap on an accelerated clock, the way live timing
delivers it: as each lap starts, the served model is asked for its prediction (the service's
request contract); as each lap ends, its source row lands in the live folder
($F1_LIVE_DIR, the archive's layout), which the pipeline ingests like any session (source `live`).

The replay reads any folder in the layout of ../shared/f1data/archive. Session time is the
clock: an event at session time t happens t / speed seconds after the start.

`Playback` is the playing itself, moved along the session clock by whoever drives it: `replay`
below (`f1 replay`, the tests and benchmarks: start to end at one speed) or
`f1_core.player.Player` (the console's Replay page: paused, resumed, sped up, sought).
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from f1_core.catalog import SessionRef
from f1_core.features import RACE_LIKE
from f1_core.file_lock import locked
from f1_core.live import request_for
from f1_core.raw import RawSession
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import seconds, standardize


@dataclass
class ReplayState:
    laps_total: int
    laps_played: int = 0
    predicted: int = 0
    errors: list[float] = field(default_factory=list)  # |prediction - observed| of completed laps
    # the same, of the answers computed from the service's session state (`context: session`)
    session_errors: list[float] = field(default_factory=list)
    model_version: str | None = None
    failed_requests: int = 0
    contexts: Counter = field(default_factory=Counter)  # answers by context

    @property
    def live_mae(self) -> float | None:
        return sum(self.errors) / len(self.errors) if self.errors else None

    @property
    def session_mae(self) -> float | None:
        """Live MAE of the answers made from the session's state, the ones a live client gets."""
        return sum(self.session_errors) / len(self.session_errors) if self.session_errors else None


class LiveFolder:
    """A session's live copy: the source's header, then rows as they land, and the session's
    manifest row. Each LiveFolder (a replay starting) and each `rewrite` (a replay sought back) is
    a new `generation` of the session in the manifest: readers of the folder drop what they hold
    of it and read its files anew (docs/live-sessions.md)."""

    def __init__(self, root: Path, ref: SessionRef, raw: RawSession, total_laps: int | None = None):
        """`total_laps`: the race distance, listed in the manifest for whoever reads the folder."""
        self.root = Path(root)
        self.ref = ref
        self.total_laps = total_laps
        self.folder = self.root / ref.locator
        self.folder.mkdir(parents=True, exist_ok=True)
        self.laps_path = self.folder / "laps.csv"
        self.weather_path = self.folder / "weather.csv"
        # the files first, then the manifest naming their generation: a reader that sees the new
        # generation reads the new files, never the last replay's rows under it
        self._replace(self.laps_path, raw.laps.head(0))
        if raw.weather is not None:
            self._replace(self.weather_path, raw.weather.head(0))
        self.generation = self._new_generation()

    def land(self, path: Path, rows: pl.DataFrame) -> None:
        if rows.height:
            with path.open("ab") as handle:
                rows.write_csv(handle, include_header=False)

    def rewrite(self, laps: pl.DataFrame, weather: pl.DataFrame | None) -> None:
        """The session as it stood earlier: the files replaced whole by these rows, then a new
        generation (readers drop the rows they held, the ones from after it among them)."""
        self._replace(self.laps_path, laps)
        if weather is not None:
            self._replace(self.weather_path, weather)
        self.generation = self._new_generation()

    def _new_generation(self) -> str:
        generation = secrets.token_hex(6)
        self._write_manifest(self.ref, self.total_laps, generation)
        return generation

    @staticmethod
    def _replace(path: Path, rows: pl.DataFrame) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        rows.write_csv(tmp)
        tmp.replace(path)

    def _write_manifest(self, ref: SessionRef, total_laps: int | None, generation: str) -> None:
        manifest = self.root / "manifest.csv"
        row = pl.DataFrame(
            [
                {
                    "season": str(ref.season),
                    "round": str(ref.round),
                    "event_name": ref.event_name,
                    "location": ref.location,
                    "country": ref.country,
                    "circuit_ref": ref.circuit_ref,
                    "session": ref.session_name,
                    "event_date": ref.event_date.isoformat(),
                    "path": ref.locator,
                    "total_laps": "" if total_laps is None else str(total_laps),
                    "generation": generation,
                }
            ]
        )
        # several players (threads, or `f1 replay` in another process) write the one manifest
        with locked(manifest):
            if manifest.is_file():
                rows = pl.read_csv(manifest, infer_schema=False).filter(pl.col("path") != ref.locator)
                for optional in ("total_laps", "generation"):
                    if optional not in rows.columns:
                        rows = rows.with_columns(pl.lit("").alias(optional))
                row = pl.concat([rows.select(row.columns), row])
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".manifest.")
            os.close(fd)
            try:
                row.write_csv(tmp)
                os.replace(tmp, manifest)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise


def load(archive: Path, session_key: str) -> tuple[SessionRef, RawSession]:
    source = ArchiveSource(archive)
    refs = {ref.key: ref for ref in source.catalog()}
    if session_key not in refs:
        raise KeyError(f"{session_key} is not in {archive}/manifest.csv; it has: {', '.join(sorted(refs))}")
    return refs[session_key], source.load(refs[session_key])


class Playback:
    """One session played into the live folder along its session clock, by whoever moves the
    clock: `advance(t)` plays what happens up to session time t (laps that ended land, with the
    weather read by then; laps that started are asked for), `seek(t)` puts the session as it
    stood at t (back: the folder rewritten; ahead: the laps between land at once)."""

    def __init__(
        self,
        ref: SessionRef,
        raw: RawSession,
        live_root: Path,
        predict: Callable[[list[dict]], list[dict]],
        on_progress: Callable[[ReplayState], None] | None = None,
        on_landed: Callable[[ReplayState], None] | None = None,
        max_laps: int | None = None,
    ):
        """`predict(requests)` answers a batch of the service's lap requests (a failure is
        counted, the replay goes on, as live timing would); `on_landed` runs after laps landed
        (e.g. ingestion), `on_progress` after each step; `max_laps` stops after that many laps
        ended (a shortened replay)."""
        standard = standardize(raw)
        self.ref, self.raw, self.predict = ref, raw, predict
        self.on_progress, self.on_landed = on_progress, on_landed
        self.total_laps = int(standard.laps["lap_number"].max()) if ref.session_type in RACE_LIKE else None
        self._by_driver = standard.laps.partition_by("driver", as_dict=True)
        # the laps that start, in the order they do
        self._starts = standard.laps.filter(pl.col("lap_start_time_s").is_not_null()).sort("lap_start_time_s")
        if self._starts.is_empty():
            raise ValueError(f"{ref.key} has no lap with a start time to replay")
        ends = _landing_order(standard.laps)
        laps_total = ends.height if max_laps is None else min(max_laps, ends.height)
        self._ends = ends.head(laps_total)
        self._weather = standard.weather.sort("session_time_s")
        # the source's weather rows in time order, landing as their time passes (unreadable times last)
        self._raw_weather = (
            None
            if raw.weather is None
            else raw.weather.with_columns(seconds(pl.col("Time")).alias("_t")).sort("_t", nulls_last=True)
        )
        self.folder = LiveFolder(live_root, ref, raw, self.total_laps)
        self.state = ReplayState(laps_total=laps_total)
        self.origin = float(self._starts["lap_start_time_s"][0])
        # when the last lap lands (a lap may land no later than it starts: never before the origin)
        self.end = max(self.origin, float(self._ends["_lands"][-1])) if laps_total else self.origin
        self.now = self.origin
        self.lap = 0  # the highest lap number landed: the leader's laps completed, in a race
        # when each lap number is first completed: seeking to lap n is seeking to then
        firsts = (
            self._ends.filter(pl.col("lap_number").is_not_null()).group_by("lap_number").agg(pl.col("_lands").min())
        )
        self.lap_times = {0: self.origin, **{int(n): max(self.origin, float(t)) for n, t in firsts.iter_rows()}}
        self._predictions: dict[tuple[str, int], tuple] = {}  # (driver, lap) -> (lap time, context)
        self._errors: dict[tuple[str, int], tuple[float, str | None]] = {}  # landed laps' errors
        self._start_index = self._end_index = self._landed_weather = 0

    @property
    def done(self) -> bool:
        return self._end_index >= self._ends.height

    @property
    def laps_played(self) -> int:
        return self.state.laps_played

    def advance(self, now: float) -> ReplayState:
        """Plays up to session time `now`: laps that ended land (with the weather read by then),
        then laps that started are asked for, as a live client would."""
        self.now = now
        done = self._ends.slice(self._end_index).filter(pl.col("_lands") <= now)
        self._land_weather(now)
        if done.height:
            self._land(done)
            if self.on_landed:
                self.on_landed(self.state)
        starting = self._starts.slice(self._start_index).filter(pl.col("lap_start_time_s") <= now)
        self._start_index += starting.height
        self._ask(starting)
        if self.on_progress:
            self.on_progress(self.state)
        return self.state

    def seek(self, to: float) -> ReplayState:
        """The session as it stood at session time `to` (between `origin` and `end`): the laps
        ended by then landed, no later one. Back, the live folder is rewritten (a new generation,
        so readers drop the laps from after it); ahead, the laps between land at once, unasked
        (they were not watched). A lap under way at `to` that was never asked for is asked now."""
        if not self.origin <= to <= self.end:
            raise ValueError(f"session time {to:g} s is outside this session's {self.origin:g}-{self.end:g} s")
        landed = self._ends.filter(pl.col("_lands") <= to).height  # a prefix: _ends is in landing order
        readings = 0 if self._raw_weather is None else self._raw_weather.filter(pl.col("_t") <= to).height
        started = self._starts.filter(pl.col("lap_start_time_s") <= to).height
        if to >= self.now and landed >= self._end_index:
            self._land(self._ends.slice(self._end_index, landed - self._end_index))
            self._land_weather(to)
        else:
            kept = self._ends.head(landed)
            weather = None if self._raw_weather is None else self._raw_weather.head(readings).drop("_t")
            self.folder.rewrite(self._source_rows(kept), weather)
            self._end_index, self._landed_weather = landed, readings
            ids = set(zip(kept["driver"], kept["lap_number"], strict=True))
            self._errors = {lap: error for lap, error in self._errors.items() if lap in ids}
            self.state.errors = [error for error, _ in self._errors.values()]
            self.state.session_errors = [error for error, context in self._errors.values() if context == "session"]
            self.state.laps_played = landed
            self.lap = int(kept["lap_number"].max()) if landed else 0
        # laps that start after `to` are asked again as they start
        begun = self._starts.head(started)
        ids = set(zip(begun["driver"], begun["lap_number"], strict=True))
        self._predictions = {lap: answer for lap, answer in self._predictions.items() if lap in ids}
        self._start_index = started
        self.now = to
        ended = set(zip(self._ends["driver"].head(landed), self._ends["lap_number"].head(landed), strict=True))
        under_way = begun.filter(
            pl.Series(
                [
                    (d, n) not in ended and (d, n) not in self._predictions
                    for d, n in zip(begun["driver"], begun["lap_number"], strict=True)
                ],
                dtype=pl.Boolean,
            )
        )
        self._ask(under_way)
        if self.on_progress:
            self.on_progress(self.state)
        return self.state

    def _source_rows(self, laps: pl.DataFrame) -> pl.DataFrame:
        return self.raw.laps[[r - 1 for r in laps["source_row"]], :]

    def _land_weather(self, now: float) -> None:
        if self._raw_weather is not None:
            readings = self._raw_weather.slice(self._landed_weather).filter(pl.col("_t") <= now)
            self.folder.land(self.folder.weather_path, readings.drop("_t"))
            self._landed_weather += readings.height  # once written: a failed write lands them again

    def _land(self, done: pl.DataFrame) -> None:
        """Laps that ended: their source rows land, each scored against its prediction."""
        if not done.height:
            return
        self.folder.land(self.folder.laps_path, self._source_rows(done))
        self._end_index += done.height  # once written: a failed write lands them again
        for lap in done.iter_rows(named=True):
            ident = (lap["driver"], lap["lap_number"])
            predicted, context = self._predictions.get(ident, (None, None))
            if predicted is not None and lap["lap_time_s"] is not None:
                error = abs(predicted - lap["lap_time_s"])
                self._errors[ident] = (error, context)
                self.state.errors.append(error)
                if context == "session":
                    self.state.session_errors.append(error)
        self.lap = max(self.lap, int(done["lap_number"].max()))
        self.state.laps_played += done.height

    def _ask(self, starting: pl.DataFrame) -> None:
        """Laps that started: the service is asked for each, as a live client would."""
        if not starting.height:
            return
        ref = self.ref
        requests = [
            request_for(
                self._by_driver[(lap["driver"],)],
                lap["lap_number"],
                season=ref.season,
                event=ref.event_name,
                session=ref.session_name,
                reading=_reading_at(self._weather, lap["lap_start_time_s"]),
                total_laps=self.total_laps,
            ).model_dump(mode="json")
            for lap in starting.iter_rows(named=True)
        ]
        try:
            answers = self.predict(requests)
        except Exception:
            self.state.failed_requests += 1
            answers = [{}] * len(requests)
        for lap, answer in zip(starting.iter_rows(named=True), answers, strict=True):
            self._predictions[(lap["driver"], lap["lap_number"])] = (answer.get("lap_time"), answer.get("context"))
            if answer.get("context"):
                self.state.contexts[answer["context"]] += 1
            if answer.get("model_version"):
                self.state.model_version = answer["model_version"]
        self.state.predicted += len(requests)


def replay(
    ref: SessionRef,
    raw: RawSession,
    live_root: Path,
    predict: Callable[[list[dict]], list[dict]],
    speed: float = 60.0,
    on_progress: Callable[[ReplayState], None] | None = None,
    on_landed: Callable[[ReplayState], None] | None = None,
    tick: float = 1.0,
    max_laps: int | None = None,
) -> ReplayState:
    """Plays the session from start to end at `speed` (see `Playback`); `tick` is the clock's
    step in replay seconds."""
    playback = Playback(ref, raw, live_root, predict, on_progress=on_progress, on_landed=on_landed, max_laps=max_laps)
    began = time.monotonic()
    now = playback.origin
    while not playback.done:
        now += tick
        wait = began + (now - playback.origin) / speed - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        playback.advance(now)
    return playback.state


def _landing_order(laps: pl.DataFrame) -> pl.DataFrame:
    """Laps in the order their rows land: when they ended; a lap with no end time when the
    driver's next lap starts (or its own start), so every lap the pipeline has lands."""
    nxt = pl.col("lap_start_time_s").shift(-1).over("driver", order_by="lap_number")
    lands = pl.coalesce("session_time_s", nxt, "lap_start_time_s")
    return laps.with_columns(lands.alias("_lands")).filter(pl.col("_lands").is_not_null()).sort("_lands")


def _reading_at(weather: pl.DataFrame, start: float) -> dict | None:
    """The weather reading a lap gets: the last at or before its start (the pipeline's rule)."""
    seen = weather.filter(pl.col("session_time_s") <= start)
    return seen.row(-1, named=True) if seen.height else None


@contextmanager
def service_client(url: str, api_key: str, timeout: float = 30.0):
    """`predict(requests)` posting to the service's /predict (1000 laps a call), as `replay`
    takes it, and the answers it got by (driver, lap number)."""
    import httpx

    answers: dict = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout) as client:

        def predict(requests):
            got = []
            for start in range(0, len(requests), 1000):
                answer = client.post("/predict", json={"laps": requests[start : start + 1000]})
                answer.raise_for_status()
                got += answer.json()
            for request, prediction in zip(requests, got, strict=True):
                answers[(request["driver"], request["lap_number"])] = prediction
            return got

        yield predict, answers
