"""The steerable replay (`f1_core.player`, on `replay.Playback`) without the service: a real race
paused, resumed, sped up and sought; a seek back rewrites the live folder as a new generation of
the session, which the live feed's state (in memory and in Redis) and the console's hub take as
the session started anew; bad speeds and seeks are refused with a reason."""

import os
import threading
import time
from dataclasses import replace

import polars as pl
import pytest

from f1_console.hub import LiveHub
from f1_core import settings
from f1_core.live_feed import LiveFeed
from f1_core.online_store import MemoryStore, RedisStore
from f1_core.player import InvalidControl, Player, ReplayBusy, Replays, UnknownReplay
from f1_core.replay import LiveFolder, Playback, load
from tests.test_live_state import redis_server  # noqa: F401  (a private Redis, as there)

SESSION = "2023-09-austrian-grand-prix-race"


@pytest.fixture(scope="module")
def austria():
    return load(settings.archive_dir(), SESSION)


def answering(asked: list):
    """A stand-in for the service: every lap 70 s from the session's state, the requests kept."""

    def predict(requests):
        asked.extend((r["driver"], r["lap_number"]) for r in requests)
        return [{"lap_time": 70.0, "context": "session", "model_version": "1"} for _ in requests]

    return predict


def folder_laps(playback: Playback) -> pl.DataFrame:
    return pl.read_csv(playback.folder.laps_path, infer_schema=False)


def manifest_generation(root) -> str:
    return pl.read_csv(root / "manifest.csv", infer_schema=False)["generation"][0]


