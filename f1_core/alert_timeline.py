"""Alerts placed on a session's clock, for the console's alert timeline. Plain Python over what the
pipeline publishes (`drift_history`, `live_predictions`) and the alert log (`f1_core.alerts`).

The session clock is counted in laps (`lap`: the last lap the session had completed when the
alert was raised, 0 before the first) and, where the wall clock can be mapped onto it, session
time in seconds:
- a drift alert is about one session (`details.session_key`): its report's laps compared end at
  `drift_history.last_lap` / `session_time_s`;
- a rollback happens at a wall-clock time during whatever session was live. The session the
  service was predicting then (`live_predictions.logged_at`; the prediction for lap N is asked
  once lap N-1 has landed) gives the lap; the laps' own wall clock (`lap_start_date` against
  `lap_start_time_s`, kept as `drift_history.session_start_utc`) gives session time, which only
  works for a session run live (a replay keeps the laps' historical dates). When neither maps
  it, the alert keeps its wall-clock time and says why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import polars as pl

# a rollback this long after a session's last prediction (or last lap) still belongs to it: the
# watch judges the predictions after the laps land and the accuracy tables refresh
SLACK = timedelta(minutes=10)
CLOCK_COLUMNS = ("last_lap", "session_time_s", "session_start_utc")


def covered_clock(laps: pl.DataFrame) -> pl.DataFrame:
    """Per session of `laps` (warehouse rows): `last_lap`, `session_time_s` at its end and
    `session_start_utc`, the wall clock at session time 0 (median over laps of lap_start_date
    minus lap_start_time_s; NULL when the source had no dates)."""
    return laps.group_by("session_key").agg(
        pl.col("lap_number").max().cast(pl.Int16).alias("last_lap"),
        pl.col("session_time_s").max().alias("session_time_s"),
        (pl.col("lap_start_date") - pl.duration(microseconds=(pl.col("lap_start_time_s") * 1e6).round().cast(pl.Int64)))
        .median()
        .cast(pl.Datetime("us"))
        .alias("session_start_utc"),
    )


@dataclass(frozen=True)
class Placed:
    at: str  # wall clock UTC, ISO 8601
    kind: str
    text: str
    details: dict
    session_key: str | None  # the session it is placed on; None: on none
    lap: int | None  # the session's last completed lap at the time
    session_time_s: float | None
    placed_by: str  # report, live predictions, session wall clock, or unplaced
    note: str  # how it was placed, or why it could not be

    def to_json(self) -> dict:
        return asdict(self)


def utc(text: str) -> datetime:
    """An ISO 8601 time as aware UTC (a naive one is taken as UTC, as the warehouse stores them)."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _history(history: pl.DataFrame | None) -> pl.DataFrame:
    """drift_history with the clock columns (NULL in a warehouse written before they existed)."""
    schema = {
        "session_key": pl.String,
        "champion_version": pl.String,
        "computed_at": pl.Datetime("us"),
        "last_lap": pl.Int64,
        "session_time_s": pl.Float64,
        "session_start_utc": pl.Datetime("us"),
    }
    if history is None or history.height == 0:
        return pl.DataFrame(schema=schema)
    missing = [pl.lit(None).alias(name) for name in CLOCK_COLUMNS if name not in history.columns]
    return history.with_columns(missing).select(pl.col(name).cast(kind) for name, kind in schema.items())


def _predictions(predictions: pl.DataFrame | None) -> pl.DataFrame:
    schema = {"session_key": pl.String, "lap_number": pl.Int64, "logged": pl.Datetime("us")}
    if predictions is None or predictions.height == 0:
        return pl.DataFrame(schema=schema)
    logged = [_naive(utc(text)) if text else None for text in predictions["logged_at"].to_list()]
    return (
        predictions.select("session_key", pl.col("lap_number").cast(pl.Int64))
        .with_columns(pl.Series("logged", logged, dtype=pl.Datetime("us")))
        .drop_nulls("logged")
    )


def _session_time(history: pl.DataFrame, key: str, at: datetime) -> float | None:
    """Seconds since the session's start when `at` falls within its laps' wall clock (plus SLACK)."""
    rows = history.filter((pl.col("session_key") == key) & pl.col("session_start_utc").is_not_null())
    if rows.height == 0:
        return None
    start = rows.sort("computed_at")["session_start_utc"].item(-1)
    end = start + timedelta(seconds=rows["session_time_s"].max() or 0.0)
    return (at - start).total_seconds() if start <= at <= end + SLACK else None


