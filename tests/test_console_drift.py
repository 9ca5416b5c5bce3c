"""Drift and alerts (engineer) as a user gets it: real drift reports of a real race against the
served champion (its first 30 laps, then all 58), the alerts they and a rollback raised, and the
console's drift API and page reading what the pipeline published (also while another process
holds the warehouse for writing), the Evidently report served only from its folder."""

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest

from f1_console.local import LocalConsole
from f1_core import alerts, drift, monitoring, registry, settings, warehouse
from f1_core.sources.archive import ArchiveSource
from f1_core.standardize import standardize
from tests.browser import open_console
from tests.conftest import console_client
from tests.test_warehouse import another_process_holding

SESSION = "2023-03-australian-grand-prix-race"
STRICT = drift.DriftThresholds(share_drifted=0.0)  # every report with enough laps is data drift
SCREENSHOTS = os.environ.get("F1_SCREENSHOTS")


def _report_and_alert(version: str, reports: Path) -> monitoring.SessionDrift:
    """What the drift_reports asset does for one session: the report, then its alert."""
    [done] = monitoring.session_drift(settings.warehouse_path(), [SESSION], version, STRICT, reports)
    alerts.send(
        "drift",
        drift.describe(SESSION, done.result),
        {
            "session_key": SESSION,
            "classification": done.result.classification,
            "champion_version": version,
            "drifted_features": done.result.drifted_features,
            "share_drifted": done.result.share_drifted,
            "report": str(done.report_path),
        },
        None,
    )
    return done


def _live_predictions(laps: pl.DataFrame, asked_up_to: int) -> pl.DataFrame:
    """The service's predictions of laps 1..asked_up_to as the live_accuracy asset publishes them,
    one lap every 5 s, the last just now."""
    now = datetime.now(UTC)
    rows = laps.filter(pl.col("lap_number") <= asked_up_to).select(
        "session_key",
        "driver",
        pl.col("lap_number").cast(pl.Int64),
        "compound",
        pl.col("tyre_life").cast(pl.Int64),
        pl.col("lap_time_s").alias("observed"),
    )
    logged = [(now - timedelta(seconds=5 * (asked_up_to - n))).isoformat() for n in rows["lap_number"]]
    return (
        rows.with_columns(
            pl.lit("melbourne").alias("circuit_ref"),
            pl.lit("race").alias("session_type"),
            pl.lit("1").alias("model_version"),
            pl.lit("session").alias("context"),
            pl.col("observed").alias("prediction"),
            (pl.col("observed") - 1).alias("lower"),
            (pl.col("observed") + 1).alias("upper"),
            pl.lit(True).alias("clean"),
            pl.lit(0.0).alias("abs_error"),
            pl.lit(True).alias("covered"),
            pl.Series("logged_at", logged),
            pl.lit(None, pl.Float64).alias("shadow_prediction"),
            pl.lit(None, pl.String).alias("shadow_version"),
        )
        .select(list(monitoring.LIVE_SCHEMA))
        .cast(monitoring.LIVE_SCHEMA)
    )


def _champion_with_reference(served) -> str:
    """The served fixture's champion, registered in this folder's registry with the training
    reference drift is measured against (the served one keeps none) and its holdout error."""
    import mlflow

    from f1_core.drift import reference_sample
    from f1_core.training import load_warehouse, training_frame
    from tests.test_training import register_model

    with pytest.MonkeyPatch.context() as theirs:
        theirs.setenv("F1_DATA_DIR", str(served.data))
        theirs.setenv("F1_WAREHOUSE", str(served.data / "warehouse"))
        theirs.delenv("MLFLOW_TRACKING_URI", raising=False)
        # the fixture's own version: a test run before this one may have promoted another
        served_version = served.version
        model = registry.load(served_version)
        metrics = registry.model_card(served_version)["metrics"]
        frame = training_frame(*load_warehouse(settings.warehouse_path()))
    version = register_model(model, frame)
    with mlflow.start_run(run_id=registry.client().get_model_version(registry.MODEL_NAME, version).run_id):
        registry.log_reference(reference_sample(frame))
        mlflow.log_metrics({k: v for k, v in metrics.items() if k.startswith("holdout_mae")})
    registry.client().set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, version)
    return version


