"""Replays that can be steered while they play: an archived session played through the service
(`replay.Playback`, the same playing as `f1 replay`) on a clock that can be paused, resumed, sped
up or slowed down and sought, by session time or by lap. The console's Replay page drives these;
nothing here knows about HTTP.

Seeking back rewrites the session's live folder to what had landed by then, as a new generation
of the session (`replay.LiveFolder.rewrite`): the service's and the console's live feeds then
replace their state of it, so no view shows a lap from after the point sought.

`Replays` holds at most one replay per session. Its errors say what is wrong: `UnknownReplay`
(an unknown session, or no replay of it), `InvalidControl` (a bad speed, a seek outside the
session), `ReplayBusy` (a session already being replayed, a finished one paused).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from f1_core.catalog import SessionRef
from f1_core.errors import SessionReadError
from f1_core.raw import RawSession
from f1_core.replay import Playback, load, service_client
from f1_core.sources.archive import ArchiveSource

logger = logging.getLogger(__name__)

MIN_SPEED, MAX_SPEED = 0.1, 10_000.0  # session seconds per wall-clock second
MAX_TICK_S = 30.0  # the clock's step at high speed, in session seconds (see `Player.tick`)


class UnknownReplay(LookupError):
    """No such archived session, or no replay of it."""


class InvalidControl(ValueError):
    """A speed or a seek the session cannot take."""


class ReplayBusy(RuntimeError):
    """The action does not fit the replay's state (one already playing, a finished one)."""


def check_speed(speed) -> float:
    """`speed` as a float, or `InvalidControl` saying what a speed must be."""
    if (
        isinstance(speed, bool)
        or not isinstance(speed, (int, float))
        or not math.isfinite(speed)
        or not MIN_SPEED <= speed <= MAX_SPEED
    ):
        raise InvalidControl(
            f"speed must be a number from {MIN_SPEED:g} to {MAX_SPEED:g} (session seconds per second), not {speed!r}"
        )
    return float(speed)


