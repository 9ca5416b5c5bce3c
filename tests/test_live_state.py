"""The live session state, in process: fed from the live lap stream, it gives each requested lap the
pipeline's features as of the lap's start; rows landing twice, malformed, out of order; expiry;
Redis shared by several readers, down and back."""

import logging
import os
import shutil
import signal
import subprocess
import time

import polars as pl
import pytest

from f1_core.features import FEATURES, lap_features
from f1_core.live import LapToPredict
from f1_core.live_feed import LiveFeed
from f1_core.online_store import MemoryStore, RedisStore, StoreUnavailable
from f1_core.replay import LiveFolder, replay
from f1_core.session_state import served_features
from f1_core.standardize import standardize
from f1_serving.local import free_port

# one real session of each kind the service is asked about
SESSIONS = {
    "race": "2023-07-spanish-grand-prix-race",
    "sprint": "2023-04-azerbaijan-grand-prix-sprint",
    "qualifying": "2019-14-italian-grand-prix-qualifying",
    "practice": "2021-14-italian-grand-prix-practice-2",
}


def pipeline_features(raw) -> dict:
    """`lap_features` of the whole session, as the pipeline computes it, by (driver, lap)."""
    standard = standardize(raw)
    total = int(standard.laps["lap_number"].max()) if raw.ref.session_type in ("race", "sprint") else None
    session = standard.session.with_columns(pl.lit(total, pl.Int16).alias("total_laps"))
    rows = lap_features(standard.laps, session, standard.weather)
    return {(row["driver"], row["lap_number"]): row for row in rows.iter_rows(named=True)}


def differences(served: dict, pipeline: dict) -> list[str]:
    """Every feature of every served lap that is not the pipeline's (to 1e-9)."""
    wrong = []
    for lap, row in served.items():
        expected = pipeline[lap]
        for name in FEATURES:
            a, b = row[name], expected[name]
            same = a == b or (a is not None and b is not None and not isinstance(a, str) and abs(a - b) <= 1e-9)
            if not same:
                wrong.append(f"{lap} {name}: served {a!r}, pipeline {b!r}")
    return wrong


def in_process(store, feed):
    """A `replay` client computing features as the service does, recording them."""
    served, contexts = {}, []

    def predict(requests):
        laps = [LapToPredict(**request) for request in requests]
        for lap in laps:
            feed.sync_session(lap.season, lap.event, lap.session)
        rows, context = served_features(laps, lambda lap: store.find(lap.season, lap.event, lap.session))
        contexts.extend(context)
        served.update(((lap.driver, lap.lap_number), row) for lap, row in zip(laps, rows, strict=True))
        return [{} for _ in laps]

    return predict, served, contexts


def streamed_as_the_pipeline(raw, folder):
    """The whole session streamed into `folder` (in process, a memory store); every lap asked
    for as it starts, from the session's state, gets exactly the features the pipeline computes
    for it from the whole session. Returns the features served and the pipeline's (by (driver,
    lap)), the replay's state and the feed."""
    store = MemoryStore()
    feed = LiveFeed(folder, store)
    predict, served, contexts = in_process(store, feed)
    state = replay(raw.ref, raw, folder, predict, speed=1e9, tick=30.0)
    assert state.failed_requests == 0 and set(contexts) == {"session"}
    pipeline = pipeline_features(raw)
    assert differences(served, pipeline) == []
    return served, pipeline, state, feed


@pytest.mark.parametrize("kind", sorted(SESSIONS))
def test_each_lap_gets_the_pipelines_features_as_it_starts(kind, real_session, tmp_path):
    """A whole real session streamed into the live folder; every lap asked for as it starts
    gets exactly the features the pipeline computes for it from the whole session."""
    raw = real_session(SESSIONS[kind])
    served, pipeline, state, feed = streamed_as_the_pipeline(raw, tmp_path)
    assert len(served) == state.predicted > 0.9 * len(pipeline)
    assert feed.skipped == {}


def test_without_a_state_the_lap_is_answered_from_the_request(tmp_path):
    store = MemoryStore()
    lap = LapToPredict(
        season=2023,
        event="Spanish Grand Prix",
        session="Race",
        driver="VER",
        lap_number=3,
        compound="SOFT",
        tyre_life=3,
        previous_laps=[{"lap_number": 1, "lap_time": 90.1}, {"lap_number": 2, "lap_time": 81.4}],
    )
    rows, contexts = served_features([lap], lambda lap: store.find(lap.season, lap.event, lap.session))
    assert contexts == ["request"] and rows[0]["prev_lap_time_s"] == 81.4