@pytest.fixture(scope="module")
def drifted(served, tmp_path_factory):
    """A console on its own data folder (the served keys and registry), first with nothing
    published, then with two real drift reports, their alerts and a rollback's."""
    data = tmp_path_factory.mktemp("console-drift")
    env = {
        "F1_DATA_DIR": str(data),
        "F1_WAREHOUSE": str(data / "warehouse"),
        "F1_API_KEYS": str(served.data / "api_keys.json"),
        "F1_DRIFT_REPORTS": str(data / "drift_reports"),
        "F1_ALERT_LOG": str(data / "alerts.jsonl"),
        "F1_CONSOLE_SERVICE_URL": served.url,
    }
    with LocalConsole(env, log_path=data / "console.log") as console, pytest.MonkeyPatch.context() as patch:
        with console_client(console.url, served.keys["engineer"]) as client:
            empty = client.get("/api/drift/history").json()
        for name, value in env.items():
            patch.setenv(name, value)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)  # this folder's registry
        version = _champion_with_reference(served)
        source = ArchiveSource(settings.SHARED_F1DATA / "archive")
        standard = standardize(source.load(next(r for r in source.catalog([2023]) if r.key == SESSION)))
        tables = {
            "sessions": standard.session,
            "laps": standard.laps,
            "weather": standard.weather,
            "quarantine": standard.quarantine,
        }
        reports = settings.drift_reports_dir()
        # the race as it lands: the first 30 laps, then all of it
        warehouse.replace_session(
            settings.warehouse_path(), SESSION, {**tables, "laps": standard.laps.filter(pl.col("lap_number") <= 30)}
        )
        early = _report_and_alert(version, reports)
        warehouse.replace_session(settings.warehouse_path(), SESSION, tables)
        full = _report_and_alert(version, reports)
        # the service predicted laps up to 40 of it, then the new champion was rolled back
        warehouse.replace_table(
            settings.warehouse_path(),
            "live_predictions",
            _live_predictions(standard.laps, 40),
            "The service's predictions next to the observed laps.",
        )
        alerts.send("rollback", "champion v2 rolled back to v1", {"demoted": "2", "restored": "1", "laps": 200}, None)
        # a rollback from before any session, and a line torn by a writer that died
        alerts.append_log(
            settings.alert_log_path(),
            {"at": "2020-01-01T00:00:00+00:00", "kind": "rollback", "text": "long ago", "details": {"demoted": "1"}},
        )
        with settings.alert_log_path().open("a") as log:
            log.write('{"at": "2020-01-0')
        # rows whose report lies outside the reports folder: directly, and through a symlink
        outside = data / "outside.html"
        outside.write_text("<html>not a drift report</html>")
        (reports / "link.html").symlink_to(outside)
        bad = pl.concat(
            [
                warehouse.query(settings.warehouse_path(), "SELECT * FROM drift_history LIMIT 1").with_columns(
                    pl.lit(key).alias("session_key"), pl.lit(path).alias("report_path")
                )
                for key, path in (
                    ("evil-outside", str(reports / ".." / "outside.html")),
                    ("evil-link", str(reports / "link.html")),
                    ("evil-gone", str(reports / "gone.html")),
                )
            ]
        )
        warehouse.append(settings.warehouse_path(), {"drift_history": bad})
        yield console, empty, early, full, standard


def test_nothing_published_yet_says_what_produces_it(drifted):
    _, empty, _, _, _ = drifted
    assert empty["published_at"] is None and empty["reports"] == []
    assert "make run" in empty["empty"] and "drift_reports" in empty["empty"]


