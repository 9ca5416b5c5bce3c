"""Where live session states are kept (the online feature store): in each process (`memory`, the
embedded default: each service worker fills its own from the live folder) or in Redis (`redis://`,
shared by every worker and replica on any machine). Selected by `F1_ONLINE_STORE`.

Both keep, per session, its manifest row, its laps keyed by (driver, lap number) and its weather
readings keyed by session time. A lap landing twice counts once, the first one stays (the
pipeline quarantines a repeated lap the same way); a reading at a time already held replaces it
(the pipeline keeps both, and a lap reads the last). A session expires `ttl_s` after its last
row landed (in Redis, after it was last written).

`replace` makes a session exactly the rows given, under a generation (the live folder's: a
replay sought back writes its session anew), unless the store holds that generation already;
states then carry that `generation`, so a reader can tell the session was started anew.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field

from f1_core.session_state import SessionMeta, SessionState, lookup_key

logger = logging.getLogger(__name__)

DEFAULT_TTL_S = 6 * 3600  # a race with a long red flag still ends within its 3 h window


def lap_id(lap: dict) -> str:
    return f"{lap['driver']}|{lap['lap_number']}"


def weather_id(reading: dict) -> str:
    return repr(float(reading["session_time_s"]))


class StoreUnavailable(Exception):
    """The store cannot be reached: the caller answers without a session state."""


@dataclass
class _Session:
    meta: SessionMeta
    laps: dict = field(default_factory=dict)  # lap_id -> row
    weather: dict = field(default_factory=dict)  # weather_id -> row
    updated_at: float = 0.0
    version: int = 0
    state: SessionState | None = None
    generation: str | None = None

    def add(self, laps: list[dict], weather: list[dict], landed_at: float) -> int:
        new = 0
        for lap in laps:
            if self.laps.setdefault(lap_id(lap), lap) is lap:
                new += 1
        added_weather = 0
        for reading in weather:  # a reading at a time already held replaces it, as the pipeline reads them
            ident = weather_id(reading)
            if self.weather.get(ident) != reading:
                self.weather[ident] = reading
                added_weather += 1
        if new or added_weather:
            self.version += 1
        self.updated_at = max(self.updated_at, landed_at)
        return new

    def snapshot(self) -> SessionState:
        if self.state is None or self.state.version != self.version:
            self.state = SessionState(
                self.meta,
                list(self.laps.values()),
                list(self.weather.values()),
                self.version,
                self.updated_at,
                previous=self.state,
                generation=self.generation,
            )
        return self.state


class MemoryStore:
    """States held by this process."""

    backend = "memory"

    def __init__(self, ttl_s: float = DEFAULT_TTL_S, clock=time.time):
        self.ttl_s = ttl_s
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._keys: dict[str, str] = {}  # lookup key -> session key
        self._lock = threading.Lock()

    def add(self, meta: SessionMeta, laps: list[dict], weather: list[dict], landed_at: float | None = None) -> int:
        """Adds rows of a session (the `standardize` columns, as Python values); returns how many
        laps were new. A session it does not hold (new, or expired) starts a new generation."""
        return self._put(meta, laps, weather, landed_at, None)

    def replace(
        self,
        meta: SessionMeta,
        laps: list[dict],
        weather: list[dict],
        landed_at: float | None = None,
        generation: str | None = None,
    ) -> int:
        """The session becomes exactly these rows, under `generation` (its rows from before are
        dropped), unless it is that generation already: then they are added."""
        return self._put(meta, laps, weather, landed_at, generation or secrets.token_hex(8))

    def _put(
        self, meta: SessionMeta, laps: list[dict], weather: list[dict], landed_at: float | None, generation: str | None
    ) -> int:
        """`add` (no `generation`) or `replace`."""
        with self._lock:
            before = self._sessions.get(meta.session_key)
            if before is None or (generation is not None and before.generation != generation):
                session = self._sessions[meta.session_key] = _Session(
                    meta, generation=generation or secrets.token_hex(8)
                )
                # a version no reader of the one before has seen
                session.version = before.version + 1 if before is not None else 0
                if before is not None:
                    self._keys.pop(before.meta.lookup, None)
                self._keys[meta.lookup] = meta.session_key
            session = self._sessions[meta.session_key]
            new = session.add(laps, weather, self._clock() if landed_at is None else landed_at)
            state = session.snapshot()
        state.warm()  # outside the lock: readers keep the previous state meanwhile
        return new

    def has(self, session_key: str) -> bool:
        return self.get(session_key) is not None

    def get(self, session_key: str) -> SessionState | None:
        with self._lock:
            session = self._sessions.get(session_key)
            if session is None:
                return None
            if self._clock() - session.updated_at > self.ttl_s:
                self._drop(session_key)
                return None
            return session.snapshot()

    def find(self, season: int, event: str, session: str) -> SessionState | None:
        """The state of the session a request names, or None."""
        key = self._keys.get(lookup_key(season, event, session))
        return None if key is None else self.get(key)

    def sessions(self) -> list[SessionState]:
        return [state for key in list(self._sessions) if (state := self.get(key)) is not None]

    def status(self) -> dict:
        return {"backend": self.backend, "available": True, "error": None}

    def close(self) -> None:
        pass

    def _drop(self, session_key: str) -> None:
        session = self._sessions.pop(session_key)
        self._keys.pop(session.meta.lookup, None)
        logger.info("live session %s expired from the state", session_key)


_PARTS = ("meta", "generation", "lap_ids", "laps", "weather_ids", "weather")


# Adds rows that are new (HSETNX on their ids) and appends those to the session's log, in one
# atomic step: two feeders landing the same lap add it once.
_ADD_ROWS = """
local added = 0
for i = 1, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[i + 1])
    added = added + 1
  end
