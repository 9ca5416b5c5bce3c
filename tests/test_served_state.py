"""Served predictions equal the pipeline's: whole real sessions replayed through the running service
as a live client would (laps land in its live folder as they end, each lap asked for as it
starts); every served feature is the pipeline's for that lap and every prediction the champion's
offline one. The same with two workers sharing one state in the real Redis; the store down and
back."""

import os
import re
import time

import httpx
import polars as pl
import pytest

from f1_core import prediction_log, registry, settings
from f1_core.features import features_frame
from f1_core.replay import replay, service_client
from f1_serving.local import LocalService
from tests.test_live_state import RedisServer, differences, pipeline_features

# one real session of each kind, none of them trained on (the champion knows 2023 rounds 1-6)
SESSIONS = {
    "race": "2023-10-british-grand-prix-race",
    "sprint": "2023-04-azerbaijan-grand-prix-sprint",
    "qualifying": "2019-14-italian-grand-prix-qualifying",
    "practice": "2021-14-italian-grand-prix-practice-2",
}
REDIS_URL = "redis://127.0.0.1:6379/0"  # this machine's server (.ci/run starts it if it is down)


client_of = service_client


def logged_features(log_dir, raw) -> dict:
    """The features the service logged for each lap of the session it predicted (the last time)."""
    deadline = time.monotonic() + 15
    while True:
        rows = prediction_log.read(log_dir)
        if rows.height:
            rows = rows.filter(
                (pl.col("season") == raw.ref.season)
                & (pl.col("event") == raw.ref.event_name)
                & (pl.col("session") == raw.ref.session_name)
            )
        if rows.height or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    return {(row["driver"], row["lap_number"]): row for row in rows.sort("logged_at").iter_rows(named=True)}


def check_replay(url: str, key: str, raw, live_dir, log_dir):
    with client_of(url, key) as (predict, answers):
        state = replay(raw.ref, raw, live_dir, predict, speed=1e9, tick=30.0)
    assert state.failed_requests == 0 and state.predicted == len(answers)
    assert {answer["context"] for answer in answers.values()} == {"session"}
    pipeline = pipeline_features(raw)
    # the service's log, written once a second: every answer's features are there
    deadline = time.monotonic() + 15
    while len(served := logged_features(log_dir, raw)) < len(answers) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert set(served) == set(answers)
    assert {row["context"] for row in served.values()} == {"session"}
    assert differences(served, pipeline) == []
    champion = registry.load(registry.version_of(registry.CHAMPION))
    laps = list(answers)
    offline = champion.predict(features_frame([pipeline[lap] for lap in laps]))["lap_time"].to_list()
    served_times = [answers[lap]["lap_time"] for lap in laps]
    assert max(abs(a - b) for a, b in zip(served_times, offline, strict=True)) <= 1e-9
    return state


def laps_per_worker(url: str, session_key: str) -> dict[str, int]:
    """`f1_live_state_laps` of the session, per worker (pid): what each worker's state holds."""
    found = re.findall(
        r'^f1_live_state_laps\{(?=[^}]*pid="(\d+)")(?=[^}]*session_key="'
        + re.escape(session_key)
        + r'")[^}]*\} ([0-9.e+]+)$',
        httpx.get(url + "/metrics").text,
        flags=re.MULTILINE,
    )
    return {pid: int(float(laps)) for pid, laps in found}


@pytest.mark.parametrize("kind", sorted(SESSIONS))
def test_a_replayed_session_is_served_the_pipelines_features_and_predictions(kind, service, real_session):
    raw = real_session(SESSIONS[kind])
    check_replay(service.url, service.keys["viewer"], raw, settings.live_dir(), service.data / "prediction_log")


@pytest.fixture(scope="module")
def redis_service(served, tmp_path_factory):
    """The same champion served by a second service whose two workers share their state in the
    real Redis of this machine (its own key prefix, live folder and prediction log)."""
    import redis

    folder = tmp_path_factory.mktemp("redis-service")
    prefix = f"f1test-{os.getpid()}-{time.time_ns()}:"
    env = {
        "F1_DATA_DIR": str(served.data),
        "F1_ONLINE_STORE": REDIS_URL,
        "F1_ONLINE_STORE_PREFIX": prefix,
        "F1_LIVE_DIR": str(folder / "live"),
        "F1_PREDICTION_LOG": str(folder / "prediction_log"),
    }
    with LocalService(env, log_path=folder / "service.log") as service:
        yield service, folder, prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


def test_two_workers_sharing_redis_serve_the_pipelines_features(redis_service, service, real_session):
    url, folder, _ = redis_service[0].url, redis_service[1], redis_service[2]
    raw = real_session(SESSIONS["race"])
    check_replay(url, service.keys["viewer"], raw, folder / "live", folder / "prediction_log")
    counts = laps_per_worker(url, raw.ref.key)
    assert len(counts) == 2, counts
    assert set(counts.values()) == {len(pipeline_features(raw))}, counts  # each lap once, in both
    sessions = httpx.get(url + "/sessions", headers={"Authorization": f"Bearer {service.keys['engineer']}"}).json()
    assert sessions["online_store"]["backend"] == "redis" and sessions["online_store"]["available"]


