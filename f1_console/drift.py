"""The Drift and alerts page's API (engineer): each session's drift reports, the per-input PSI of
one report, the Evidently report itself, and the alerts on the session's clock.

Everything comes from what the pipeline publishes for readers (`f1_core.published`), never from
the DuckDB file, so reading can never hold up the pipeline's writer; each answer says when its
tables were published. Alerts come from the append-only alert log (`f1_core.alerts.read_log`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from f1_console.context import Refused, signed_in
from f1_core import alert_timeline, alerts, published, settings

router = APIRouter(prefix="/api/drift", dependencies=[Depends(signed_in("engineer"))])

NOTHING_YET = (
    "No drift report is published yet. The pipeline's drift_reports asset writes them "
    "(`make run` ingests sessions, trains a champion and reports drift on every session)."
)
# an Evidently report runs its own scripts: in an opaque origin, never as the console's page
REPORT_HEADERS = {
    "Content-Security-Policy": "sandbox allow-scripts",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _iso(moment: datetime | None) -> str | None:
    """A warehouse time (naive UTC) as ISO 8601 with its offset, so a browser reads it as UTC."""
    return None if moment is None else moment.replace(tzinfo=UTC).isoformat()


def _history() -> tuple[pl.DataFrame | None, str | None]:
    table = published.read_published("drift_history")
    return table.frame, table.published_at


def _report_row(session_key: str, computed_at: str | None) -> dict:
    """The drift_history row of one report (the session's latest when `computed_at` is None)."""
    frame, _ = _history()
    if frame is None:
        raise Refused(404, NOTHING_YET)
    rows = frame.filter(pl.col("session_key") == session_key)
    if rows.height == 0:
        raise Refused(404, f"no drift report of session {session_key!r} is published")
    if computed_at is None:
        return rows.sort("computed_at").row(-1, named=True)
    try:
        at = alert_timeline.utc(computed_at).replace(tzinfo=None)
    except ValueError:
        raise Refused(
            422, f"computed_at={computed_at!r} is not an ISO 8601 time (e.g. 2024-05-01T12:30:00.123456+00:00)"
        ) from None
    match = rows.filter(pl.col("computed_at") == at)
    if match.height == 0:
        raise Refused(404, f"session {session_key!r} has no drift report computed at {computed_at}")
    return match.row(0, named=True)


def _public(row: dict, newest: datetime) -> dict:
    clock = {name: row.get(name) for name in alert_timeline.CLOCK_COLUMNS}
    try:
        thresholds = json.loads(row["thresholds"])
    except (TypeError, ValueError):
        thresholds = {}
    return {
        **{
            name: row[name]
            for name in (
                "session_key",
                "champion_version",
                "laps",
                "features_compared",
                "features_drifted",
                "share_drifted",
                "drifted_features",
                "live_mae_clean",
                "train_mae_clean",
                "error_ratio",
                "classification",
            )
        },
        "computed_at": _iso(row["computed_at"]),
        "thresholds": thresholds,
        "last_lap": clock["last_lap"],
        "session_time_s": clock["session_time_s"],
        "session_start_utc": _iso(clock["session_start_utc"]),
        # one HTML file per session, overwritten by each report: only the newest is still in it
        "report_current": row["computed_at"] == newest,
    }


@router.get("/history")
def history(session_key: str | None = None):
    """The drift reports, newest first (one session's with `session_key`), and the sessions that
    have any, with their names and latest classification."""
    frame, published_at = _history()
    if frame is None:
        return {"published_at": None, "empty": NOTHING_YET, "sessions": [], "reports": []}
    names = published.read_published("sessions").frame
    latest = (
        frame.sort("computed_at")
        .group_by("session_key", maintain_order=True)
        .agg(
            pl.len().alias("reports"),
            pl.col("computed_at").last().alias("newest"),
            pl.col("classification").last().alias("latest_classification"),
        )
    )
    if names is not None:
        latest = latest.join(
            names.select("session_key", "event_name", "session_name", "session_type"), on="session_key", how="left"
        )
    newest = dict(zip(latest["session_key"], latest["newest"], strict=True))
    rows = frame if session_key is None else frame.filter(pl.col("session_key") == session_key)
    if session_key is not None and rows.height == 0:
        raise Refused(404, f"no drift report of session {session_key!r} is published")
    sessions = [
        {**{k: v for k, v in row.items() if k != "newest"}, "newest": _iso(row["newest"])}
        for row in latest.sort("newest", descending=True).iter_rows(named=True)
    ]
    return {
        "published_at": published_at,
        "empty": None,
        "sessions": sessions,
        "reports": [
            _public(row, newest[row["session_key"]])
            for row in rows.sort("computed_at", descending=True).iter_rows(named=True)
        ],
    }


@router.get("/features")
def features(session_key: str, computed_at: str | None = None):
    """PSI, Jensen-Shannon distance and KS p-value of each input of one report, largest PSI first."""
    row = _report_row(session_key, computed_at)
    table = published.read_published("drift_features")
    frame = table.frame
    rows = (
        pl.DataFrame()
        if frame is None
        else frame.filter((pl.col("session_key") == session_key) & (pl.col("computed_at") == row["computed_at"]))
    )
    if rows.height == 0:
        raise Refused(
            404,
            f"the drift report of {session_key!r} at {_iso(row['computed_at'])} has no "
            "published per-input numbers (drift_features)",
        )
    try:
        threshold = json.loads(row["thresholds"]).get("psi")
    except (TypeError, ValueError, AttributeError):
        threshold = None
    return {
        "session_key": session_key,
        "computed_at": _iso(row["computed_at"]),
        "champion_version": row["champion_version"],
        "psi_threshold": threshold,
        "published_at": table.published_at,
        "features": rows.sort("psi", descending=True)
        .select("feature", "psi", "js_distance", "ks_p_value", "drifted")
        .to_dicts(),
    }


@router.get("/report")
def report(session_key: str, computed_at: str | None = None):
    """The Evidently HTML of one report, only from inside the drift reports folder."""
    row = _report_row(session_key, computed_at)
    folder = settings.drift_reports_dir().resolve()
    path = Path(row["report_path"]).resolve()
    if not path.is_relative_to(folder) or path.suffix != ".html":
        raise Refused(
            404,
            f"the report of {session_key!r} names {row['report_path']!r}, which is not an HTML "
            f"file inside the drift reports folder {folder} (F1_DRIFT_REPORTS): not served",
        )
    if not path.is_file():
        raise Refused(404, f"the report file {path.name} of {session_key!r} is gone from {folder}")
    return FileResponse(path, media_type="text/html", headers=REPORT_HEADERS)


@router.get("/timeline")
def timeline(session_key: str | None = None):
    """The alerts on the session's clock (every session's without `session_key`), and those that
    could not be placed on any, with their wall-clock time and why."""
    log_path = settings.alert_log_path()
    log = alerts.read_log(log_path)
    history_table, predictions = published.read_published("drift_history"), published.read_published("live_predictions")
    placed = alert_timeline.place(log.alerts, history_table.frame, predictions.frame)
    if session_key is None:
        on = [p for p in placed if p.placed_by != "unplaced"]
        off = [p for p in placed if p.placed_by == "unplaced"]
    else:
        on, off = alert_timeline.of_session(placed, session_key)
    try:
        modified = datetime.fromtimestamp(log_path.stat().st_mtime, UTC).isoformat(timespec="seconds")
    except FileNotFoundError:
        modified = None
    return {
        "session_key": session_key,
        "events": [p.to_json() for p in on],
        "unplaced": [p.to_json() for p in off],
        "log": {"path": str(log_path), "alerts": len(log.alerts), "skipped": log.skipped, "modified_at": modified},
        "published_at": {"drift_history": history_table.published_at, "live_predictions": predictions.published_at},
    }
