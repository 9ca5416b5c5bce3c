"""FastF1 itself: online with its cache, or offline over a frozen HTTP cache (same code path).

FastF1 keeps its cache configuration in class state, so one process serves one FastF1
configuration at a time; `_configure` switches it when a different source asks.
"""

from __future__ import annotations

import io
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from f1_core.calendar import PUBLISHED_WITHIN, ScheduledSession, Weekend
from f1_core.catalog import SESSION_TYPES, SessionRef, circuit_ref
from f1_core.errors import SessionNotAvailableError, SourceUnavailableError
from f1_core.raw import LAP_COLUMNS, WEATHER_COLUMNS, RawSession, read_csv_text

log = logging.getLogger(__name__)

LIVETIMING_URL = "https://livetiming.formula1.com"
_configured: tuple | None = None


_console_level = "WARNING"  # what FastF1 prints (`quiet_console`)


def _configure(cache_dir: Path, http_cache: Path | None) -> None:
    """Points FastF1 at its cache; with `http_cache`, at a frozen, read-only response store."""
    global _configured
    key = (str(cache_dir), str(http_cache))
    if _configured == key:
        return
    import fastf1

    # FastF1 narrates every request at INFO; its warnings (and our retry log) are what matter.
    fastf1.set_log_level(_console_level)
    cache_dir.mkdir(parents=True, exist_ok=True)
    if http_cache is None:
        fastf1.Cache.configure(cache_dir=str(cache_dir))
        fastf1.Cache.offline_mode(False)
    else:
        from requests_cache.backends.filesystem import FileCache

        if not http_cache.is_dir():
            raise FileNotFoundError(f"frozen HTTP cache {http_cache} does not exist")
        fastf1.Cache.configure(cache_dir=str(cache_dir), _backend=FileCache(str(http_cache)))
        # Nothing may ever be written into the frozen store (it is shared and read-only in CI).
        fastf1.Cache._requests_session_cached.settings.allowable_codes = ()
        fastf1.Cache.offline_mode(True)
    _configured = key


def quiet_console() -> None:
    """FastF1 prints errors only, from now on: its warnings (a stint fixed, weather missing)
    still reach the loader, which names them in the error of a session it cannot load, but not a
    benchmark's or a job's output."""
    global _console_level
    import fastf1

    _console_level = "ERROR"
    fastf1.set_log_level(_console_level)