class Player:
    """One session replaying in a thread of its own. Every control takes effect at once and
    returns the replay's `status()`."""

    def __init__(
        self,
        ref: SessionRef,
        raw: RawSession,
        live_root: Path,
        predict: Callable[[list[dict]], list[dict]],
        speed: float,
        started_by: str | None = None,
        on_close: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.speed = check_speed(speed)
        self.started_by = started_by
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.last_error: str | None = None
        self._on_close = on_close
        self._clock = clock
        self._predict = predict
        self.playback = Playback(ref, raw, live_root, self._asked)
        self._paused = False
        self._stopped = False
        self._busy = False  # a step is under way (outside the lock)
        self._cv = threading.Condition()
        self._anchor()
        self._thread = threading.Thread(target=self._run, name=f"replay-{ref.key}", daemon=True)
        self._thread.start()

    @property
    def ref(self) -> SessionRef:
        return self.playback.ref

    @property
    def tick(self) -> float:
        """The clock's step in session seconds: a tenth of a wall second's worth, within 1-30 s
        (every lap starting or ending within a step is played at its end)."""
        return min(max(self.speed / 10, 1.0), MAX_TICK_S)

    @property
    def state(self) -> str:
        if self._stopped:
            return "stopped"
        if self.playback.done:
            return "finished"
        return "paused" if self._paused else "playing"

    def pause(self) -> dict:
        """Paused: no lap lands and no lap is asked for from the moment this returns."""
        with self._cv:
            self._check_playable()
            self._paused = True
            self._idle()
            self._anchor()
        return self.status()

    def resume(self) -> dict:
        with self._cv:
            self._check_playable()
            self._paused = False
            self._anchor()
            self._cv.notify_all()
        return self.status()

    def set_speed(self, speed) -> dict:
        speed = check_speed(speed)
        with self._cv:
            self._check_open()
            self.speed = speed
            self._anchor()
            self._cv.notify_all()
        return self.status()

    def seek(self, lap=None, session_time_s=None) -> dict:
        """To the moment lap `lap` was first completed (0: the start), or to `session_time_s`;
        the replay goes on playing (or stays paused) from there."""
        to = self.seek_time(lap, session_time_s)
        with self._cv:
            self._check_open()
            self._idle()  # the step under way ends first; none starts while this holds the lock
            try:
                self.playback.seek(to)
            except OSError as exc:
                self.last_error = f"the live folder could not be rewritten: {exc}"
                raise
            self._anchor()
            self._cv.notify_all()
        return self.status()

    def seek_time(self, lap=None, session_time_s=None) -> float:
        """The session time a seek names, or `InvalidControl` saying why it names none."""
        playback = self.playback
        if (lap is None) == (session_time_s is None):
            raise InvalidControl("seek to a lap or to a session time: give one of lap, session_time_s")
        if lap is not None:
            last = max(playback.lap_times)
            if isinstance(lap, bool) or not isinstance(lap, int) or lap not in playback.lap_times:
                raise InvalidControl(
                    f"lap must be a whole number from 0 to {last} (the laps of {self.ref.key}), not {lap!r}"
                )
            return playback.lap_times[lap]
        if (
            isinstance(session_time_s, bool)
            or not isinstance(session_time_s, (int, float))
            or not math.isfinite(session_time_s)
            or not playback.origin <= session_time_s <= playback.end
        ):
            raise InvalidControl(
                f"session_time_s must be a number of seconds from {playback.origin:.3f} to "
                f"{playback.end:.3f} (the session's first lap start to its last lap's end), "
                f"not {session_time_s!r}"
            )
        return float(session_time_s)

    def stop(self) -> dict:
        with self._cv:
            self._stopped = True
            self._idle()
            self._cv.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        if self._on_close is not None:
            self._on_close()
            self._on_close = None
        return self.status()

    def status(self) -> dict:
        """What the Replay page shows (read without waiting for a step under way)."""
        playback, ref = self.playback, self.ref
        state = playback.state
        return {
            "session_key": ref.key,
            "season": ref.season,
            "event_name": ref.event_name,
            "session_name": ref.session_name,
            "session_type": ref.session_type,
            "state": self.state,
            "speed": self.speed,
            "session_time_s": playback.now,
            "start_s": playback.origin,
            "end_s": playback.end,
            "lap": playback.lap,
            "laps": max(playback.lap_times),
            "laps_landed": state.laps_played,
            "laps_total": state.laps_total,
            "predicted": state.predicted,
            "contexts": dict(state.contexts),
            "session_mae_s": state.session_mae,
            "model_version": state.model_version,
            "failed_requests": state.failed_requests,
            "last_error": self.last_error,
            "started_by": self.started_by,
            "started_at": self.started_at,
        }

    def _check_open(self) -> None:
        if self._stopped:
            raise UnknownReplay(f"the replay of {self.ref.key} was stopped")

    def _check_playable(self) -> None:
        """Open and not finished: what pausing and resuming need."""
        self._check_open()
        if self.playback.done:
            raise ReplayBusy(f"the replay of {self.ref.key} has finished: seek back to play it again")

    def _idle(self) -> None:
        """Waits (holding `_cv`) for the step under way, if any, to end."""
        while self._busy:
            self._cv.wait()

    def _anchor(self) -> None:
        """The wall clock restarts from the session time played, at the current speed."""
        self._anchor_wall, self._anchor_session = self._clock(), self.playback.now

    def _asked(self, requests: list[dict]) -> list[dict]:
        try:
            answers = self._predict(requests)
        except Exception as exc:  # counted by the playback, which goes on as live timing would
            self.last_error = f"the prediction service did not answer: {exc}"
            raise
        self.last_error = None
        return answers

    def _run(self) -> None:
        playback = self.playback
        while True:
            with self._cv:
                while True:
                    if self._stopped:
                        return
                    if self._paused or playback.done:
                        self._cv.wait()
                        continue
                    step = min(playback.now + self.tick, playback.end)
                    wait = self._anchor_wall + (step - self._anchor_session) / self.speed - self._clock()
                    if wait <= 0:
                        break
                    self._cv.wait(wait)  # a control wakes it: the step is worked out again
                self._busy = True
            failed = None
            try:
                playback.advance(step)  # outside the lock: the service is asked here
            except Exception as exc:  # the folder could not be written: paused, saying why
                logger.exception("replay of %s paused", self.ref.key)
                failed = f"paused: {exc}"
            finally:
                with self._cv:
                    if failed:
                        self.last_error, self._paused = failed, True
                    self._busy = False
                    self._cv.notify_all()
            time.sleep(0.001)  # a control waiting for the lock gets it between steps


class Replays:
    """The replays of one process, at most one per session: archived sessions (`archive`, the
    archive's layout) played into `live_root`, asked of the service at `service_url`."""

    def __init__(self, archive: Path, live_root: Path, service_url: str):
        self.archive = Path(archive)
        self.live_root = Path(live_root)
        self.service_url = service_url
        self._players: dict[str, Player] = {}
        self._lock = threading.Lock()

    def sessions(self) -> list[dict]:
        """The archive's sessions, by season and round."""
        refs = ArchiveSource(self.archive).catalog()
        return [
            {
                "session_key": ref.key,
                "season": ref.season,
                "round": ref.round,
                "event_name": ref.event_name,
                "session_name": ref.session_name,
                "session_type": ref.session_type,
                "event_date": ref.event_date.isoformat(),
            }
            for ref in sorted(refs, key=lambda r: (r.season, r.round, r.event_date, r.key))
        ]

    def start(self, session_key: str, speed, api_key: str, started_by: str | None = None) -> dict:
        """Starts replaying the session, asking the service with `api_key` (the user's: the
        service logs the predictions like any live client's). A finished replay of it is
        replaced; one playing or paused is `ReplayBusy`."""
        speed = check_speed(speed)
        with self._lock:
            running = self._players.get(session_key)
            if running is not None and running.state in ("playing", "paused"):
                raise ReplayBusy(
                    f"{session_key} is already being replayed ({running.state} at lap "
                    f"{running.playback.lap}): pause, seek or stop that replay"
                )
            try:
                ref, raw = load(self.archive, session_key)
            except KeyError:
                raise UnknownReplay(
                    f"no archived session {session_key!r} (GET /api/replay/sessions lists them)"
                ) from None
            except SessionReadError as exc:
                raise InvalidControl(f"{session_key} cannot be replayed: {exc}") from exc
            if running is not None:
                running.stop()
            client = ExitStack()
            predict, _ = client.enter_context(service_client(self.service_url, api_key, timeout=10.0))
            try:
                player = Player(ref, raw, self.live_root, predict, speed, started_by=started_by, on_close=client.close)
            except ValueError as exc:  # nothing in the session to play (no lap with a start time)
                client.close()
                raise InvalidControl(f"{session_key} cannot be replayed: {exc}") from exc
            except BaseException:
                client.close()
                raise
            self._players[session_key] = player
        logger.info("replaying %s at %gx (started by %s)", session_key, speed, started_by)
        return player.status()

    def get(self, session_key: str) -> Player:
        player = self._players.get(session_key)
        if player is None:
            raise UnknownReplay(f"no replay of {session_key!r}: start one first")
        return player

    def statuses(self) -> list[dict]:
        return [player.status() for player in list(self._players.values())]

    def stop(self, session_key: str) -> dict:
        with self._lock:
            player = self.get(session_key)
            del self._players[session_key]
        return player.stop()

    def stop_all(self) -> None:
        with self._lock:
            players, self._players = list(self._players.values()), {}
        for player in players:
            player.stop()
