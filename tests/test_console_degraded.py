"""A service with no champion to serve answers every lap degraded (the baseline, no interval):
in a real browser the console says so in the tower and draws no interval band."""

import pytest

from f1_console.local import LocalConsole
from f1_core import settings
from f1_core.api_keys import KeyStore
from f1_core.replay import LiveFolder
from f1_serving.local import LocalService
from tests.browser import open_console

SESSION = "2023-09-austrian-grand-prix-race"


@pytest.fixture(scope="module")
def degraded(real_session, tmp_path_factory):
    """The service and the console on a data folder whose registry holds no model, with the
    first laps of a real race in its live folder."""
    data = tmp_path_factory.mktemp("degraded")
    raw = real_session(SESSION)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("F1_DATA_DIR", str(data))
        _, key = KeyStore(settings.api_keys_path()).create("engineer", "degraded test")
        live = LiveFolder(settings.live_dir(), raw.ref, raw, total_laps=71)
    live.land(live.laps_path, raw.laps[:100])
    env = {"F1_DATA_DIR": str(data)}
    with (
        LocalService(env, log_path=data / "service.log") as service,
        LocalConsole({**env, "F1_CONSOLE_SERVICE_URL": service.url}, log_path=data / "console.log") as console,
    ):
        yield console, key


def test_a_degraded_answer_says_baseline_and_draws_no_band(degraded, browser):
    console, key = degraded
    page, errors = open_console(browser, console.url, key)
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=tower-row]')]"
        ".some(row => row.innerText.includes('baseline, no interval'))",
        timeout=30000,
    )
    if page.locator("[data-testid=pace-chart]").count() == 0:
        page.locator("[data-testid=tower-row] input[type=checkbox]").first.check()
    page.locator("[data-testid=pace-chart] .recharts-line path").first.wait_for(state="attached", timeout=30000)
    assert page.locator("[data-testid=band]").count() == 0
    assert errors == []