class _FailureLog(logging.Handler):
    """Collects what FastF1 logged while loading: it swallows most errors and only logs them."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        self.messages.append(text)


class FastF1Source:
    """Sessions from FastF1. `http_cache` set: offline over that frozen cache ("fastf1-cache")."""

    def __init__(
        self,
        cache_dir: str | Path,
        seasons: list[int],
        http_cache: str | Path | None = None,
        retries: int = 3,
        backoff_seconds: float = 5.0,
        clock=lambda: datetime.now(UTC).replace(tzinfo=None),
    ):
        self.cache_dir = Path(cache_dir)
        self.seasons = list(seasons)
        self.http_cache = Path(http_cache) if http_cache else None
        self.name = "fastf1-cache" if self.http_cache else "fastf1"
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.clock = clock

    def catalog(self, seasons: list[int] | None = None) -> list[SessionRef]:
        refs: list[SessionRef] = []
        for season in self.seasons if seasons is None else [s for s in seasons if s in self.seasons]:
            _configure(self.cache_dir, self.http_cache)
            schedule = self._schedule(season, f"season {season}")
            for weekend in self._weekends(season, schedule):
                event = schedule.get_event_by_round(weekend.round)
                refs += [session.ref for session in weekend.sessions if self._is_available(event, session)]
        return refs

    def weekends(self, season: int) -> list[Weekend]:
        """The season's race weekends from FastF1's event schedule (online, or the frozen one)."""
        _configure(self.cache_dir, self.http_cache)
        return self._weekends(season, self._schedule(season, f"season {season}"))

    def _weekends(self, season: int, schedule) -> list[Weekend]:
        weekends = []
        for _, event in schedule.iterrows():
            sessions = []
            for number in range(1, 6):
                name = event.get(f"Session{number}")
                start = event.get(f"Session{number}DateUtc")
                if not isinstance(name, str) or name.lower() not in SESSION_TYPES or start is None or start != start:
                    continue
                ref = SessionRef(
                    season=season,
                    round=int(event["RoundNumber"]),
                    event_name=event["EventName"],
                    session_name=name,
                    event_date=event["EventDate"].date(),
                    location=event["Location"],
                    country=event["Country"],
                    circuit_ref=circuit_ref(event["Location"]),
                    source=self.name,
                    locator=f"{season}/{int(event['RoundNumber'])}/{name}",
                )
                sessions.append(ScheduledSession(ref, start.to_pydatetime()))
            if sessions:
                weekends.append(Weekend(season, int(event["RoundNumber"]), event["EventName"], tuple(sessions)))
        return weekends

    def _schedule(self, season: int, what: str):
        """FastF1's event schedule; `what` names the season or session in the error."""
        import fastf1
        from fastf1.exceptions import RateLimitExceededError

        # The schedule request sits outside `Session.load`, so a network failure here is not
        # swallowed: FastF1 tries its three schedule backends and, when all fail, raises a bare
        # ValueError (its only ValueError), or RateLimitExceededError.
        try:
            return fastf1.get_event_schedule(season, include_testing=False)
        except RateLimitExceededError as exc:
            raise SourceUnavailableError(
                f"{what}: FastF1's API rate limit reached ({exc}); try again in an hour"
            ) from exc
        except ValueError as exc:
            raise SourceUnavailableError(f"{what}: FastF1 could not load the {season} event schedule ({exc})") from exc

    def _is_available(self, event, scheduled: ScheduledSession) -> bool:
        if self.http_cache is None:
            return scheduled.due <= self.clock()
        # Offline, a session is there exactly when the frozen store holds both timing streams.
        import fastf1

        session = event.get_session(scheduled.ref.session_name)
        store = fastf1.Cache._requests_session_cached.cache
        return all(
            store.contains(url=f"{LIVETIMING_URL}{session.api_path}{stream}.jsonStream")
            for stream in ("TimingData", "TimingAppData")
        )

    def load(self, ref: SessionRef) -> RawSession:
        from fastf1.exceptions import DataNotLoadedError, RateLimitExceededError

        _configure(self.cache_dir, self.http_cache)
        season, round_, session_name = ref.locator.split("/", 2)
        # What `fastf1.get_session` does, but with the schedule fetched apart: a schedule that cannot
        # be downloaded is the source being unavailable, a bad round or session name a ValueError.
        event = self._schedule(int(season), f"session {ref.key}").get_event_by_round(int(round_))
        session = event.get_session(session_name)
        scheduled = ScheduledSession(ref, session.event.get_session_date(session_name, utc=True).to_pydatetime())
        if self.http_cache is None and scheduled.due > self.clock():
            raise SessionNotAvailableError(
                ref.key,
                f"it starts {scheduled.start:%Y-%m-%d %H:%M} UTC; its timing data is due from"
                f" {scheduled.due:%Y-%m-%d %H:%M} UTC",
            )
        failures = _FailureLog()
        fastf1_log = logging.getLogger("fastf1")
        for attempt in range(1, self.retries + 1):
            failures.messages.clear()
            fastf1_log.addHandler(failures)
            try:
                session.load(laps=True, telemetry=False, weather=True, messages=True)
                laps = session.laps
                if len(laps) == 0:
                    raise DataNotLoadedError("no laps")
                break
            except RateLimitExceededError as exc:
                raise SourceUnavailableError(
                    f"session {ref.key}: FastF1's API rate limit reached ({exc}); try again in an hour"
                ) from exc
            except DataNotLoadedError:
                cause = "; ".join(failures.messages[-3:]) or "FastF1 returned no laps"
                if self.http_cache is None and self.clock() < scheduled.due + PUBLISHED_WITHIN:
                    # F1 publishes late at times: try later, not a failure (until PUBLISHED_WITHIN)
                    raise SessionNotAvailableError(
                        ref.key, f"its timing data, due from {scheduled.due:%Y-%m-%d %H:%M} UTC, is not published yet"
                    ) from None
                if attempt == self.retries:
                    if self.http_cache is not None:
                        raise SourceUnavailableError(
                            f"session {ref.key}: the frozen cache {self.http_cache} cannot provide its laps: {cause}"
                        ) from None
                    raise SourceUnavailableError(
                        f"session {ref.key}: no lap data after {attempt} attempts: {cause}"
                    ) from None
                wait = self.backoff_seconds * 2 ** (attempt - 1)
                log.warning("session %s: attempt %d failed (%s); retrying in %.1f s", ref.key, attempt, cause, wait)
                time.sleep(wait)
            finally:
                fastf1_log.removeHandler(failures)

        laps_origin = f"fastf1:{session.api_path}laps"
        raw_laps = read_csv_text(_to_csv(laps), session_key=ref.key, path=laps_origin, required=LAP_COLUMNS)
        try:
            weather_frame = session.weather_data
        except DataNotLoadedError:
            weather_frame = None
        raw_weather = None
        weather_origin = None
        if weather_frame is not None and len(weather_frame):
            weather_origin = f"fastf1:{session.api_path}weather"
            raw_weather = read_csv_text(
                _to_csv(weather_frame), session_key=ref.key, path=weather_origin, required=WEATHER_COLUMNS
            )
        return RawSession(
            ref=ref, laps=raw_laps, weather=raw_weather, laps_path=laps_origin, weather_path=weather_origin
        )


def _to_csv(frame) -> str:
    """Writes a FastF1 table the way the archive was written: pandas `to_csv`, no index."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue()