end
return added
"""


# Weather readings: a reading at a session time already held replaces it (the pipeline keeps
# every row and a lap reads the last one at or before its start).
_SET_ROWS = """
local added = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    redis.call('RPUSH', KEYS[2], ARGV[i + 1])
    added = added + 1
  end
end
return added
"""


class RedisStore:
    """States in Redis, shared by every process that points at it. Each process keeps a copy of
    the sessions it read and fetches only the rows appended since (one round trip per read).
    When Redis cannot be reached, reads raise `StoreUnavailable` for `retry_s` without trying
    again (a request must not wait on a dead server), then reconnect by themselves."""

    backend = "redis"

    def __init__(
        self,
        url: str,
        ttl_s: float = DEFAULT_TTL_S,
        prefix: str = "f1:live:",
        timeout_s: float = 0.25,
        retry_s: float = 1.0,
    ):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = url
        self.ttl_s = ttl_s
        self.prefix = prefix
        self.retry_s = retry_s
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
        self._errors = (redis.RedisError, OSError)
        self._add_rows = self._redis.register_script(_ADD_ROWS)
        self._set_rows = self._redis.register_script(_SET_ROWS)
        self._local = MemoryStore(ttl_s=float("inf"))
        self._read: dict[str, tuple[int, int]] = {}  # session key -> (laps, readings) read so far
        self._keys: dict[str, str] = {}
        self._lock = threading.Lock()
        self._down_until = 0.0
        self.error: str | None = None

    def _key(self, session_key: str, part: str) -> str:
        return f"{self.prefix}{session_key}:{part}"

    def add(self, meta: SessionMeta, laps: list[dict], weather: list[dict], landed_at: float | None = None) -> int:
        key = meta.session_key
        with self._call():
            pipe = self._redis.pipeline(transaction=False)
            # a new generation whenever the session is written anew (after a restart lost it):
            # readers then read it whole instead of going on from where they were
            pipe.set(self._key(key, "generation"), secrets.token_hex(8), nx=True)
            added = self._write(pipe, meta, laps, weather)
            return pipe.execute()[added]

    def _write(self, pipe, meta: SessionMeta, laps: list[dict], weather: list[dict]) -> int:
        """Queues the session's meta and new rows, and its expiry; returns the position in the
        pipeline of the command whose result is how many laps were new."""
        key = meta.session_key
        pipe.set(self._key(key, "meta"), json.dumps(meta.as_dict()))
        pipe.hset(f"{self.prefix}index", meta.lookup, key)
        added = len(pipe)
        self._add_rows(keys=[self._key(key, "lap_ids"), self._key(key, "laps")], args=_pairs(laps, lap_id), client=pipe)
        self._set_rows(
            keys=[self._key(key, "weather_ids"), self._key(key, "weather")],
            args=_pairs(weather, weather_id),
            client=pipe,
        )
        for part in _PARTS:
            pipe.expire(self._key(key, part), max(int(self.ttl_s), 1))
        return added

    def replace(
        self,
        meta: SessionMeta,
        laps: list[dict],
        weather: list[dict],
        landed_at: float | None = None,
        generation: str | None = None,
    ) -> int:
        """As `MemoryStore.replace`, in one transaction: readers see the session before or
        after, and read it whole again (its generation key changed)."""
        import redis

        key, generation_key = meta.session_key, self._key(meta.session_key, "generation")
        if generation is None:
            generation = secrets.token_hex(8)
        with self._call():
            while True:
                with self._redis.pipeline(transaction=True) as pipe:
                    try:
                        # watched: a feeder that replaced it meanwhile (with this generation,
                        # rows added after) must not be wiped by a second delete
                        pipe.watch(generation_key)
                        if pipe.get(generation_key) == generation:
                            pipe.unwatch()
                            break  # replaced already, by another feeder: added to
                        pipe.multi()
                        pipe.delete(*(self._key(key, part) for part in _PARTS))
                        pipe.set(generation_key, generation)
                        added = self._write(pipe, meta, laps, weather)
                        return pipe.execute()[added]
                    except redis.WatchError:
                        continue  # the generation changed under the watch: look again
        return self.add(meta, laps, weather, landed_at)

    def has(self, session_key: str) -> bool:
        with self._call():
            return bool(self._redis.exists(self._key(session_key, "meta")))

    def get(self, session_key: str) -> SessionState | None:
        with self._lock, self._call():
            laps_read, weather_read = self._read.get(session_key, (0, 0))
            pipe = self._redis.pipeline(transaction=False)
            pipe.get(self._key(session_key, "meta"))
            pipe.get(self._key(session_key, "generation"))
            pipe.lrange(self._key(session_key, "laps"), laps_read, -1)
            pipe.lrange(self._key(session_key, "weather"), weather_read, -1)
            meta, generation, laps, weather = pipe.execute()
            if meta is None:  # expired, or lost with a restart of Redis
                self._forget(session_key)
                return None
            held = self._local._sessions.get(session_key)
            if held is not None and generation is not None and held.generation != generation:
                # written anew since (a restart lost it): read it whole again
                self._forget(session_key)
                return self._reload(session_key)
            if session_key not in self._read:  # read whole
                return self._take_whole(session_key, meta, generation, laps, weather)
            if laps or weather:
                self._local.add(_meta(meta), [json.loads(row) for row in laps], [json.loads(row) for row in weather])
                self._read[session_key] = (laps_read + len(laps), weather_read + len(weather))
            return self._local.get(session_key)

    def _reload(self, session_key: str) -> SessionState | None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(self._key(session_key, "meta"))
        pipe.get(self._key(session_key, "generation"))
        pipe.lrange(self._key(session_key, "laps"), 0, -1)
        pipe.lrange(self._key(session_key, "weather"), 0, -1)
        meta, generation, laps, weather = pipe.execute()
        return None if meta is None else self._take_whole(session_key, meta, generation, laps, weather)

    def _take_whole(
        self, session_key: str, meta: str, generation: str | None, laps: list[str], weather: list[str]
    ) -> SessionState | None:
        """The local copy becomes the session as read from Redis, under Redis's generation (so
        its readers, the console's hub, can tell a session written anew)."""
        self._local.replace(
            _meta(meta), [json.loads(row) for row in laps], [json.loads(row) for row in weather], generation=generation
        )
        self._read[session_key] = (len(laps), len(weather))
        return self._local.get(session_key)

    def find(self, season: int, event: str, session: str) -> SessionState | None:
        lookup = lookup_key(season, event, session)
        key = self._keys.get(lookup)
        if key is None:
            with self._call():
                key = self._redis.hget(f"{self.prefix}index", lookup)
            if key is None:
                return None
            self._keys[lookup] = key
        return self.get(key)

    def sessions(self) -> list[SessionState]:
        with self._call():
            keys = set(self._redis.hvals(f"{self.prefix}index"))
        return [state for key in sorted(keys) if (state := self.get(key)) is not None]

    def status(self) -> dict:
        """Whether Redis answers now (a ping, or the failure this process saw under a second ago)."""
        try:
            with self._call():
                self._redis.ping()
        except StoreUnavailable:
            pass
        return {
            "backend": self.backend,
            "url": _redacted(self.url),
            "available": self.error is None,
            "error": self.error,
        }

    def close(self) -> None:
        self._redis.close()

    def _forget(self, session_key: str) -> None:
        self._read.pop(session_key, None)
        self._local._sessions.pop(session_key, None)

    def _call(self):
        return _Guard(self)


