"""The console in a real browser (Debian's Chromium driven by Playwright), against the running
service, the console's back end and a replay of a real session: the tower fills and updates, the
interval band is drawn, a viewer is told why it cannot see engineer views, the stream resumes after
its connection drops without a lap twice, and no view logs a console error."""

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from f1_console.local import LocalConsole
from f1_core import settings
from f1_core.replay import replay
from f1_core.standardize import standardize

SESSION = "2023-09-austrian-grand-prix-race"
CHROMIUM = "/usr/bin/chromium"
# F1_SCREENSHOTS=docs/screenshots keeps the README's pictures (else they go with the test's folder)
SCREENSHOTS = os.environ.get("F1_SCREENSHOTS")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


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
        replay(raw.ref, raw, live_dir, lambda requests: [{} for _ in requests], speed=40.0, tick=2.0,
               on_progress=progress)
    except _Stopped:
        pass


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def open_console(browser, url: str, key: str):
    """A signed-in page on the live session, and the console errors it logs."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.fill("input[name=api_key]", key)
    page.click("button[type=submit]")
    page.locator("[data-testid=session-option]", has_text="Austrian").first.click()
    return page, errors


def test_the_tower_fills_updates_and_draws_the_band(live, served, browser, tmp_path):
    console, raw = live
    page, errors = open_console(browser, console.url, served.keys["engineer"])
    rows = page.locator("[data-testid=tower-row]")
    rows.first.wait_for(timeout=30000)
    drivers = standardize(raw).laps["driver"].n_unique()
    page.wait_for_function(f"document.querySelectorAll('[data-testid=tower-row]').length === {drivers}",
                           timeout=60000)
    first = page.locator("[data-testid=tower-row]").first.inner_text()
    page.wait_for_function("(first) => document.querySelector('[data-testid=tower-row]').innerText !== first",
                           arg=first, timeout=60000)  # a lap landed since: the tower moved
    if page.locator("[data-testid=pace-chart]").count() == 0:
        page.locator("[data-testid=tower-row] input[type=checkbox]").first.check()
    try:
        page.locator("[data-testid=band] path").first.wait_for(timeout=30000)
    finally:
        page.screenshot(path=str(Path(SCREENSHOTS or tmp_path) / "console-tower.png"), full_page=True)
    assert page.locator("[data-testid=model-strip]").inner_text()
    assert errors == []


def test_a_viewer_is_told_why_engineer_views_are_closed(live, served, browser):
    console, _ = live
    page, errors = open_console(browser, console.url, served.keys["viewer"])
    page.locator("[data-testid=tower-row]").first.wait_for(timeout=30000)
    assert "engineer" in page.locator("[data-testid=needs-engineer]").inner_text().lower()
    assert errors == []


class DroppingProxy:
    """A TCP proxy in front of the console whose open connections the test can cut, as a pit
    wall's network would: the browser then reconnects by itself."""

    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.open: list[socket.socket] = []
        self.sent = bytearray()  # what browsers sent through it (their requests' heads)
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self._lock:
                self.open += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target, source is client), daemon=True).start()

    def _pump(self, source, target, upstream: bool):
        try:
            while data := source.recv(65536):
                if upstream:
                    self.sent += data
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

    def drop(self):
        with self._lock:
            cut, self.open = self.open, []
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
        assert b"last-event-id" not in proxy.sent.lower()
        proxy.drop()
        page.wait_for_function("document.querySelector('[data-testid=session-view]').dataset.connection === 'open'"
                               " && document.querySelectorAll('[data-testid=tower-row]').length > 0", timeout=30000)
        page.wait_for_function(f"({LAPS_SHOWN}) > {laps_before}", timeout=60000)  # laps landing again
        assert b"last-event-id:" in proxy.sent.lower(), "the browser did not resume the stream with Last-Event-ID"
        assert errors == [] or all("ERR_" in error for error in errors), errors
    finally:
        proxy.close()


# laps completed, summed over the tower: a lap shown twice would not change it, but one missed would
LAPS_SHOWN = ("[...document.querySelectorAll('[data-testid=tower-row] td:nth-child(4)')]"
              ".reduce((sum, cell) => sum + Number(cell.innerText || 0), 0)")