@pytest.fixture
def spain(real_session, tmp_path):
    """The real Spanish race's live folder, empty, and its source rows."""
    raw = real_session(SESSIONS["race"])
    return raw, LiveFolder(tmp_path, raw.ref, raw)


def _laps_of(store, ref) -> pl.DataFrame:
    state = store.find(ref.season, ref.event_name, ref.session_name)
    return pl.DataFrame(state.laps, infer_schema_length=None).sort("driver", "lap_number")


def test_laps_landing_out_of_order_and_twice_count_once(spain, tmp_path):
    raw, folder = spain
    store = MemoryStore()
    feed = LiveFeed(tmp_path, store)
    shuffled = raw.laps.sample(fraction=1.0, shuffle=True, seed=3)
    for part in shuffled.iter_slices(97):
        folder.land(folder.laps_path, part)
        feed.sync()
    folder.land(folder.laps_path, raw.laps[40:45])  # five laps again
    feed.sync()
    held = _laps_of(store, raw.ref)
    standard = standardize(raw).laps.sort("driver", "lap_number")
    assert held.drop("lap_start_date", "source_row").equals(standard.drop("lap_start_date", "source_row"))
    assert feed.skipped == {(raw.ref.key, "laps"): 5}


def test_a_malformed_row_is_skipped_counted_and_logged_and_the_stream_goes_on(spain, tmp_path, caplog):
    raw, folder = spain
    store = MemoryStore()
    skipped = []
    feed = LiveFeed(tmp_path, store, on_skip=lambda *args: skipped.append(args))
    folder.land(folder.laps_path, raw.laps[:10])
    bad = raw.laps[10:11].with_columns(pl.lit("twelve").alias("TyreLife"))
    folder.land(folder.laps_path, bad)
    with folder.laps_path.open("a") as handle:
        handle.write("VER,1,not,enough,fields\n")
        handle.write("\n")  # a blank line is no row
    folder.land(folder.laps_path, raw.laps[11:20])
    with folder.laps_path.open("a") as handle:
        handle.write(raw.laps[20:21].write_csv(include_header=False).rstrip("\n"))  # still being written
    with caplog.at_level(logging.WARNING, logger="f1_core.live_feed"):
        feed.sync()
    assert _laps_of(store, raw.ref).height == 19
    assert sorted((row, reason.split(":")[0]) for _, _, row, reason in skipped) == [
        (11, "unparseable_value(TyreLife=twelve)"),
        (12, "unreadable line"),
    ]
    assert f"session {raw.ref.key}, laps row 11 skipped" in caplog.text
    assert f"session {raw.ref.key}, laps row 12 skipped" in caplog.text
    with folder.laps_path.open("a") as handle:
        handle.write("\n")  # the line being written is complete now
    feed.sync()
    assert _laps_of(store, raw.ref).height == 20 and feed.skipped[(raw.ref.key, "laps")] == 2


def test_a_rewritten_file_is_read_again_and_nothing_held_is_lost(spain, tmp_path):
    raw, folder = spain
    store = MemoryStore()
    feed = LiveFeed(tmp_path, store)
    folder.land(folder.laps_path, raw.laps[:30])
    feed.sync()
    raw.laps[:5].write_csv(folder.laps_path.with_suffix(".tmp"))  # a client starting over
    folder.laps_path.with_suffix(".tmp").replace(folder.laps_path)
    feed.sync()
    assert _laps_of(store, raw.ref).height == 30


def test_a_session_state_expires_after_its_last_row_landed(spain, tmp_path):
    raw, folder = spain
    now = [time.time()]
    store = MemoryStore(ttl_s=3600, clock=lambda: now[0])
    feed = LiveFeed(tmp_path, store, ttl_s=3600, clock=lambda: now[0])
    folder.land(folder.laps_path, raw.laps[:30])
    feed.sync()
    assert store.find(raw.ref.season, raw.ref.event_name, raw.ref.session_name) is not None
    now[0] += 3601
    feed.sync()
    assert store.find(raw.ref.season, raw.ref.event_name, raw.ref.session_name) is None
    folder.land(folder.laps_path, raw.laps[30:40])  # the session goes on: read whole again
    now[0] = time.time()
    feed.sync()
    assert _laps_of(store, raw.ref).height == 40


