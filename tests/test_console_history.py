"""History (engineer) as a user gets it: part of a real race played through the running service,
its predictions joined with the laps by the pipeline's live_accuracy asset, published for readers,
and the console's history API and page reading that copy, also while another process holds the
warehouse for writing."""

import os
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from f1_assets.defs.monitoring.assets import live_accuracy
from f1_assets.defs.warehouse.resources import WarehouseResource
from f1_console.local import LocalConsole
from f1_core import prediction_log, settings, warehouse
from f1_core.replay import replay, service_client
from tests.browser import open_console
from tests.conftest import console_client
from tests.test_warehouse import another_process_holding

SESSION = "2023-05-miami-grand-prix-race"  # in the served warehouse; no other test plays it
SCREENSHOTS = os.environ.get("F1_SCREENSHOTS")


@pytest.fixture(scope="module")
def history(served, real_session, tmp_path_factory):
    raw = real_session(SESSION)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("F1_DATA_DIR", str(served.data))
        env.setenv("F1_WAREHOUSE", str(served.data / "warehouse"))
        with service_client(served.url, served.keys["engineer"]) as (predict, _):
            replay(raw.ref, raw, settings.live_dir(), predict, speed=4000.0, tick=5.0, max_laps=400)
        deadline = time.monotonic() + 15  # the service writes its log every half second
        while not _logged(SESSION.split("-")[2]):
            assert time.monotonic() < deadline, "the service logged no prediction of the replay"
            time.sleep(0.5)
        assert dg.materialize([live_accuracy], resources={"warehouse": WarehouseResource()}).success
        live = warehouse.query(
            settings.warehouse_path(), "SELECT * FROM live_predictions WHERE session_key = ?", [SESSION]
        )
    folder = tmp_path_factory.mktemp("console-history")
    env = {"F1_DATA_DIR": str(served.data), "F1_CONSOLE_SERVICE_URL": served.url}
    with LocalConsole(env, log_path=folder / "console.log") as console:
        yield console, live


def _logged(event_word: str) -> bool:
    logged = prediction_log.read(settings.prediction_log_dir())
    return logged.height > 0 and logged.filter(pl.col("event").str.to_lowercase().str.contains(event_word)).height > 0


def test_errors_by_group_and_the_worst_laps_are_the_published_predictions(history, served):
    console, live = history
    clean = live.filter(pl.col("clean") & (pl.col("context") == "session"))
    assert clean.height > 100
    with console_client(console.url, served.keys["engineer"]) as client:
        overview = client.get("/api/history").json()
        assert overview["published_at"]
        mine = [s for s in overview["sessions"] if s["session_key"] == SESSION and s["context"] == "session"]
        assert mine and mine[0]["clean_laps"] == clean.height
        errors = client.get("/api/history/errors", params={"session_key": SESSION}).json()
    assert errors["clean_laps"] == clean.height
    [circuit] = errors["breakdowns"]["circuit"]
    assert circuit["group"] == "miami" and circuit["mae_clean"] == pytest.approx(clean["abs_error"].mean())
    by_compound = {r["group"]: r["clean_laps"] for r in errors["breakdowns"]["compound"]}
    assert by_compound == dict(clean.group_by("compound").len().iter_rows())
    assert sum(r["clean_laps"] for r in errors["breakdowns"]["lap"]) == clean.height
    worst = [lap["abs_error"] for lap in errors["worst"]]
    assert worst == sorted(clean["abs_error"], reverse=True)[:20]


def test_versions_roles_and_bad_input_are_answered_with_reasons(history, served):
    console, live = history
    with console_client(console.url, served.keys["engineer"]) as client:
        versions = client.get("/api/history/compare", params={"session_key": SESSION}).json()["versions"]
        assert versions == sorted(set(live["model_version"]))
        unknown = client.get("/api/history/compare", params={"session_key": SESSION, "a": versions[0], "b": "999"})
        assert unknown.status_code == 404 and "'999' predicted no lap" in unknown.json()["error"]
        same = client.get("/api/history/compare", params={"session_key": SESSION, "a": versions[0], "b": versions[0]})
        assert same.json()["mae_clean_a"] == same.json()["mae_clean_b"]
        bad = client.get("/api/history/errors", params={"context": "guess"})
        assert bad.status_code == 400 and "unknown context 'guess'" in bad.json()["error"]
    with console_client(console.url, served.keys["viewer"]) as viewer:
        refused = viewer.get("/api/history")
        assert refused.status_code == 403 and "needs 'engineer'" in refused.json()["error"]


def test_the_console_reads_while_another_process_holds_the_warehouse(history, served):
    console, _ = history
    with (
        console_client(console.url, served.keys["engineer"]) as client,
        another_process_holding(served.data / "warehouse", 4.0),
    ):
        started = time.monotonic()
        answer = client.get("/api/history/errors")
        assert answer.status_code == 200 and answer.json()["laps"] > 0
        assert time.monotonic() - started < 2.0  # it did not wait for the writer to let go


def test_the_history_page_draws_the_breakdowns_and_the_worst_laps(history, served, browser, tmp_path):
    console, _ = history
    page, errors = open_console(browser, console.url, served.keys["engineer"], session=None)
    page.click("[data-testid=nav-history]")
    page.locator("[data-testid=breakdown-circuit] .recharts-bar-rectangle").first.wait_for(timeout=30000)
    page.locator("[data-testid=breakdown-tyre_age] .recharts-bar-rectangle").first.wait_for(timeout=30000)
    assert page.locator("[data-testid=worst-lap]").count() == 20
    assert page.locator("[data-testid=history-view] [data-testid=freshness]").first.inner_text().startswith("updated")
    page.screenshot(path=str(Path(SCREENSHOTS or tmp_path) / "console-history.png"), full_page=True)
    assert errors == []
