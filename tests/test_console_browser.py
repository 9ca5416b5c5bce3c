"""The console in a real browser (Debian's Chromium driven by Playwright), against the running
service, the console's back end and a replay of a real session: the tower fills and updates, the
interval band is drawn, a viewer is told why it cannot see engineer views, the stream resumes after
its connection drops without a lap twice, and no view logs a console error."""

import os
import re
import socket
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

from f1_console.local import LocalConsole
from f1_core import settings
from f1_core.replay import replay
from f1_core.standardize import standardize
from tests.browser import open_console

SESSION = "2023-09-austrian-grand-prix-race"
# F1_SCREENSHOTS=docs/screenshots keeps the pictures of docs/console.md (else they go with the test's folder)
SCREENSHOTS = os.environ.get("F1_SCREENSHOTS")


@pytest.fixture(scope="module")
def live(served, real_session, tmp_path_factory):
    """The console beside the service, and a real race replaying into their live folder (at 40x,
    so laps keep landing while the browser watches)."""
    folder = tmp_path_factory.mktemp("console-browser")
    raw = real_session(SESSION)
    env = {"F1_DATA_DIR": str(served.data), "F1_CONSOLE_SERVICE_URL": served.url}
    stop = threading.Event()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("F1_DATA_DIR", str(served.data))
        live_dir = settings.live_dir()
    with LocalConsole(env, log_path=folder / "console.log") as console:
        player = threading.Thread(target=_play, args=(raw, live_dir, stop), daemon=True)
        player.start()
        yield console, raw
        stop.set()
        player.join(timeout=30)


class _Stopped(Exception):
    pass


def _play(raw, live_dir, stop: threading.Event) -> None:
    """The replay, landing laps only (the console asks the service itself), until `stop`."""

    def progress(state):
        if stop.is_set():
            raise _Stopped

    try:
        replay(
            raw.ref, raw, live_dir, lambda requests: [{} for _ in requests], speed=40.0, tick=2.0, on_progress=progress
        )
    except _Stopped:
        pass


def test_the_tower_fills_updates_and_draws_the_band(live, served, browser, tmp_path):
    console, raw = live
    page, errors = open_console(browser, console.url, served.keys["engineer"])
    rows = page.locator("[data-testid=tower-row]")
    rows.first.wait_for(timeout=30000)
    drivers = standardize(raw).laps["driver"].n_unique()
    page.wait_for_function(f"document.querySelectorAll('[data-testid=tower-row]').length === {drivers}", timeout=60000)
    first = page.locator("[data-testid=tower-row]").first.inner_text()
    page.wait_for_function(
        "(first) => document.querySelector('[data-testid=tower-row]').innerText !== first", arg=first, timeout=60000
    )  # a lap landed since: the tower moved
    if page.locator("[data-testid=pace-chart]").count() == 0:
        page.locator("[data-testid=tower-row] input[type=checkbox]").first.check()
    shots = Path(SCREENSHOTS or tmp_path)
    try:
        page.locator("[data-testid=band] path").first.wait_for(timeout=30000)
        if SCREENSHOTS:  # the console page's picture: a stint's worth of laps on the chart
            page.wait_for_function(
                "document.querySelectorAll('[data-testid=pace-chart] .recharts-line-dots')[1]?.children.length >= 25",
                timeout=120000,
            )
        page.locator("[data-testid=pace-panel]").screenshot(path=str(shots / "console-pace.png"))
    finally:
        page.screenshot(path=str(shots / "console-tower.png"), full_page=True)
    # the strip names the champion the service serves
    champion = served.get("/model", role="engineer").json()["serving"]
    assert champion is not None
    expect(page.locator("[data-testid=model-strip] [data-testid=serving]")).to_have_text(f"v{champion}")
    assert re.search(rf"serving\s+v{champion}\b", page.locator("[data-testid=model-strip]").inner_text())
    assert errors == []


def test_a_viewer_is_told_why_engineer_views_are_closed(live, served, browser):
    console, _ = live
    page, errors = open_console(browser, console.url, served.keys["viewer"])
    page.locator("[data-testid=tower-row]").first.wait_for(timeout=30000)
    assert "engineer" in page.locator("[data-testid=needs-engineer]").inner_text().lower()
    page.click("[data-testid=nav-history]")
    assert "needs the engineer role" in page.locator("[data-testid=needs-role]").inner_text()
    assert errors == []


