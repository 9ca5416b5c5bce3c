"""The console's back end as a real process beside the running service: sign-in by API key into an
httpOnly cookie, the live stream (one snapshot, then laps and the service's predictions for each
driver's next lap, resumable without duplicates), roles decided by the service."""

import json
import time

import httpx
import pytest

from f1_console.local import LocalConsole
from f1_core import settings
from f1_core.api_keys import KeyStore
from f1_core.replay import LiveFolder

SESSION = "2023-08-canadian-grand-prix-race"


@pytest.fixture(scope="module")
def console(served, real_session, tmp_path_factory):
    folder = tmp_path_factory.mktemp("console")
    env = {"F1_DATA_DIR": str(served.data), "F1_CONSOLE_SERVICE_URL": served.url}
    raw = real_session(SESSION)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("F1_DATA_DIR", str(served.data))
        live = LiveFolder(settings.live_dir(), raw.ref, raw, total_laps=70)
    live.land(live.laps_path, raw.laps[:60])
    with LocalConsole(env, log_path=folder / "console.log") as running:
        yield running, live, raw


def read_events(client: httpx.Client, path: str, wanted, headers=None, timeout: float = 15.0) -> list:
    """SSE events of the stream until `wanted(events)` holds."""
    events, current = [], {}
    deadline = time.monotonic() + timeout
    with client.stream("GET", path, headers=headers or {}, timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith(("id:", "event:", "data:")):
                name, _, value = line.partition(":")
                current[name] = value.strip()
            elif line == "" and "event" in current:
                epoch, _, number = current["id"].partition(":")
                events.append((int(number), current["event"], json.loads(current["data"]), epoch))
                current = {}
                if wanted(events):
                    return events
            assert time.monotonic() < deadline, events[-3:]
    return events


def test_a_key_signs_in_to_an_httponly_cookie_and_a_bad_one_is_refused(console, served, signed_in):
    running, _, _ = console
    client = signed_in(running.url, served.keys["viewer"])
    cookie = client.cookies.jar
    assert any(c.name == "f1_console" and c.has_nonstandard_attr("HttpOnly") for c in cookie)
    assert client.get("/api/me").json()["role"] == "viewer"
    assert httpx.post(running.url + "/api/login", json={"api_key": "f1k_nope"}).status_code == 401
    assert httpx.get(running.url + "/api/sessions").status_code == 401
    client.post("/api/logout")
    assert client.get("/api/me").json() == {"role": None, "key_id": None}


def test_the_stream_sends_a_snapshot_then_laps_and_the_services_predictions(console, served, signed_in):
    running, live, raw = console
    client = signed_in(running.url, served.keys["viewer"])
    deadline = time.monotonic() + 10
    while SESSION not in {s["session_key"] for s in client.get("/api/sessions").json()["sessions"]}:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    path = f"/api/live/{SESSION}/events"

    def landed_and_predicted(events):
        laps = [e for e in events if e[1] == "lap"]
        return len(laps) >= 10 and any(e[1] == "prediction" and e[2]["prediction"]["lap_number"] > 7 for e in events)

    first = read_events(client, path, lambda events: events[0][1] == "snapshot" and len(events[0][2]["laps"]) >= 60)
    snapshot_id, _, snapshot, epoch = first[0]
    assert snapshot["session"]["session_type"] == "race"
    live.land(live.laps_path, raw.laps[60:80])
    later = read_events(client, path, landed_and_predicted, headers={"Last-Event-ID": f"{epoch}:{snapshot_id}"})
    assert "snapshot" not in {e[1] for e in later}  # a resumed stream sends only what was missed
    laps = [e[2]["lap"] for e in later if e[1] == "lap"]
    assert len({(lap["driver"], lap["lap_number"]) for lap in laps}) == len(laps) == 20
    predictions = [e[2]["prediction"] for e in later if e[1] == "prediction"]
    assert predictions and {p["context"] for p in predictions} == {"session"}
    assert all(p["lower"] <= p["lap_time"] <= p["upper"] for p in predictions)
    # resuming from the middle: exactly the events after it, none twice
    middle = later[len(later) // 2][0]
    again = read_events(
        client, path, lambda events: events[-1][0] >= later[-1][0], headers={"Last-Event-ID": f"{epoch}:{middle}"}
    )
    assert [e[0] for e in again][: len(later) - len(later) // 2 - 1] == [e[0] for e in later if e[0] > middle]
    # ids of another console process (one that restarted since): a new snapshot, not a gap
    other = read_events(client, path, lambda events: True, headers={"Last-Event-ID": f"0000:{middle}"})
    assert other[0][1] == "snapshot" and other[0][3] == epoch


def test_roles_are_the_services(console, served, signed_in):
    running, _, _ = console
    viewer = signed_in(running.url, served.keys["viewer"])
    refused = viewer.get("/api/model")
    assert refused.status_code == 403 and "engineer" in refused.json()["error"]
    engineer = signed_in(running.url, served.keys["engineer"])
    assert engineer.get("/api/model").json()["serving"] is not None


def test_why_this_lap_is_the_services_explanation_for_engineers(console, served, signed_in):
    running, _, raw = console
    driver = raw.laps["Driver"][0]
    path = f"/api/live/{SESSION}/explain/{driver}"
    refused = signed_in(running.url, served.keys["viewer"]).get(path)
    assert refused.status_code == 403 and "engineer" in refused.json()["error"]
    engineer = signed_in(running.url, served.keys["engineer"])
    body = engineer.get(path).json()
    assert body["prediction"]["context"] == "session" and len(body["contributions"]) == 12
    assert engineer.get(f"/api/live/{SESSION}/explain/NOBODY").status_code == 404


def test_a_revoked_key_is_locked_out_at_its_next_request(console, served, signed_in):
    running, _, _ = console
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("F1_DATA_DIR", str(served.data))
        store = KeyStore(settings.api_keys_path())
        record, key = store.create("viewer", "to revoke")
        client = signed_in(running.url, key)
        assert client.get("/api/me").status_code == 200
        store.revoke(record.key_id)
    assert client.get("/api/me").json()["role"] is None
    assert client.get("/api/sessions").status_code == 401