class RedisServer:
    """A private redis-server on a free port, so a test can stop and start it."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tmp_path
        self.process = None

    def start(self):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (.ci/run installs it)")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(self.url).ping()
                return self
            except redis.ConnectionError:
                time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def test_redis_shares_one_state_between_readers(spain, tmp_path, redis_server):
    """Two processes' stores (two workers, or replicas on two machines) feeding and reading one
    Redis: each lap once, the same state in both."""
    raw, folder = spain
    first, second = stores = [RedisStore(redis_server.url, prefix=f"t{os.getpid()}:") for _ in range(2)]
    feeds = [LiveFeed(tmp_path, first), LiveFeed(tmp_path, second)]
    folder.land(folder.laps_path, raw.laps[:200])
    folder.land(folder.weather_path, raw.weather[:20])
    for feed in feeds:
        feed.sync()
    folder.land(folder.laps_path, raw.laps[200:300])
    feeds[1].sync()
    for store in (first, second):
        held = _laps_of(store, raw.ref)
        assert held.height == 300 and held.select("driver", "lap_number").is_unique().all()
        assert len(store.find(raw.ref.season, raw.ref.event_name, raw.ref.session_name).weather) == 20
    for store in stores:
        store.close()


def test_redis_down_then_back(spain, tmp_path, redis_server):
    """Down: reads raise StoreUnavailable at once (no waiting on each request) and the store
    says why; back (empty, as this machine's Redis keeps nothing on disk): the feed adds the
    session again and reads recover by themselves."""
    raw, folder = spain
    store = RedisStore(redis_server.url, retry_s=0.2)
    feed = LiveFeed(tmp_path, store)
    folder.land(folder.laps_path, raw.laps[:100])
    feed.sync()
    assert _laps_of(store, raw.ref).height == 100
    redis_server.stop()
    with pytest.raises(StoreUnavailable):
        store.find(raw.ref.season, raw.ref.event_name, raw.ref.session_name)
    started = time.perf_counter()
    with pytest.raises(StoreUnavailable):
        store.find(raw.ref.season, raw.ref.event_name, raw.ref.session_name)
    assert time.perf_counter() - started < 0.05
    assert store.status()["available"] is False and "unreachable" in store.status()["error"]
    redis_server.start()  # waits for its first PONG
    # the store itself tries again only once `retry_s` has passed since it saw Redis down: the
    # first read after that reaches Redis, by itself
    deadline = time.monotonic() + store.retry_s + 2.0
    while True:
        try:
            found = store.find(raw.ref.season, raw.ref.event_name, raw.ref.session_name)
            break
        except StoreUnavailable:
            assert time.monotonic() < deadline, "reads did not recover once Redis was back"
            time.sleep(0.02)
    assert found is None  # lost with the restart
    feed.sync()  # the feed notices and reads its files again
    assert _laps_of(store, raw.ref).height == 100 and store.status()["available"] is True
    store.close()


def test_f1_live_feed_fills_the_shared_store_for_replicas_that_do_not_read_the_folder(spain, tmp_path, monkeypatch):
    """`f1 live-feed` against this machine's Redis: what landed is there for any reader."""
    from click.testing import CliRunner

    from f1_assets.cli import main

    raw, folder = spain
    folder.land(folder.laps_path, raw.laps[:30])
    prefix = f"f1test-feed-{os.getpid()}-{time.time_ns()}:"
    monkeypatch.setenv("F1_LIVE_DIR", str(tmp_path))
    monkeypatch.setenv("F1_ONLINE_STORE", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("F1_ONLINE_STORE_PREFIX", prefix)
    fed = CliRunner().invoke(main, ["live-feed", "--once"])
    assert fed.exit_code == 0, fed.output
    assert f"{raw.ref.key}: 30 laps" in fed.output
    reader = RedisStore("redis://127.0.0.1:6379/0", prefix=prefix)
    try:
        assert _laps_of(reader, raw.ref).height == 30
    finally:
        keys = list(reader._redis.scan_iter(match=f"{prefix}*"))
        reader._redis.delete(*keys)
        reader.close()
    monkeypatch.setenv("F1_ONLINE_STORE", "memory")
    refused = CliRunner().invoke(main, ["live-feed", "--once"])
    assert refused.exit_code == 2 and "F1_ONLINE_STORE is memory" in refused.output


def test_the_race_distance_comes_from_the_manifest_when_the_request_has_none(real_session, tmp_path):
    """A live-timing client may list the race distance once, in the manifest's `total_laps`."""
    raw = real_session(SESSIONS["race"])
    total = int(standardize(raw).laps["lap_number"].max())
    folder = LiveFolder(tmp_path, raw.ref, raw, total_laps=total)
    folder.land(folder.laps_path, raw.laps)
    store = MemoryStore()
    LiveFeed(tmp_path, store).sync()
    laps = standardize(raw).laps.filter(pl.col("driver") == "VER")
    from f1_core.live import request_for

    asked = request_for(laps, 30, season=raw.ref.season, event=raw.ref.event_name, session=raw.ref.session_name)
    given = asked.model_copy(update={"total_laps": total})
    rows, _ = served_features([asked, given], lambda lap: store.find(lap.season, lap.event, lap.session))
    assert rows[0]["fuel_kg"] is not None and differences({1: rows[0]}, {1: rows[1]}) == []


def test_rows_a_store_failed_to_take_are_read_again(spain, tmp_path):
    raw, folder = spain
    store = MemoryStore()

    class Flaky:
        """The store, refusing the next write once told to (a Redis blip); `writes` names each
        write tried, taken or not."""

        refuse_next = True
        writes: list[str]

        def __init__(self):
            self.writes = []

        def __getattr__(self, name):
            return getattr(store, name)

        def _write(self, write, *args, **kwargs):
            self.writes.append(write.__name__)
            if self.refuse_next:
                self.refuse_next = False
                raise StoreUnavailable("down for a moment")
            return write(*args, **kwargs)

        def add(self, *args, **kwargs):
            return self._write(store.add, *args, **kwargs)

        def replace(self, *args, **kwargs):
            return self._write(store.replace, *args, **kwargs)

    flaky = Flaky()
    feed = LiveFeed(tmp_path, flaky)
    # the first write is the replace that starts the session's generation (LiveFolder writes one)
    folder.land(folder.laps_path, raw.laps[:10])
    with pytest.raises(StoreUnavailable):
        feed.sync()
    feed.sync()
    assert flaky.writes == ["replace", "replace"]
    assert _laps_of(store, raw.ref).height == 10
    # once the session is in the store, an add refused: its rows are read again, none twice
    folder.land(folder.laps_path, raw.laps[10:20])
    flaky.refuse_next = True
    with pytest.raises(StoreUnavailable):
        feed.sync()
    assert _laps_of(store, raw.ref).height == 10
    feed.sync()
    assert flaky.writes == ["replace", "replace", "add", "add"]
    held = _laps_of(store, raw.ref)
    assert held.height == 20 and held.select("driver", "lap_number").is_unique().all()
    assert feed.skipped == {}  # the rows read again are not counted as landing twice


def test_an_empty_or_headerless_file_is_waited_for_not_a_crash(spain, tmp_path):
    raw, folder = spain
    folder.weather_path.write_text("")  # created, nothing written yet
    folder.land(folder.laps_path, raw.laps[:10])
    store = MemoryStore()
    feed = LiveFeed(tmp_path, store)
    feed.sync()
    assert _laps_of(store, raw.ref).height == 10
    folder.weather_path.write_text("\n")  # a blank line, the header still to come
    feed.sync()
    raw.weather[:3].write_csv(folder.weather_path)
    feed.sync()
    assert len(store.find(raw.ref.season, raw.ref.event_name, raw.ref.session_name).weather) == 3


def test_a_reader_of_redis_reads_a_session_whole_again_after_a_restart(spain, tmp_path, redis_server):
    """Redis restarted empty; the feed adds the session again (its rows in another order); a
    reader that had read part of it before gets every lap, not the tail past its old place."""
    raw, folder = spain
    feeder, reader = RedisStore(redis_server.url), RedisStore(redis_server.url)
    feed = LiveFeed(tmp_path, feeder)
    folder.land(folder.laps_path, raw.laps[:40])
    feed.sync()
    assert _laps_of(reader, raw.ref).height == 40
    redis_server.stop()
    redis_server.start()  # waits for its first PONG
    folder.land(folder.laps_path, raw.laps[40:50])
    feed.sync()
    assert _laps_of(reader, raw.ref).height == 50
    feeder.close()
    reader.close()
