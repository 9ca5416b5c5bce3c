"""A race weekend session played back lap by lap on an accelerated clock, the way live timing
delivers it: as each lap starts, the served model is asked for its prediction (the service's
request contract); as each lap ends, its source row lands in the live folder
($F1_LIVE_DIR, the archive's layout), which the pipeline ingests like any session (source `live`).

The replay reads any folder in the layout of ../shared/f1data/archive. Session time is the
clock: an event at session time t happens t / speed seconds after the start.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import polars as pl

from f1_core.catalog import SessionRef
from f1_core.features import RACE_LIKE
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
    """A session's live copy: manifest row, then the source's header, then rows as they land."""

    def __init__(self, root: Path, ref: SessionRef, raw: RawSession, total_laps: int | None = None):
        """`total_laps`: the race distance, listed in the manifest for whoever reads the folder."""
        self.root = Path(root)
        self.folder = self.root / ref.locator
        self.folder.mkdir(parents=True, exist_ok=True)
        self._write_manifest(ref, total_laps)
        self.laps_path = self.folder / "laps.csv"
        self.weather_path = self.folder / "weather.csv"
        raw.laps.head(0).write_csv(self.laps_path)
        if raw.weather is not None:
            raw.weather.head(0).write_csv(self.weather_path)

    def land(self, path: Path, rows: pl.DataFrame) -> None:
        if rows.height:
            with path.open("ab") as handle:
                rows.write_csv(handle, include_header=False)

    def _write_manifest(self, ref: SessionRef, total_laps: int | None) -> None:
        manifest = self.root / "manifest.csv"
        row = pl.DataFrame([{"season": str(ref.season), "round": str(ref.round), "event_name": ref.event_name,
                             "location": ref.location, "country": ref.country, "circuit_ref": ref.circuit_ref,
                             "session": ref.session_name, "event_date": ref.event_date.isoformat(),
                             "path": ref.locator, "total_laps": "" if total_laps is None else str(total_laps)}])
        if manifest.is_file():
            rows = pl.read_csv(manifest, infer_schema=False).filter(pl.col("path") != ref.locator)
            if "total_laps" not in rows.columns:
                rows = rows.with_columns(pl.lit("").alias("total_laps"))
            row = pl.concat([rows.select(row.columns), row])
        tmp = manifest.with_suffix(".tmp")
        row.write_csv(tmp)
        tmp.replace(manifest)


def load(archive: Path, session_key: str) -> tuple[SessionRef, RawSession]:
    source = ArchiveSource(archive)
    refs = {ref.key: ref for ref in source.catalog()}
    if session_key not in refs:
        raise KeyError(f"{session_key} is not in {archive}/manifest.csv; it has: {', '.join(sorted(refs))}")
    return refs[session_key], source.load(refs[session_key])


def replay(ref: SessionRef, raw: RawSession, live_root: Path, predict: Callable[[list[dict]], list[dict]],
           speed: float = 60.0, on_progress: Callable[[ReplayState], None] | None = None,
           on_landed: Callable[[ReplayState], None] | None = None, tick: float = 1.0,
           max_laps: int | None = None) -> ReplayState:
    """Plays the session: `predict(requests)` answers a batch of the service's lap requests (a
    failure is counted, the replay goes on, as live timing would); `on_landed` runs after laps
    landed (e.g. ingestion); `tick` is the clock's step in replay seconds. `max_laps` stops after
    that many laps ended (a shortened replay)."""
    standard = standardize(raw)
    total_laps = int(standard.laps["lap_number"].max()) if ref.session_type in RACE_LIKE else None
    by_driver = standard.laps.partition_by("driver", as_dict=True)
    laps = standard.laps.filter(pl.col("lap_start_time_s").is_not_null())  # the laps that start
    weather = standard.weather.sort("session_time_s")
    # the source's weather rows in time order, landing as their time passes (unreadable times last)
    raw_weather = None if raw.weather is None else raw.weather.with_columns(
        seconds(pl.col("Time")).alias("_t")).sort("_t", nulls_last=True)
    folder = LiveFolder(live_root, ref, raw, total_laps)
    predictions: dict[tuple[str, int], tuple] = {}  # (driver, lap) -> (lap time, context)
    starts = laps.sort("lap_start_time_s")
    ends = _landing_order(standard.laps)
    state = ReplayState(laps_total=ends.height if max_laps is None else min(max_laps, ends.height))
    landed_weather, start_index, end_index = 0, 0, 0
    origin = float(starts["lap_start_time_s"][0])
    began = time.monotonic()
    now = origin
    while end_index < ends.height and state.laps_played < state.laps_total:
        now += tick
        wait = began + (now - origin) / speed - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        # laps that ended: their source rows land, with the weather read by then
        done = ends.slice(end_index).filter(pl.col("_lands") <= now)
        if state.laps_played + done.height > state.laps_total:
            done = done.head(state.laps_total - state.laps_played)
        end_index += done.height
        if raw_weather is not None:
            readings = raw_weather.slice(landed_weather).filter(pl.col("_t") <= now)
            landed_weather += readings.height
            folder.land(folder.weather_path, readings.drop("_t"))
        if done.height:
            folder.land(folder.laps_path, raw.laps[[r - 1 for r in done["source_row"]], :])
            for lap in done.iter_rows(named=True):
                predicted, context = predictions.get((lap["driver"], lap["lap_number"]), (None, None))
                if predicted is not None and lap["lap_time_s"] is not None:
                    state.errors.append(abs(predicted - lap["lap_time_s"]))
                    if context == "session":
                        state.session_errors.append(state.errors[-1])
            state.laps_played += done.height
            if on_landed:
                on_landed(state)
        # laps that started: ask the service, as a live client would
        starting = starts.slice(start_index).filter(pl.col("lap_start_time_s") <= now)
        start_index += starting.height
        if starting.height:
            requests = [
                request_for(by_driver[(lap["driver"],)], lap["lap_number"],
                            season=ref.season, event=ref.event_name, session=ref.session_name,
                            reading=_reading_at(weather, lap["lap_start_time_s"]),
                            total_laps=total_laps).model_dump(mode="json")
                for lap in starting.iter_rows(named=True)
            ]
            try:
                answers = predict(requests)
            except Exception:
                state.failed_requests += 1
                answers = [{}] * len(requests)
            for lap, answer in zip(starting.iter_rows(named=True), answers):
                predictions[(lap["driver"], lap["lap_number"])] = (answer.get("lap_time"), answer.get("context"))
                if answer.get("context"):
                    state.contexts[answer["context"]] += 1
                if answer.get("model_version"):
                    state.model_version = answer["model_version"]
            state.predicted += len(requests)
        if on_progress:
            on_progress(state)
    return state


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
                answer = client.post("/predict", json={"laps": requests[start:start + 1000]})
                answer.raise_for_status()
                got += answer.json()
            for request, prediction in zip(requests, got):
                answers[(request["driver"], request["lap_number"])] = prediction
            return got

        yield predict, answers
