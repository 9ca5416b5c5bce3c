"""The console's Replay page against the real service: an archived race played through the service
at a high speed (laps landing in the live folder, each lap asked for as it starts with the
engineer's key), paused, resumed, sought back (the folder rewritten, the service's state and the
console's stream as of the point sought, no lap from after it), stopped; roles and bad input
refused with a reason; and the page itself in Chromium."""

import os
import time
from pathlib import Path

import polars as pl
import pytest

from f1_console.local import LocalConsole
from f1_core import settings
from tests.browser import open_console
from tests.test_console_api import read_events
from tests.test_served_state import laps_per_worker

SESSION = "2023-09-austrian-grand-prix-race"
BROWSER_SESSION = "2023-15-singapore-grand-prix-race"  # played by no other test: their logs stay apart
# F1_SCREENSHOTS=docs/screenshots keeps the pictures (else they go with the test's folder)
SCREENSHOTS = os.environ.get("F1_SCREENSHOTS")


@pytest.fixture(scope="module")
def console(served, tmp_path_factory):
    folder = tmp_path_factory.mktemp("console-replay")
    env = {"F1_DATA_DIR": str(served.data), "F1_CONSOLE_SERVICE_URL": served.url}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("F1_DATA_DIR", str(served.data))
        live_dir = settings.live_dir()
    with LocalConsole(env, log_path=folder / "console.log") as running:
        yield running, live_dir


def replay_of(client, key: str) -> dict:
    found = [r for r in client.get("/api/replay").json()["replays"] if r["session_key"] == key]
    assert len(found) == 1, found
    return found[0]