def test_a_lap_landed_once_is_in_both_workers_within_a_second(service, real_session):
    """The embedded default: each worker reads the live folder itself, in the background."""
    from f1_core.replay import LiveFolder

    raw = real_session("2023-11-hungarian-grand-prix-race")
    folder = LiveFolder(settings.live_dir(), raw.ref, raw)
    for landed_laps in (50, 51):
        folder.land(folder.laps_path, raw.laps[landed_laps - 1 if landed_laps == 51 else 0 : landed_laps])
        landed = time.monotonic()
        while (counts := laps_per_worker(service.url, raw.ref.key)) != dict.fromkeys(counts, landed_laps) or len(
            counts
        ) < 2:
            assert time.monotonic() - landed < 1.0, counts
            time.sleep(0.01)
    answer = service.get("/sessions", "engineer").json()
    assert answer["online_store"]["backend"] == "memory"
    assert next(s for s in answer["sessions"] if s["session_key"] == raw.ref.key)["laps"] == 51


def test_a_malformed_row_in_the_stream_is_counted_in_the_metrics_and_logged(service, real_session):
    from f1_core.replay import LiveFolder

    raw = real_session("2023-12-belgian-grand-prix-race")
    folder = LiveFolder(settings.live_dir(), raw.ref, raw)
    folder.land(folder.laps_path, raw.laps[:5])
    folder.land(folder.laps_path, raw.laps[5:6].with_columns(pl.lit("-3").alias("LapNumber")))
    folder.land(folder.laps_path, raw.laps[6:8])
    pattern = re.compile(
        r'^f1_live_rows_skipped\{(?=[^}]*session_key="'
        + re.escape(raw.ref.key)
        + r'")(?=[^}]*table="laps")[^}]*\} ([0-9.]+)$',
        re.MULTILINE,
    )
    deadline = time.monotonic() + 5
    while not (found := pattern.findall(httpx.get(service.url + "/metrics").text)):
        assert time.monotonic() < deadline, "no f1_live_rows_skipped for the session"
        time.sleep(0.1)
    assert [float(value) for value in found] == [1.0]  # one row, however many workers read it
    assert f"session {raw.ref.key}, laps row 6 skipped: value_out_of_range(LapNumber=-3)" in service.log.read_text()
    assert set(laps_per_worker(service.url, raw.ref.key).values()) == {7}


def test_with_the_store_down_answers_come_from_the_request_and_recover(service, real_session, tmp_path):
    """Redis stopped under a running service: answers say `context: request`, /readyz stays 200,
    /model says why; Redis back (empty): the workers' feeds add the session again and answers
    are `session` once more, with nothing restarted."""
    redis_server = RedisServer(tmp_path).start()
    raw = real_session(SESSIONS["sprint"])
    env = {
        "F1_DATA_DIR": str(service.data),
        "F1_ONLINE_STORE": redis_server.url,
        "F1_LIVE_DIR": str(tmp_path / "live"),
        "F1_PREDICTION_LOG": str(tmp_path / "log"),
    }
    try:
        with (
            LocalService(env, log_path=tmp_path / "service.log") as down,
            client_of(down.url, service.keys["viewer"]) as (predict, _),
        ):
            replay(raw.ref, raw, tmp_path / "live", predict, speed=1e9, tick=30.0, max_laps=100)
            asked = [request for request in _requests(raw, 110, 120)]
            assert {p["context"] for p in predict(asked)} == {"session"}
            redis_server.stop()
            assert {p["context"] for p in predict(asked)} == {"request"}
            assert httpx.get(down.url + "/readyz").status_code == 200
            store = httpx.get(
                down.url + "/model", headers={"Authorization": f"Bearer {service.keys['engineer']}"}
            ).json()["online_store"]
            assert store["available"] is False and "unreachable" in store["error"]
            redis_server.start()
            deadline = time.monotonic() + 10
            while {p["context"] for p in predict(asked)} != {"session"}:
                assert time.monotonic() < deadline, "the service did not use the store again"
                time.sleep(0.2)
    finally:
        redis_server.stop()


def _requests(raw, first: int, last: int) -> list[dict]:
    """Requests for the laps `first`..`last` of the session as they start (in start order)."""
    from f1_core.live import request_for
    from f1_core.standardize import standardize

    laps = standardize(raw).laps.filter(pl.col("lap_start_time_s").is_not_null()).sort("lap_start_time_s")
    by_driver = laps.partition_by("driver", as_dict=True)
    return [
        request_for(
            by_driver[(lap["driver"],)],
            lap["lap_number"],
            season=raw.ref.season,
            event=raw.ref.event_name,
            session=raw.ref.session_name,
        ).model_dump(mode="json")
        for lap in laps[first:last].iter_rows(named=True)
    ]