def _by_report(alert: dict, at: datetime, history: pl.DataFrame) -> tuple:
    key = alert["details"].get("session_key")
    rows = history.filter((pl.col("session_key") == key) & (pl.col("computed_at") <= at))
    version = alert["details"].get("champion_version")
    if version is not None and (rows["champion_version"] == str(version)).any():
        rows = rows.filter(pl.col("champion_version") == str(version))
    if rows.height == 0:
        return key, None, None, "unplaced", f"no published drift report of {key} made before this alert"
    report = rows.sort("computed_at").row(-1, named=True)
    if report["last_lap"] is None:
        return (
            key,
            None,
            None,
            "unplaced",
            ("its drift report predates the session-clock columns (drift_history.last_lap): shown at wall-clock time"),
        )
    return (
        key,
        report["last_lap"],
        report["session_time_s"],
        "report",
        f"the laps its drift report compared end after lap {report['last_lap']}",
    )


def _by_predictions(at: datetime, predictions: pl.DataFrame, history: pl.DataFrame, only: str | None) -> tuple | None:
    rows = predictions if only is None else predictions.filter(pl.col("session_key") == only)
    spans = rows.group_by("session_key").agg(
        pl.col("logged").min().alias("first"), pl.col("logged").max().alias("last")
    )
    live = spans.filter((pl.col("first") <= at) & (pl.col("last") + SLACK >= at))
    if live.height == 0:
        return None
    before = rows.filter(pl.col("session_key").is_in(live["session_key"].implode()) & (pl.col("logged") <= at))
    latest = before.sort("logged").row(-1, named=True)
    key = latest["session_key"]
    asked = before.filter(pl.col("session_key") == key)["lap_number"].max()
    lap = max(int(asked) - 1, 0)
    return (
        key,
        lap,
        _session_time(history, key, at),
        "live predictions",
        f"the service was predicting {key}: lap {asked} was the latest lap asked before it",
    )


def _by_wall_clock(at: datetime, history: pl.DataFrame, only: str | None) -> tuple | None:
    keys = history["session_key"].unique().to_list() if only is None else [only]
    for key in sorted(keys):
        seconds = _session_time(history, key, at)
        if seconds is None:
            continue
        covered = history.filter((pl.col("session_key") == key) & (pl.col("session_time_s") <= seconds))
        lap = covered["last_lap"].max() if covered.height else None
        return (
            key,
            None if lap is None else int(lap),
            seconds,
            "session wall clock",
            f"its time falls within {key}'s laps (lap_start_date on the session clock)",
        )
    return None


def place(alerts: list[dict], history: pl.DataFrame | None, predictions: pl.DataFrame | None) -> list[Placed]:
    """Every alert (as `f1_core.alerts.read_log` gives them) on the clock of its session, oldest
    first."""
    history, predictions = _history(history), _predictions(predictions)
    placed = []
    for alert in alerts:
        at = _naive(utc(alert["at"]))
        details = alert.get("details") or {}
        if alert["kind"] == "drift" and details.get("session_key"):
            where = _by_report(alert, at, history)
        else:
            only = details.get("session_key")
            where = (
                _by_predictions(at, predictions, history, only)
                or _by_wall_clock(at, history, only)
                or (
                    only,
                    None,
                    None,
                    "unplaced",
                    "no live session was being predicted or running at its time: shown at wall-clock time",
                )
            )
        key, lap, seconds, how, note = where
        placed.append(
            Placed(
                utc(alert["at"]).isoformat(),
                alert["kind"],
                alert.get("text", ""),
                details,
                key,
                lap,
                seconds,
                how,
                note,
            )
        )
    return sorted(placed, key=lambda p: utc(p.at))


def of_session(placed: list[Placed], session_key: str) -> tuple[list[Placed], list[Placed]]:
    """The alerts on `session_key`'s clock, and those about it (or no session) that could not be
    placed on any clock, each oldest first."""
    on = [p for p in placed if p.session_key == session_key and p.placed_by != "unplaced"]
    off = [p for p in placed if p.placed_by == "unplaced" and p.session_key in (session_key, None)]
    return on, off
