"""What the console streams: per live session, an append-only log of events (a lap landed, the
prediction for a driver's next lap) built from the session's state, which the console reads from
the same live folder or Redis as the service.

When a driver's lap lands, the console asks the service for that driver's next lap, as a live
client would (`context: session` when the service holds the state): the tower shows what
`/predict` answers, not an offline figure. Events carry increasing ids, so a browser that
reconnects with `Last-Event-ID` gets exactly the events it missed; the ids name this process
(`epoch`), so a browser resuming from a console that restarted since gets a new snapshot.

A session started anew (a replay sought back: its state is a new generation, or lost laps it had)
gets a new log: its streams, and a browser resuming from before it, get a new snapshot of the
session as it stands, never the laps it no longer has.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

import httpx

from f1_core.live_feed import LiveFeed
from f1_core.online_store import DEFAULT_TTL_S, StoreUnavailable

logger = logging.getLogger(__name__)

LAP_FIELDS = (
    "driver",
    "team",
    "lap_number",
    "lap_time_s",
    "sector1_s",
    "sector2_s",
    "sector3_s",
    "compound",
    "tyre_life",
    "stint",
    "position",
    "track_status",
    "lap_start_time_s",
    "session_time_s",
)


def lap_event(lap: dict) -> dict:
    """A state's lap row as the console shows it."""
    return {
        **{name: lap.get(name) for name in LAP_FIELDS},
        "pit_in": lap.get("pit_in_time_s") is not None,
        "pit_out": lap.get("pit_out_time_s") is not None,
    }


def next_lap_request(meta, lap: dict) -> dict:
    """The request for the lap after `lap` (a state row), as it starts: what the console asks."""
    pitted = lap.get("pit_in_time_s") is not None
    request = {
        "season": meta.season,
        "event": meta.event_name,
        "session": meta.session_name,
        "driver": lap["driver"],
        "lap_number": lap["lap_number"] + 1,
        "pit_out": pitted,
        "compound": None if pitted else lap.get("compound"),
        "tyre_life": None if pitted or lap.get("tyre_life") is None else min(lap["tyre_life"] + 1, 100),
    }
    if lap.get("session_time_s") is not None:
        request["lap_start_time"] = lap["session_time_s"]
    if lap.get("stint") is not None:
        request["stint"] = int(lap["stint"]) + (1 if pitted else 0)
    if lap.get("team"):
        request["team"] = lap["team"]
    return request


@dataclass
class SessionLog:
    meta: object
    base: int = 0  # the id the log began at: a stream that has sent less has not seen this log
    generation: str | None = None  # the state's it was built from
    events: list = field(default_factory=list)  # (id, kind, data)
    laps: dict = field(default_factory=dict)  # (driver, lap) -> lap event
    predictions: dict = field(default_factory=dict)  # (driver, lap, version) -> prediction event