def test_players_writing_the_manifest_at_once_lose_no_session(austria, tmp_path):
    """Four sessions of one live folder rewritten from four threads at once (players seeking
    back): every session stays listed, under the generation its folder last wrote."""
    ref, raw = austria
    folders = [LiveFolder(tmp_path, replace(ref, locator=f"{ref.locator}-{i}"), raw) for i in range(4)]
    failures = []

    def rewrite(folder):
        try:
            for _ in range(10):
                folder.rewrite(raw.laps.head(0), None)
        except Exception as exc:  # noqa: BLE001  (asserted below)
            failures.append(exc)

    threads = [threading.Thread(target=rewrite, args=(folder,)) for folder in folders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    manifest = pl.read_csv(tmp_path / "manifest.csv", infer_schema=False)
    assert dict(zip(manifest["path"], manifest["generation"], strict=True)) == {
        f.ref.locator: f.generation for f in folders
    }
    assert not list(tmp_path.glob(".manifest.*"))  # no temporary file left behind


def test_laps_a_failed_write_did_not_land_land_on_the_next_step(austria, tmp_path):
    ref, raw = austria
    playback = Playback(ref, raw, tmp_path, answering([]))
    land = playback.folder.land

    def full_disk(path, rows):
        raise OSError(28, "No space left on device")

    playback.folder.land = full_disk
    with pytest.raises(OSError):
        playback.advance(playback.lap_times[5])
    playback.folder.land = land
    playback.advance(playback.lap_times[5])
    rows = folder_laps(playback)
    assert rows.height == playback.laps_played and rows["LapNumber"].cast(pl.Float64).max() == 5
    assert rows.select("Driver", "LapNumber").is_unique().all()
    weather = pl.read_csv(playback.folder.weather_path, infer_schema=False)
    assert weather.height == playback._raw_weather.filter(pl.col("_t") <= playback.now).height > 0


def test_seeking_back_rewrites_the_folder_and_ahead_lands_the_laps_between(austria, tmp_path):
    ref, raw = austria
    asked = []
    playback = Playback(ref, raw, tmp_path, answering(asked))
    first_generation = manifest_generation(tmp_path)
    playback.advance(playback.lap_times[10])
    landed = folder_laps(playback).height
    assert landed == playback.laps_played and playback.lap == 10
    weather = pl.read_csv(playback.folder.weather_path, infer_schema=False).height

    back = playback.seek(playback.lap_times[3])
    rows = folder_laps(playback)
    assert rows.height == back.laps_played < landed
    assert rows["LapNumber"].cast(pl.Float64).max() == 3 and playback.lap == 3
    assert pl.read_csv(playback.folder.weather_path, infer_schema=False).height < weather
    assert manifest_generation(tmp_path) != first_generation  # readers drop what they held
    assert rows.select("Driver", "LapNumber").is_unique().all()

    asked.clear()
    generation = manifest_generation(tmp_path)
    ahead = playback.seek(playback.lap_times[20])
    assert folder_laps(playback).height == ahead.laps_played and playback.lap == 20
    assert manifest_generation(tmp_path) == generation  # appended: nothing to drop
    # only the laps under way at lap 20 are asked, not the ones skipped over
    assert asked and {lap for _, lap in asked} <= {20, 21}
    playback.advance(playback.end)
    assert playback.done and folder_laps(playback).height == playback.state.laps_total


def test_a_player_pauses_resumes_changes_speed_and_finishes(austria, tmp_path):
    ref, raw = austria
    player = Player(ref, raw, tmp_path, answering([]), speed=3000)
    try:
        assert player.status()["state"] == "playing" and player.tick == 30.0
        deadline = time.monotonic() + 10
        while player.status()["laps_landed"] < 100:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        paused = player.pause()
        time.sleep(0.3)
        assert player.status()["laps_landed"] == paused["laps_landed"] == folder_laps(player.playback).height
        assert player.set_speed(5)["speed"] == 5 and player.state == "paused"
        assert player.resume()["state"] == "playing"
        time.sleep(0.5)  # 2.5 session seconds at 5x: hardly a lap
        assert player.status()["laps_landed"] - paused["laps_landed"] < 10
        player.set_speed(10_000)
        deadline = time.monotonic() + 20
        while player.state != "finished":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        done = player.status()
        assert done["laps_landed"] == done["laps_total"] == folder_laps(player.playback).height
        with pytest.raises(ReplayBusy, match="seek back"):
            player.pause()
        assert player.seek(lap=70)["state"] == "playing"  # sought back, it plays on
    finally:
        assert player.stop()["state"] == "stopped"
    with pytest.raises(UnknownReplay, match="stopped"):
        player.resume()


def test_bad_speeds_and_seeks_are_refused_with_a_reason(austria, tmp_path):
    ref, raw = austria
    player = Player(ref, raw, tmp_path, answering([]), speed=1)
    try:
        for speed in (0, 0.01, 20_000, float("nan"), "60", None, True):
            with pytest.raises(InvalidControl, match="speed must be a number from 0.1 to 10000"):
                player.set_speed(speed)
        for lap in (-1, 72, 2.5, "3", True):
            with pytest.raises(InvalidControl, match="lap must be a whole number from 0 to 71"):
                player.seek(lap=lap)
        for at in (player.playback.origin - 1, player.playback.end + 1, float("inf")):
            with pytest.raises(InvalidControl, match="session_time_s must be"):
                player.seek(session_time_s=at)
        with pytest.raises(InvalidControl, match="one of lap, session_time_s"):
            player.seek()
        with pytest.raises(InvalidControl, match="one of lap, session_time_s"):
            player.seek(lap=3, session_time_s=4000.0)
        assert player.speed == 1 and player.state == "playing"
    finally:
        player.stop()


def test_one_replay_per_session_and_an_unknown_session_says_so(austria, tmp_path, monkeypatch):
    replays = Replays(settings.archive_dir(), tmp_path, "http://127.0.0.1:9")  # no service: answers fail
    with pytest.raises(UnknownReplay, match="no archived session 'nowhere'"):
        replays.start("nowhere", 60, "key")
    with pytest.raises(InvalidControl):
        replays.start(SESSION, 0, "key")
    assert {s["session_type"] for s in replays.sessions()} == {"race", "qualifying"}
    try:
        first = replays.start(SESSION, 1, "key", started_by="abcd")
        assert first["started_by"] == "abcd" and first["state"] == "playing"
        with pytest.raises(ReplayBusy, match="already being replayed"):
            replays.start(SESSION, 60, "key")
        replays.get(SESSION).seek(session_time_s=replays.get(SESSION).playback.end)  # finished
        again = replays.start(SESSION, 60, "key")  # a finished replay is replaced
        assert again["state"] == "playing" and again["laps_landed"] == 0
        assert [s["session_key"] for s in replays.statuses()] == [SESSION]
    finally:
        replays.stop_all()
    assert replays.statuses() == []
    with pytest.raises(UnknownReplay, match="no replay"):
        replays.get(SESSION)


def test_a_new_generation_replaces_the_feeds_state_and_the_hub_starts_the_session_anew(austria, tmp_path):
    ref, raw = austria
    store = MemoryStore()
    hub = LiveHub(store, tmp_path, "http://127.0.0.1:9", "key")  # no service: predictions fail, laps stream
    try:
        playback = Playback(ref, raw, tmp_path, answering([]))
        playback.advance(playback.lap_times[12])
        hub.tick()
        watched, before = hub.snapshot(ref.key)
        assert len(before["laps"]) == playback.laps_played
        generation = store.get(ref.key).generation
        playback.seek(playback.lap_times[4])
        hub.tick()
        state = store.get(ref.key)
        assert state.generation != generation and len(state.laps) == playback.laps_played
        assert max(lap["lap_number"] for lap in state.laps) == 4
        # a stream that had seen the session before gets it anew: one snapshot, as of lap 4
        events = hub.since(ref.key, watched)
        assert [kind for _, kind, _ in events] == ["snapshot"]
        laps = events[0][2]["laps"]
        assert len(laps) == playback.laps_played and max(lap["lap_number"] for lap in laps) == 4
        # playing on: laps land as events after it, none twice
        playback.advance(playback.lap_times[6])
        hub.tick()
        later = hub.since(ref.key, events[0][0])
        assert later and {kind for _, kind, _ in later} == {"lap"}
        assert len(laps) + len(later) == playback.laps_played
    finally:
        hub.stop()


def test_redis_readers_read_a_new_generation_whole(austria, tmp_path, redis_server):  # noqa: F811
    ref, raw = austria
    prefix = f"g{os.getpid()}:"
    feeder, other, reader = (RedisStore(redis_server.url, prefix=prefix) for _ in range(3))
    feeds = [LiveFeed(tmp_path, feeder), LiveFeed(tmp_path, other)]
    playback = Playback(ref, raw, tmp_path, answering([]))
    playback.advance(playback.lap_times[15])
    for feed in feeds:
        feed.sync()
    seen = reader.get(ref.key)
    assert len(seen.laps) == playback.laps_played
    playback.seek(playback.lap_times[5])
    for feed in feeds:  # both feeders see the new generation: the second finds it replaced already
        feed.sync()
    state = reader.get(ref.key)
    assert state.generation != seen.generation and len(state.laps) == playback.laps_played
    assert max(lap["lap_number"] for lap in state.laps) == 5
    playback.advance(playback.lap_times[7])
    feeds[1].sync()
    assert len(reader.get(ref.key).laps) == playback.laps_played
    for store in (feeder, other, reader):
        store.close()