def test_the_history_is_each_report_of_the_session_newest_first(drifted, served):
    console, _, early, full, standard = drifted
    with console_client(console.url, served.keys["engineer"]) as client:
        answer = client.get("/api/drift/history", params={"session_key": SESSION})
        missing = client.get("/api/drift/history", params={"session_key": "2023-99-nowhere-race"})
        everything = client.get("/api/drift/history").json()
    body = answer.json()
    assert answer.status_code == 200 and body["published_at"] and body["empty"] is None
    newest, older = body["reports"]
    assert [newest["last_lap"], older["last_lap"]] == [58, 30] == [standard.laps["lap_number"].max(), 30]
    assert newest["session_time_s"] == pytest.approx(standard.laps["session_time_s"].max())
    assert newest["classification"] == full.result.classification == "data"
    assert newest["share_drifted"] == pytest.approx(full.result.share_drifted)
    assert newest["live_mae_clean"] == pytest.approx(full.result.live_mae_clean)
    assert newest["error_ratio"] == pytest.approx(newest["live_mae_clean"] / newest["train_mae_clean"])
    assert older["laps"] == early.result.laps < newest["laps"] == full.result.laps
    assert newest["report_current"] and not older["report_current"]  # one HTML per session, overwritten
    assert datetime.fromisoformat(newest["computed_at"]).utcoffset() == timedelta(0)
    assert missing.status_code == 404 and "2023-99-nowhere-race" in missing.json()["error"]
    [session] = [s for s in everything["sessions"] if s["session_key"] == SESSION]
    assert (session["event_name"], session["reports"], session["latest_classification"]) == (
        "Australian Grand Prix",
        2,
        "data",
    )


def test_psi_per_input_of_one_report(drifted, served):
    console, _, early, full, _ = drifted
    with console_client(console.url, served.keys["engineer"]) as client:
        older = client.get("/api/drift/history", params={"session_key": SESSION}).json()["reports"][1]
        body = client.get(
            "/api/drift/features", params={"session_key": SESSION, "computed_at": older["computed_at"]}
        ).json()
        latest = client.get("/api/drift/features", params={"session_key": SESSION}).json()
        bad = client.get("/api/drift/features", params={"session_key": SESSION, "computed_at": "lap 30"})
        none = client.get(
            "/api/drift/features", params={"session_key": SESSION, "computed_at": "2001-01-01T00:00:00+00:00"}
        )
    expected = early.result.features.sort("psi", descending=True)
    assert [f["feature"] for f in body["features"]] == expected["feature"].to_list()
    assert [f["psi"] for f in body["features"]] == pytest.approx(expected["psi"].to_list())
    assert body["psi_threshold"] == STRICT.psi and body["computed_at"] == older["computed_at"]
    assert all(f["drifted"] == (f["psi"] >= STRICT.psi) for f in body["features"])
    assert {f["feature"] for f in latest["features"] if f["drifted"]} == set(full.result.drifted_features)
    assert bad.status_code == 422 and "not an ISO 8601 time" in bad.json()["error"]
    assert none.status_code == 404 and "no drift report computed at" in none.json()["error"]


def test_the_report_is_served_only_from_the_reports_folder(drifted, served):
    console, _, _, full, _ = drifted
    with console_client(console.url, served.keys["engineer"]) as client:
        report = client.get("/api/drift/report", params={"session_key": SESSION})
        refused = {
            key: client.get("/api/drift/report", params={"session_key": key})
            for key in ("evil-outside", "evil-link", "evil-gone", "../outside")
        }
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert report.content == full.report_path.read_bytes() and b"<html" in report.content[:2000].lower()
    assert "sandbox" in report.headers["content-security-policy"]
    for key in ("evil-outside", "evil-link"):
        assert refused[key].status_code == 404 and "inside the drift reports folder" in refused[key].json()["error"]
        assert "not a drift report" not in refused[key].text
    assert refused["evil-gone"].status_code == 404 and "is gone" in refused["evil-gone"].json()["error"]
    assert refused["../outside"].status_code == 404 and "no drift report" in refused["../outside"].json()["error"]


