"""The console's Admin page beside the running service: API keys created, listed and revoked from
the console (the same file as the service's and the CLI's, writers locked against each other),
the champion reloaded with the admin's own key, every other role refused with the reason; and
the page itself in Chromium."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from f1_console.local import LocalConsole
from f1_core import settings
from f1_core.api_keys import KeyStore
from tests.browser import open_console

# F1_SCREENSHOTS=docs/screenshots keeps the pictures (else they go with the test's folder)
SCREENSHOTS = os.environ.get("F1_SCREENSHOTS")

WRITER = """
import sys, time
from f1_core.api_keys import KeyStore
path, start, count, tag = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
store = KeyStore(path)
time.sleep(max(0.0, start - time.time()))
for i in range(count):
    store.create("viewer", f"{tag}-{i}")
"""


@pytest.fixture(scope="module")
def console(served, tmp_path_factory):
    folder = tmp_path_factory.mktemp("console-admin")
    env = {"F1_DATA_DIR": str(served.data), "F1_CONSOLE_SERVICE_URL": served.url}
    with LocalConsole(env, log_path=folder / "console.log") as running:
        yield running


@pytest.fixture(scope="module")
def store(served):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("F1_DATA_DIR", str(served.data))
        return KeyStore(settings.api_keys_path())


def service_model(served, key: str) -> httpx.Response:
    return httpx.get(served.url + "/model", headers={"Authorization": f"Bearer {key}"}, timeout=30)


def test_an_admin_creates_lists_and_revokes_a_key(console, served, store, signed_in):
    admin = signed_in(console.url, served.keys["admin"])
    created = admin.post("/api/admin/keys", json={"role": "engineer", "name": "  pit wall laptop 2  "})
    assert created.status_code == 201, created.text
    new = created.json()
    assert set(new) == {"key_id", "role", "name", "created", "yours", "console", "key"}
    assert (new["role"], new["name"], new["yours"]) == ("engineer", "pit wall laptop 2", False)
    key = new["key"]
    assert service_model(served, key).status_code == 200  # the service takes it at once

    listed = admin.get("/api/admin/keys")
    assert listed.status_code == 200
    rows = {row["key_id"]: row for row in listed.json()["keys"]}
    assert rows[new["key_id"]] == {k: v for k, v in new.items() if k != "key"}
    assert key not in listed.text and "sha256" not in listed.text  # never the key again, never a hash
    assert {r.key_id for r in store.records()} == set(rows)  # the service's file, as the CLI lists it
    yours = [row for row in rows.values() if row["yours"]]
    assert [row["key_id"] for row in yours] == [store.lookup(served.keys["admin"]).key_id]

    engineer = signed_in(console.url, key)  # the new key signs in to the console too
    assert engineer.get("/api/model").status_code == 200

    revoked = admin.delete(f"/api/admin/keys/{new['key_id']}")
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["key_id"] == new["key_id"] and "key" not in revoked.json()
    refused = service_model(served, key)
    assert refused.status_code == 401, refused.text  # at its next request
    assert engineer.get("/api/model").status_code == 401  # its console session is locked out
    assert engineer.get("/api/me").json()["role"] is None
    assert new["key_id"] not in {row["key_id"] for row in admin.get("/api/admin/keys").json()["keys"]}

    again = admin.delete(f"/api/admin/keys/{new['key_id']}")
    assert again.status_code == 404 and new["key_id"] in again.json()["error"]


def test_an_admin_may_not_revoke_their_own_key_nor_the_consoles(console, served, store, signed_in):
    record, key = store.create("admin", "second admin")
    other = signed_in(console.url, key)
    own = other.delete(f"/api/admin/keys/{record.key_id}")
    assert own.status_code == 409 and "signed in with" in own.json()["error"]
    assert store.lookup(key) is not None

    rows = other.get("/api/admin/keys").json()["keys"]
    ours = [row for row in rows if row["console"]]
    assert len(ours) == 1  # the viewer key the console asks the service with for live predictions
    refused = other.delete(f"/api/admin/keys/{ours[0]['key_id']}")
    assert refused.status_code == 409 and "live predictions" in refused.json()["error"]

    admin = signed_in(console.url, served.keys["admin"])  # another admin may
    assert admin.delete(f"/api/admin/keys/{record.key_id}").status_code == 200
    assert other.get("/api/admin/keys").status_code == 401


@pytest.mark.parametrize("role", ["viewer", "engineer"])
def test_other_roles_are_refused_with_the_reason(console, served, store, signed_in, role):
    client = signed_in(console.url, served.keys[role])
    victim = store.lookup(served.keys["viewer"]).key_id
    before = len(store.records())
    for method, path, body in (
        ("GET", "/api/admin/keys", None),
        ("POST", "/api/admin/keys", {"role": "admin", "name": "escalation"}),
        ("DELETE", f"/api/admin/keys/{victim}", None),
        ("POST", "/api/admin/reload", None),
    ):
        answer = client.request(method, path, json=body)
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["error"] == f"role {role!r} may not see this; it needs 'admin'"
    assert len(store.records()) == before and store.lookup(served.keys["viewer"]) is not None
    assert httpx.get(console.url + "/api/admin/keys").status_code == 401  # nobody signed in


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({"role": "superuser", "name": "x"}, 422, "unknown role 'superuser'; expected one of viewer, engineer, admin"),
        ({"name": "no role"}, 422, "unknown role None"),
        ({"role": "viewer", "name": ""}, 422, "name is required"),
        ({"role": "viewer", "name": "   "}, 422, "name is required"),
        ({"role": "viewer"}, 422, "name is required"),
        ({"role": "viewer", "name": 7}, 422, "name is required"),
        ({"role": "viewer", "name": "x" * 81}, 422, "name is 81 characters long; at most 80"),
        ({"role": "viewer", "name": "two\nlines"}, 422, "control characters"),
        ({"role": "viewer", "name": "x", "sha256": "0" * 64}, 422, "unknown field(s) 'sha256'"),
        (["viewer", "x"], 422, "expected a JSON object"),
        ("{not json", 400, "not JSON"),
    ],
)
def test_bad_input_is_refused_with_a_message(console, served, store, signed_in, body, status, message):
    admin = signed_in(console.url, served.keys["admin"])
    before = len(store.records())
    if isinstance(body, str):
        answer = admin.post("/api/admin/keys", content=body, headers={"Content-Type": "application/json"})
    else:
        answer = admin.post("/api/admin/keys", json=body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]
    assert len(store.records()) == before


def test_the_longest_name_is_taken(console, served, store, signed_in):
    admin = signed_in(console.url, served.keys["admin"])
    answer = admin.post("/api/admin/keys", json={"role": "viewer", "name": "é" * 80})
    assert answer.status_code == 201, answer.text
    store.revoke(answer.json()["key_id"])


def test_an_admin_reloads_the_champion_with_their_own_key(console, served, signed_in):
    admin = signed_in(console.url, served.keys["admin"])
    answer = admin.post("/api/admin/reload")
    assert answer.status_code == 200, answer.text
    expected = service_model(served, served.keys["admin"]).json()
    assert answer.json()["serving"] == expected["serving"] is not None
    assert answer.json()["degraded"] is False and set(answer.json()) == set(expected)


def test_concurrent_writers_lose_no_key(tmp_path):
    """Processes and threads creating keys at once in one file (as the CLI and the console do):
    every key is kept."""
    path = tmp_path / "api_keys.json"
    start = time.time() + 1.5  # the processes' imports done by then
    processes = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(start), "25", f"process{n}"]) for n in range(3)
    ]

    def write(n: int):
        store = KeyStore(path)
        time.sleep(max(0.0, start - time.time()))
        for i in range(25):
            store.create("engineer", f"thread{n}-{i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [p.wait(timeout=60) for p in processes] == [0, 0, 0]
    names = sorted(r.name for r in KeyStore(path).records())
    assert names == sorted(f"{who}{n}-{i}" for who in ("process", "thread") for n in range(3) for i in range(25))
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_the_console_and_the_cli_create_keys_at_once(console, served, store, signed_in):
    """The console's POST /keys and `f1 api-key create` writing the service's file together, a
    revoke among them: nothing lost, nothing revived."""
    admin = signed_in(console.url, served.keys["admin"])
    doomed, _ = store.create("viewer", "revoked meanwhile")
    cli = str(Path(sys.executable).with_name("f1"))
    env = {**os.environ, "F1_DATA_DIR": str(served.data)}
    made: list[str] = []

    def by_console(n: int):
        for i in range(8):
            answer = admin.post("/api/admin/keys", json={"role": "viewer", "name": f"console{n}-{i}"})
            assert answer.status_code == 201, answer.text
            made.append(answer.json()["key_id"])

    threads = [threading.Thread(target=by_console, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    processes = [
        subprocess.Popen(
            [cli, "api-key", "create", "--role", "viewer", "--name", f"cli{n}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for n in range(6)
    ]
    assert admin.delete(f"/api/admin/keys/{doomed.key_id}").status_code == 200
    for thread in threads:
        thread.join()
    keys = [p.communicate(timeout=60)[0].strip() for p in processes]
    assert [p.returncode for p in processes] == [0] * 6
    records = {r.key_id: r for r in store.records()}
    assert set(made) <= set(records) and len(made) == 24
    assert all(store.lookup(key) is not None for key in keys)
    assert doomed.key_id not in records
    for key_id in made:
        store.revoke(key_id)
    for key in keys:
        store.revoke(store.lookup(key).key_id)


def test_the_admin_page_creates_a_key_shows_it_once_and_revokes_it(console, served, store, browser, tmp_path):
    page, errors = open_console(browser, console.url, served.keys["admin"], session=None)
    page.click("[data-testid=nav-admin]")
    page.locator("[data-testid=key-row]").first.wait_for(timeout=15000)
    assert page.locator("[data-testid=key-row] [data-testid=revoke-blocked]").count() == 2  # yours, the console's

    page.select_option("[data-testid=create-key-form] select[name=role]", "engineer")
    page.fill("[data-testid=create-key-form] input[name=name]", "browser test key")
    page.click("[data-testid=create-key-submit]")
    shown = page.locator("[data-testid=new-key-value]")
    shown.wait_for(timeout=15000)
    key = shown.input_value()
    assert key.startswith("f1k_") and "shown once" in page.locator("[data-testid=shown-once]").inner_text().lower()
    assert page.evaluate("document.activeElement.dataset.testid") == "new-key-value"  # focused, to copy
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.url)
    page.click("[data-testid=copy-key]")
    page.get_by_text("Copied to the clipboard.").wait_for(timeout=5000)
    assert page.evaluate("navigator.clipboard.readText()") == key
    assert service_model(served, key).status_code == 200
    key_id = store.lookup(key).key_id
    row = page.locator(f"[data-testid=key-row][data-key-id='{key_id}']")
    row.wait_for(timeout=15000)  # the list was invalidated
    assert "browser test key" in row.inner_text() and "engineer" in row.inner_text()
    shots = Path(SCREENSHOTS or tmp_path)
    for width, height in ((1920, 1080), (1280, 800)):  # readable at both: nothing scrolls sideways
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), width
        page.screenshot(path=str(shots / f"console-admin-{width}.png"), full_page=True)

    page.click("[data-testid=new-key-done]")
    page.locator("[data-testid=new-key]").wait_for(state="detached", timeout=5000)  # on the next render
    assert page.locator("[data-testid=new-key]").count() == 0
    assert key not in page.content()  # gone from the page: shown once

    # revoke by keyboard: the row's button, then the confirm step (Cancel has the focus first)
    row.locator("[data-testid=revoke]").focus()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.dataset.testid") == "revoke-cancel"
    page.keyboard.press("Escape")  # cancelled: nothing revoked, back on the row's button
    assert page.evaluate("document.activeElement.dataset.testid") == "revoke"
    assert store.lookup(key) is not None
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "revoke-confirm"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=str(shots / "console-admin-revoke.png"), full_page=True)
    page.keyboard.press("Enter")
    page.locator("[data-testid=revoke-done]").wait_for(timeout=15000)
    row.wait_for(state="detached", timeout=15000)
    assert service_model(served, key).status_code == 401

    page.click("[data-testid=reload]")
    page.locator("[data-testid=reload-result]").wait_for(timeout=30000)
    assert page.locator("[data-testid=reload-serving]").inner_text().startswith("v")
    page.screenshot(path=str(shots / "console-admin-reloaded.png"), full_page=True)
    assert errors == []


def test_a_viewer_opening_the_admin_page_is_told_it_needs_the_admin_role(console, served, browser):
    page, errors = open_console(browser, console.url, served.keys["viewer"], session=None)
    asked = []
    page.on("request", lambda request: asked.append(request.url) if "/api/admin" in request.url else None)
    page.locator("[data-testid=nav]").wait_for(timeout=15000)
    page.goto(console.url + "/#/admin")
    needs = page.locator("[data-testid=needs-role]")
    needs.wait_for(timeout=15000)
    assert "admin" in needs.inner_text() and "viewer" in needs.inner_text()
    assert asked == [] and errors == []  # told without a refused request