class LiveHub:
    def __init__(
        self,
        store,
        live_dir,
        service_url: str,
        service_key: str,
        interval_s: float = 0.2,
        feed: bool = True,
        ttl_s: float = DEFAULT_TTL_S,
    ):
        self.store = store
        self.feed = LiveFeed(live_dir, store, ttl_s=ttl_s) if feed else None
        self.service_url = service_url
        self.service_key = service_key
        self.interval_s = interval_s
        self.logs: dict[str, SessionLog] = {}
        self.last_error: str | None = None
        self.updated_at: float | None = None
        self._next_id = 0
        self.epoch = secrets.token_hex(4)
        self._unanswered: list = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="console-hub", daemon=True)
        self._client = httpx.Client(
            base_url=service_url, headers={"Authorization": f"Bearer {service_key}"}, timeout=10
        )

    def start(self) -> LiveHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._client.close()

    def snapshot(self, session_key: str) -> tuple[int, dict] | None:
        """The session as it stands (laps and predictions) and the id of its last event."""
        with self._lock:
            log = self.logs.get(session_key)
            return None if log is None else self._snapshot(log)

    def since(self, session_key: str, last_id: int) -> list[tuple[int, str, dict]]:
        """The events after `last_id`; a snapshot instead when the session's log began after it
        (the session was started anew since)."""
        with self._lock:
            log = self.logs.get(session_key)
            if log is None:
                return []
            if log.base > last_id:
                last, body = self._snapshot(log)
                return [(last, "snapshot", body)]
            return [event for event in log.events if event[0] > last_id]

    @staticmethod
    def _snapshot(log: SessionLog) -> tuple[int, dict]:
        last = log.events[-1][0] if log.events else log.base
        return last, {
            "session": {**log.meta.as_dict(), "session_type": log.meta.session_type},
            "laps": list(log.laps.values()),
            "predictions": list(log.predictions.values()),
            "now": time.time(),
        }

    def _log_for(self, state) -> tuple[SessionLog, bool]:
        """The session's log, and whether it is new: begun anew when the state is another
        generation than the log's (a replay sought back; expired, then landing again: every store
        gives a session written anew a new generation). A new log is the caller's to fill, then to
        `_publish`."""
        key = state.meta.session_key
        log = self.logs.get(key)
        if log is not None and log.generation == state.generation:
            return log, False
        if log is not None:
            logger.info(
                "console: %s was started anew (%d laps now, %d before); new snapshots follow",
                key,
                len(state.laps),
                len(log.laps),
            )
        with self._lock:
            self._next_id += 1  # the id a stream must have sent to have seen the new log
            log = SessionLog(state.meta, base=self._next_id, generation=state.generation)
        return log, True

    def _publish(self, log: SessionLog) -> None:
        """A new log, filled with the session's laps, replaces the old one: streams then send
        its snapshot whole, never a half-built one."""
        with self._lock:
            self.logs[log.meta.session_key] = log

    def tick(self) -> None:
        """Reads the states; logs new laps and asks for the next lap of each driver that has one."""
        if self.feed is not None:
            self.feed.sync()
        asks = []
        for state in self.store.sessions():
            log, fresh = self._log_for(state)
            new = [lap for lap in state.laps if (lap["driver"], lap["lap_number"]) not in log.laps]
            new.sort(key=lambda lap: (lap.get("session_time_s") or 0.0, lap["driver"], lap["lap_number"]))
            latest = {}
            for lap in new:
                self._add(log, "lap", (lap["driver"], lap["lap_number"]), {"lap": lap_event(lap)})
                if latest.get(lap["driver"], {}).get("lap_number", 0) < lap["lap_number"]:
                    latest[lap["driver"]] = lap
            if fresh:
                self._publish(log)
            asks += [(log, next_lap_request(state.meta, lap)) for lap in latest.values()]
        # asks the service did not answer last time come again (unless a later lap replaced them)
        asked = {(log.meta.session_key, request["driver"]) for log, request in asks}
        # (not those of a log replaced since: no stream reads it)
        asks += [
            (log, request)
            for log, request in self._unanswered
            if (log.meta.session_key, request["driver"]) not in asked and self.logs.get(log.meta.session_key) is log
        ]
        self._unanswered = []
        for start in range(0, len(asks), 1000):  # the service takes 1000 laps a request
            self._predict(asks[start : start + 1000])
        self.updated_at = time.time()

    def _predict(self, asks: list[tuple[SessionLog, dict]]) -> None:
        try:
            answer = self._client.post("/predict", json={"laps": [request for _, request in asks]})
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            self.last_error = f"the prediction service at {self.service_url} did not answer: {exc}"
            logger.error(self.last_error)
            self._unanswered += asks
            return
        self.last_error = None
        for (log, request), prediction in zip(asks, answer.json(), strict=True):
            event = {"driver": request["driver"], "lap_number": request["lap_number"], **prediction}
            self._add(
                log,
                "prediction",
                (request["driver"], request["lap_number"], prediction["model_version"]),
                {"prediction": event},
            )

    def _add(self, log: SessionLog, kind: str, key: tuple, data: dict) -> None:
        with self._lock:
            self._next_id += 1
            log.events.append((self._next_id, kind, data))
            (log.laps if kind == "lap" else log.predictions)[key] = data[kind]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except StoreUnavailable as exc:
                self.last_error = str(exc)
            except Exception:  # the stream goes on; the error is shown in the console's status
                logger.exception("console: reading the live sessions failed")
                self.last_error = "reading the live sessions failed (see the console's log)"
            self._stop.wait(self.interval_s)