class _Guard:
    """Turns Redis failures into `StoreUnavailable`, and skips calls while Redis is known down."""

    def __init__(self, store: RedisStore):
        self.store = store

    def __enter__(self):
        if time.monotonic() < self.store._down_until:
            raise StoreUnavailable(self.store.error)

    def __exit__(self, kind, error, trace):
        store = self.store
        if error is None:
            if store.error is not None:
                logger.info("online store %s reachable again", _redacted(store.url))
            store.error = None
            return False
        if isinstance(error, store._errors):
            store._down_until = time.monotonic() + store.retry_s
            message = f"Redis at {_redacted(store.url)} unreachable: {error}"
            if store.error is None:
                logger.error("online store: %s; answering from requests alone until it is back", message)
            store.error = message
            raise StoreUnavailable(message) from error
        return False


def _pairs(rows: list[dict], id_of) -> list[str]:
    args = []
    for row in rows:
        args += [id_of(row), json.dumps(row, default=str)]
    return args


def _meta(text: str) -> SessionMeta:
    return SessionMeta(**json.loads(text))


def _redacted(url: str) -> str:
    """The URL without its password."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def open_store(url: str | None, ttl_s: float = DEFAULT_TTL_S, prefix: str = "f1:live:"):
    """`memory` (or nothing) or a `redis://` / `rediss://` / `unix://` URL."""
    if not url or url == "memory":
        return MemoryStore(ttl_s=ttl_s)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url, ttl_s=ttl_s, prefix=prefix)
    raise ValueError(f"F1_ONLINE_STORE={url!r}: expected 'memory' or a redis:// URL")