def wait_for(check, timeout: float = 20.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def laps_shown(events) -> dict:
    """The laps a browser holds after these events (a snapshot replaces them all), by (driver, lap)."""
    laps = {}
    for _, kind, data, _ in events:
        if kind == "snapshot":
            laps = {(lap["driver"], lap["lap_number"]): lap for lap in data["laps"]}
        elif kind == "lap":
            laps[(data["lap"]["driver"], data["lap"]["lap_number"])] = data["lap"]
    return laps


def landed_rows(live_dir, key: str) -> pl.DataFrame:
    ref = next(r for r in _archive_refs() if r.key == key)
    return pl.read_csv(live_dir / ref.locator / "laps.csv", infer_schema=False)


def _archive_refs():
    from f1_core.sources.archive import ArchiveSource

    return ArchiveSource(settings.archive_dir()).catalog()


def test_an_engineer_plays_pauses_resumes_seeks_back_and_stops_a_replay(console, served, signed_in):
    running, live_dir = console
    engineer = signed_in(running.url, served.keys["engineer"])
    sessions = engineer.get("/api/replay/sessions").json()["sessions"]
    austria = next(s for s in sessions if s["session_key"] == SESSION)
    assert (austria["season"], austria["event_name"], austria["session_name"], austria["session_type"]) == (
        2023,
        "Austrian Grand Prix",
        "Race",
        "race",
    )
    assert {s["session_type"] for s in sessions} >= {"race", "qualifying"}

    started = engineer.post("/api/replay", json={"session_key": SESSION, "speed": 300})
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "playing" and started.json()["laps"] == 71
    # laps land and the service answers each lap as it starts, from the session's state
    status = wait_for(
        lambda: (r := replay_of(engineer, SESSION))["laps_landed"] >= 60 and r["live"] and r, what="60 laps landed"
    )
    assert status["predicted"] > 0 and status["contexts"].get("session", 0) > 0
    assert status["failed_requests"] == 0 and status["model_version"] is not None

    # paused: nothing more lands
    paused = engineer.post(f"/api/replay/{SESSION}/pause").json()
    assert paused["state"] == "paused"
    time.sleep(0.6)
    still = replay_of(engineer, SESSION)
    assert still["laps_landed"] == paused["laps_landed"] == landed_rows(live_dir, SESSION).height
    assert still["session_time_s"] == paused["session_time_s"]

    # resumed: laps land again, faster now
    assert engineer.post(f"/api/replay/{SESSION}/speed", json={"speed": 600}).json()["speed"] == 600
    assert engineer.post(f"/api/replay/{SESSION}/resume").json()["state"] == "playing"
    wait_for(
        lambda: replay_of(engineer, SESSION)["laps_landed"] >= paused["laps_landed"] + 60, what="laps after resuming"
    )
    ahead = engineer.post(f"/api/replay/{SESSION}/pause").json()
    assert ahead["lap"] > 3

    # a browser watching the stream, then a seek back to lap 2
    path = f"/api/live/{SESSION}/events"
    first = read_events(engineer, path, lambda events: len(laps_shown(events)) == ahead["laps_landed"])
    watched = f"{first[-1][3]}:{first[-1][0]}"
    back = engineer.post(f"/api/replay/{SESSION}/seek", json={"lap": 2})
    assert back.status_code == 200, back.text
    back = back.json()
    assert back["lap"] == 2 and back["state"] == "paused" and 20 <= back["laps_landed"] < ahead["laps_landed"]
    rows = landed_rows(live_dir, SESSION)  # the folder holds what had landed by then, no more
    assert rows.height == back["laps_landed"] and rows["LapNumber"].cast(pl.Float64).max() == 2

    def as_of_the_seek(events):
        return any(e[1] == "snapshot" for e in events) and len(laps_shown(events)) == back["laps_landed"]

    # the browser resuming from before the seek gets the session anew (a snapshot), as of lap 2
    resumed = read_events(engineer, path, as_of_the_seek, headers={"Last-Event-ID": watched})
    snapshot = next(e[2] for e in resumed if e[1] == "snapshot")  # after what it had not seen of before
    assert max(lap["lap_number"] for lap in laps_shown(resumed).values()) == 2
    assert all(p["lap_number"] <= 3 for p in snapshot["predictions"])
    # a new stream too: its snapshot is the session as of the seek, whole
    fresh = read_events(engineer, path, lambda events: True)
    assert fresh[0][1] == "snapshot" and len(fresh[0][2]["laps"]) == back["laps_landed"]

    # the service's state of the session is as of the seek as well (each worker reads the folder)
    def the_services_state():
        held = [
            s["laps"]
            for s in served.get("/sessions", role="engineer").json()["sessions"]
            if s["session_key"] == SESSION
        ]
        return held == [back["laps_landed"]]

    wait_for(the_services_state, what="the service's state as of the seek")  # a worker read the folder
    # every worker's state is as of the seek (its gauge, from each worker), and then no answer,
    # whichever worker gives it, is a stale one
    wait_for(
        lambda: (
            (held := laps_per_worker(served.url, SESSION))
            and len(held) == 2
            and set(held.values()) == {back["laps_landed"]}
        ),
        what="every worker's state as of the seek",
    )
    assert all(the_services_state() for _ in range(8)), "a worker answered from a state before the seek"

    # playing on from lap 2: laps 3 and later land again, in the stream after the new snapshot
    engineer.post(f"/api/replay/{SESSION}/resume")
    later = read_events(
        engineer,
        path,
        lambda events: any(e[1] == "lap" and e[2]["lap"]["lap_number"] >= 4 for e in events),
        headers={"Last-Event-ID": f"{fresh[0][3]}:{fresh[0][0]}"},
    )
    assert "snapshot" not in {e[1] for e in later}
    assert min(e[2]["lap"]["lap_number"] for e in later if e[1] == "lap") >= 2

    stopped = engineer.delete(f"/api/replay/{SESSION}")
    assert stopped.status_code == 200 and stopped.json()["state"] == "stopped"
    assert all(r["session_key"] != SESSION for r in engineer.get("/api/replay").json()["replays"])
    gone = engineer.delete(f"/api/replay/{SESSION}")
    assert gone.status_code == 404 and "no replay" in gone.json()["error"]


def test_a_viewer_is_refused_with_the_reason(console, served, signed_in):
    running, _ = console
    viewer = signed_in(running.url, served.keys["viewer"])
    for method, path, body in (
        ("GET", "/api/replay/sessions", None),
        ("GET", "/api/replay", None),
        ("POST", "/api/replay", {"session_key": SESSION, "speed": 60}),
        ("POST", f"/api/replay/{SESSION}/pause", None),
        ("DELETE", f"/api/replay/{SESSION}", None),
    ):
        refused = viewer.request(method, path, json=body)
        assert refused.status_code == 403, (path, refused.text)
        assert "'engineer'" in refused.json()["error"] and "viewer" in refused.json()["error"]


def test_bad_input_is_refused_with_a_message(console, served, signed_in):
    running, _ = console
    engineer = signed_in(running.url, served.keys["engineer"])

    def refused(answer, status, *words):
        assert answer.status_code == status, answer.text
        message = answer.json()["error"]
        assert all(word in message for word in words), message

    refused(
        engineer.post("/api/replay", json={"session_key": "1999-01-nowhere-race", "speed": 60}),
        404,
        "no archived session",
        "1999-01-nowhere-race",
    )
    for speed in (0, -5, "fast", 1e9, None, True):
        refused(engineer.post("/api/replay", json={"session_key": SESSION, "speed": speed}), 422, "speed")
    refused(engineer.post("/api/replay", json={"session": SESSION}), 422, "unknown field")
    refused(
        engineer.post("/api/replay", content=b"not json", headers={"Content-Type": "application/json"}),
        422,
        "expected a JSON object",
    )
    refused(engineer.post(f"/api/replay/{SESSION}/pause"), 404, "no replay", SESSION)

    assert engineer.post("/api/replay", json={"session_key": SESSION, "speed": 1}).status_code == 200
    try:
        refused(engineer.post("/api/replay", json={"session_key": SESSION, "speed": 60}), 409, "already being replayed")
        refused(engineer.post(f"/api/replay/{SESSION}/seek", json={"lap": 72}), 422, "lap", "0 to 71")
        refused(engineer.post(f"/api/replay/{SESSION}/seek", json={"session_time_s": -1}), 422, "session_time_s")
        refused(
            engineer.post(f"/api/replay/{SESSION}/seek", json={"lap": 3, "session_time_s": 4000}),
            422,
            "one of lap, session_time_s",
        )
        refused(engineer.post(f"/api/replay/{SESSION}/seek", json={}), 422, "one of lap")
        refused(engineer.post(f"/api/replay/{SESSION}/speed", json={"speed": 0}), 422, "speed")
        refused(engineer.post(f"/api/replay/{SESSION}/speed", json={}), 422, "speed")
        status = replay_of(engineer, SESSION)
        assert status["state"] == "playing" and status["speed"] == 1  # nothing refused changed it
        # sought to its end, it has finished: pausing says what to do instead
        end = engineer.post(f"/api/replay/{SESSION}/seek", json={"session_time_s": status["end_s"]}).json()
        assert end["state"] == "finished" and end["laps_landed"] == end["laps_total"]
        refused(engineer.post(f"/api/replay/{SESSION}/pause"), 409, "finished", "seek back")
    finally:
        engineer.delete(f"/api/replay/{SESSION}")


def test_the_replay_page_in_a_browser(console, served, browser, signed_in, tmp_path):
    """An engineer opens Replay, starts a race, watches the tower fill below, pauses and seeks
    back with the keyboard; no console error."""
    running, _ = console
    page, errors = open_console(browser, running.url, served.keys["engineer"], session=None)
    try:
        page.click("[data-testid=nav-replay]")
        page.select_option("[data-testid=replay-season]", "2023")
        page.select_option("[data-testid=replay-type]", "race")
        page.locator(f"[data-testid=replay-option][data-session='{BROWSER_SESSION}']").click()
        page.select_option("[data-testid=replay-speed]", "300")
        page.click("[data-testid=replay-start]")
        status = page.locator("[data-testid=replay-status]")
        page.locator("[data-testid=session-view] [data-testid=tower-row]").first.wait_for(timeout=30000)
        page.wait_for_function("document.querySelectorAll('[data-testid=tower-row]').length >= 10", timeout=30000)
        page.wait_for_function(
            "Number(document.querySelector('[data-testid=replay-status]').dataset.lap) >= 4", timeout=30000
        )
        shots = Path(SCREENSHOTS or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "console-replay.png"), full_page=True)
        page.click("[data-testid=replay-toggle]")  # pause
        page.wait_for_function(
            "document.querySelector('[data-testid=replay-status]').dataset.state === 'paused'", timeout=10000
        )
        lap = int(status.get_attribute("data-lap"))
        slider = page.locator("[data-testid=replay-seek]")
        slider.focus()
        for _ in range(lap - 1):
            slider.press("ArrowLeft")  # to lap 1
        page.wait_for_function(
            "document.querySelector('[data-testid=replay-status]').dataset.lap === '1'", timeout=10000
        )
        # the tower is the session as of lap 1: no driver has more than one lap
        page.wait_for_function(
            "[...document.querySelectorAll('[data-testid=tower-row] td:nth-child(4)')]"
            ".every(cell => Number(cell.innerText || 0) <= 1)",
            timeout=15000,
        )
        assert page.locator("[data-testid=replay-status]").get_attribute("data-state") == "paused"
        page.screenshot(path=str(shots / "console-replay-sought.png"), full_page=True)
        assert errors == [], errors
    finally:
        page.close()
        stopped = signed_in(running.url, served.keys["engineer"]).delete(f"/api/replay/{BROWSER_SESSION}")
        assert stopped.status_code == 200, stopped.text