def test_the_live_view_fits_a_1920_wide_wall_screen(live, served, browser):
    console, _ = live
    page, errors = open_console(browser, console.url, served.keys["engineer"], width=1920, height=1080)
    page.locator("[data-testid=tower-row]").first.wait_for(timeout=30000)
    page.locator("[data-testid=pace-chart]").first.wait_for(timeout=30000)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at 1920 wide"
    tower = page.locator("[data-testid=tower-panel]").bounding_box()
    assert tower["width"] < 1920 * 0.75  # the panels share the width instead of stacking full-width
    assert errors == []


class DroppingProxy:
    """A TCP proxy in front of the console whose open connections the test can cut, as a pit
    wall's network would: the browser then reconnects by itself. It keeps what went each way on
    every connection, and whether the connection was made after the last cut."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.open: list[socket.socket] = []
        self.connections: list[dict] = []  # {"sent", "received": bytearray, "after_cut": bool}
        self.cuts = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            record = {"sent": bytearray(), "received": bytearray(), "after_cut": self.cuts > 0}
            with self._lock:
                self.open += [client, server]
                self.connections.append(record)
            threading.Thread(target=self._pump, args=(client, server, record["sent"]), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, record["received"]), daemon=True).start()

    def _pump(self, source, target, kept: bytearray):
        try:
            while data := source.recv(65536):
                kept += data
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()

    def streams(self, after_cut: bool) -> list[tuple[str, bytes]]:
        """The event-stream requests (head, and what came back on their connection) made before
        (or after) the cut. A connection may carry other requests first (keep-alive)."""
        with self._lock:
            connections = [c for c in self.connections if c["after_cut"] == after_cut]
        found = []
        for c in connections:
            heads = [h.decode(errors="replace") for h in bytes(c["sent"]).split(b"\r\n\r\n")]
            found += [(h, bytes(c["received"])) for h in heads if h.startswith("GET /api/live/") and "/events" in h]
        return found

    def drop(self):
        with self._lock:
            cut, self.open = self.open, []
            self.cuts += 1
        for end in cut:
            try:
                end.shutdown(socket.SHUT_RDWR)
                end.close()
            except OSError:
                pass

    def close(self):
        self.listener.close()
        self.drop()


def test_the_stream_resumes_after_its_connection_drops_without_a_lap_twice(live, served, browser):
    console, _ = live
    proxy = DroppingProxy(console.port)
    try:
        page, errors = open_console(browser, proxy.url, served.keys["engineer"])
        page.locator("[data-testid=tower-row]").first.wait_for(timeout=30000)
        laps_before = page.evaluate(LAPS_SHOWN)
        first = proxy.streams(after_cut=False)
        assert first and b"event: snapshot" in first[0][1]
        proxy.drop()
        page.wait_for_function(
            "document.querySelector('[data-testid=session-view]').dataset.connection === 'open'"
            " && document.querySelectorAll('[data-testid=tower-row]').length > 0",
            timeout=30000,
        )
        page.wait_for_function(f"({LAPS_SHOWN}) > {laps_before}", timeout=60000)  # laps landing again
        resumed = proxy.streams(after_cut=True)
        assert resumed, "the browser did not open the stream again"
        heads = [head for head, _ in resumed]
        answers = [received[received.find(b"HTTP/1.1") :][:120].decode(errors="replace") for _, received in resumed]
        # every reconnection resumes: the browser sends Last-Event-ID; the app, when the browser
        # gave up, names the last event in the URL
        assert all("last-event-id:" in h.lower() or "last_event_id=" in h for h in heads), (heads, answers)
        assert any(a.startswith("HTTP/1.1 200") for a in answers), (heads, answers)
        # resumed, the console sends only what was missed: no second snapshot of every lap
        assert all(b"event: snapshot" not in received for _, received in resumed), answers
        assert errors == [] or all("ERR_" in error for error in errors), errors
    finally:
        proxy.close()


# laps completed, summed over the tower: a lap shown twice would not change it, but one missed would
LAPS_SHOWN = (
    "[...document.querySelectorAll('[data-testid=tower-row] td:nth-child(4)')]"
    ".reduce((sum, cell) => sum + Number(cell.innerText || 0), 0)"
)