def test_the_alerts_are_on_the_sessions_clock_in_order(drifted, served):
    console, _, _, _, _ = drifted
    with console_client(console.url, served.keys["engineer"]) as client:
        body = client.get("/api/drift/timeline", params={"session_key": SESSION}).json()
        everything = client.get("/api/drift/timeline").json()
    events = body["events"]
    assert [(e["kind"], e["lap"], e["placed_by"]) for e in events] == [
        ("drift", 30, "report"),
        ("drift", 58, "report"),
        ("rollback", 39, "live predictions"),
    ]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert events[0]["session_time_s"] is not None
    assert events[2]["session_time_s"] is None  # the 2023 laps' wall clock is not today's
    [long_ago] = body["unplaced"]
    assert long_ago["text"] == "long ago" and "wall-clock" in long_ago["note"]
    assert body["log"]["alerts"] == 4 and body["log"]["skipped"] == 1 and body["log"]["modified_at"]
    assert body["published_at"]["drift_history"] and body["published_at"]["live_predictions"]
    assert len(everything["events"]) == 3 and len(everything["unplaced"]) == 1


def test_a_viewer_is_refused_with_the_reason(drifted, served):
    console, _, _, _, _ = drifted
    paths = (
        "/api/drift/history",
        f"/api/drift/features?session_key={SESSION}",
        f"/api/drift/report?session_key={SESSION}",
        "/api/drift/timeline",
    )
    with console_client(console.url, served.keys["viewer"]) as viewer:
        for path in paths:
            refused = viewer.get(path)
            assert refused.status_code == 403 and "needs 'engineer'" in refused.json()["error"], path
    assert httpx.get(console.url + paths[0]).status_code == 401
    with console_client(console.url, served.keys["admin"]) as admin:
        assert admin.get(paths[0]).status_code == 200


def test_the_console_reads_while_another_process_holds_the_warehouse(drifted, served):
    console, _, _, _, _ = drifted
    path = Path(console.env["F1_WAREHOUSE"])
    with console_client(console.url, served.keys["engineer"]) as client, another_process_holding(path, 6.0):
        with pytest.raises(warehouse.WarehouseLockedError):  # the catalog is taken for writing
            warehouse.replace_table(path, "scratch", pl.DataFrame({"x": [1]}), "a write", wait_seconds=0.5)
        started = time.monotonic()
        answers = [
            client.get(p, params={"session_key": SESSION})
            for p in ("/api/drift/history", "/api/drift/features", "/api/drift/timeline")
        ]
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert time.monotonic() - started < 3.0  # no answer waited for the writer to let go
        assert len(answers[0].json()["reports"]) == 2


def test_the_drift_page_shows_history_psi_bars_and_the_report_link(drifted, served, browser, tmp_path):
    console, _, _, _, _ = drifted
    page, errors = open_console(browser, console.url, served.keys["engineer"], session=None)
    page.click("[data-testid=nav-drift]")
    page.locator("[data-testid=drift-report-row]").first.wait_for(timeout=30000)
    page.locator("[data-testid=drift-session]", has_text="Australian").first.click()
    assert page.locator("[data-testid=drift-report-row]").count() == 2
    page.locator("[data-testid=psi-chart] .recharts-bar-rectangle").first.wait_for(timeout=30000)
    page.locator("[data-testid=psi-threshold]").first.wait_for(timeout=10000)
    link = page.locator("[data-testid=report-link]")
    assert link.get_attribute("target") == "_blank"
    assert "/api/drift/report?session_key=" + SESSION in link.get_attribute("href")
    page.locator("[data-testid=timeline-event]").first.wait_for(timeout=30000)
    assert page.locator("[data-testid=timeline-event]").count() == 3
    assert page.locator("[data-testid=unplaced-alert]").count() == 1
    assert "published" in page.locator("[data-testid=drift-freshness]").first.inner_text()
    page.screenshot(path=str(Path(SCREENSHOTS or tmp_path) / "console-drift.png"), full_page=True)
    # by keyboard: the older report (its HTML file holds the newer one now, which the page says)
    page.locator("[data-testid=drift-report-row] button").nth(1).focus()
    page.keyboard.press("Enter")
    page.locator("[data-testid=report-not-current]").wait_for(timeout=10000)
    assert "computed_at=" in page.locator("[data-testid=report-link]").get_attribute("href")
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.screenshot(path=str(Path(SCREENSHOTS or tmp_path) / "console-drift-1920.png"), full_page=True)
    assert errors == []
