"""Drift reports of warehouse sessions against the champion: computed, stored as HTML and as rows
of `drift_history` and `drift_features`. Plain Python: the Dagster asset, the tests and the
benchmarks call this."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from f1_core import drift, history, registry, warehouse
from f1_core.alert_timeline import CLOCK_COLUMNS, covered_clock
from f1_core.features import clean_laps, lap_features
from f1_core.intent import with_intents
from f1_core.model import family, relative_pace
from f1_core.progress import Progress
from f1_core.training import load_warehouse

# below this many reference laps of the session's family, the whole reference is used
MIN_REFERENCE_ROWS = 300


@dataclass
class SessionDrift:
    session_key: str
    result: drift.DriftResult
    report_path: Path
    # where the compared laps end on the session's clock (alert_timeline.covered_clock)
    clock: dict | None = None


def sessions_to_report(path: Path | str, version: str) -> list[str]:
    """Warehouse sessions with no drift report against champion `version`, or written again since
    their last one (a live session whose laps keep landing)."""
    warehouse.ensure_tables(path)
    return warehouse.query(
        path,
        """
        SELECT s.session_key FROM sessions s
        LEFT JOIN (SELECT session_key, max(computed_at) AS last FROM drift_history
                   WHERE champion_version = ? GROUP BY 1) d USING (session_key)
        WHERE d.last IS NULL OR s.ingested_at > d.last ORDER BY s.session_key""",
        [version],
    )["session_key"].to_list()


def session_drift(
    path: Path | str, session_keys: list[str], version: str, thresholds: drift.DriftThresholds, reports_dir: Path
) -> list[SessionDrift]:
    """Drift of each session against champion `version`'s training reference, its clean-lap
    error against the champion's holdout error; each report is written to `reports_dir` and its
    numbers appended to the history tables."""
    if not session_keys:
        return []
    model = registry.load(version)
    reference = registry.reference(version)
    run_metrics = registry.model_card(version)["metrics"]
    inputs = drift.drift_inputs(sorted({name for m in model.models.values() for name in m.inputs}))
    laps, sessions, weather = load_warehouse(path, session_keys)
    features = lap_features(with_intents(laps, sessions), sessions, weather)
    features = features.with_columns(model.predict(features)["lap_time"].alias("prediction"))
    reports_dir.mkdir(parents=True, exist_ok=True)
    clocks = {row["session_key"]: row for row in covered_clock(laps).iter_rows(named=True)}
    done = []
    progress = Progress("drift", len(session_keys))
    for key in session_keys:
        current = features.filter(pl.col("session_key") == key)
        progress.advance(key)
        if current.height == 0:
            continue
        scored = current.filter(pl.col("clean") & pl.col("lap_time_s").is_not_null())
        live_mae = float((scored["prediction"] - scored["lap_time_s"]).abs().mean()) if scored.height else None
        kind = current.select(family(pl.col("session_type"))).item(0, 0)
        # a session is compared with its own family: a qualifying session always looks unlike races
        same = reference.filter(family(pl.col("session_type")) == kind)
        train_mae = run_metrics.get(f"holdout_mae_clean_{kind}", run_metrics.get("holdout_mae_clean"))
        result = drift.compare(
            relative_pace(same if same.height >= MIN_REFERENCE_ROWS else reference),
            relative_pace(current),
            inputs,
            thresholds,
            live_mae,
            train_mae,
        )
        report = reports_dir / f"{key}.html"
        tmp = report.with_suffix(".html.tmp")
        tmp.write_text(result.html)
        tmp.replace(report)  # a reader never sees half a report
        done.append(SessionDrift(key, result, report, clocks.get(key)))
    if done:
        warehouse.append(path, history_rows(done, version, thresholds))
    return done


def history_rows(done: list[SessionDrift], version: str, thresholds: drift.DriftThresholds) -> dict[str, pl.DataFrame]:
    now = datetime.now(UTC).replace(tzinfo=None)
    summary, per_feature = [], []
    for item in done:
        r = item.result
        ordered = r.drifted_features
        summary.append(
            {
                "session_key": item.session_key,
                "champion_version": version,
                "computed_at": now,
                "laps": r.laps,
                "features_compared": r.features.height,
                "features_drifted": len(ordered),
                "share_drifted": r.share_drifted,
                "drifted_features": ordered,
                "live_mae_clean": r.live_mae_clean,
                "train_mae_clean": r.train_mae_clean,
                "error_ratio": r.error_ratio,
                "classification": r.classification,
                "thresholds": json.dumps(thresholds.model_dump()),
                "report_path": str(item.report_path),
                **{name: (item.clock or {}).get(name) for name in CLOCK_COLUMNS},
            }
        )
        per_feature.append(
            r.features.with_columns(
                pl.lit(item.session_key).alias("session_key"),
                pl.lit(version).alias("champion_version"),
                pl.lit(now).alias("computed_at"),
            )
        )
    reports = pl.DataFrame(
        summary,
        schema={
            "session_key": pl.String,
            "champion_version": pl.String,
            "computed_at": pl.Datetime("us"),
            "laps": pl.Int32,
            "features_compared": pl.Int32,
            "features_drifted": pl.Int32,
            "share_drifted": pl.Float64,
            "drifted_features": pl.List(pl.String),
            "live_mae_clean": pl.Float64,
            "train_mae_clean": pl.Float64,
            "error_ratio": pl.Float64,
            "classification": pl.String,
            "thresholds": pl.String,
            "report_path": pl.String,
            "last_lap": pl.Int16,
            "session_time_s": pl.Float64,
            "session_start_utc": pl.Datetime("us"),
        },
    )
    return {"drift_history": reports, "drift_features": pl.concat(per_feature)}


def predicted_sessions(predictions: pl.DataFrame, sessions: pl.DataFrame) -> list[str]:
    """The session keys the logged predictions are about."""
    asked = predictions.select(pl.col("season").cast(pl.Int64), "event", "session").unique()
    return (
        sessions.with_columns(pl.col("season").cast(pl.Int64))
        .join(asked, left_on=["season", "event_name", "session_name"], right_on=["season", "event", "session"])[
            "session_key"
        ]
        .to_list()
    )


def live_predictions(predictions: pl.DataFrame, laps: pl.DataFrame, sessions: pl.DataFrame) -> pl.DataFrame:
    """The service's logged predictions next to the laps as they were observed (one row per
    session, driver, lap, model version and context: the latest prediction when a lap was asked
    twice). `context` says what the features knew (`session` state or the `request` alone);
    predictions logged before the service had session states were all `request`."""

    if predictions.height == 0:
        return pl.DataFrame(schema=LIVE_SCHEMA)
    if "context" not in predictions.columns:
        predictions = predictions.with_columns(pl.lit(None, pl.String).alias("context"))
    predictions = predictions.with_columns(pl.col("context").fill_null("request"))
    keys = sessions.select(
        "session_key",
        pl.col("season").cast(pl.Int64),
        pl.col("event_name").alias("event"),
        pl.col("session_name").alias("session"),
        "circuit_ref",
        "session_type",
    )
    observed = laps.select(
        "session_key",
        "driver",
        pl.col("lap_number").cast(pl.Int64),
        "compound",
        pl.col("tyre_life").cast(pl.Int64),
        pl.col("lap_time_s").alias("observed"),
        clean_laps(laps, sessions),
    )
    return (
        predictions.filter(~pl.col("degraded") & pl.col("model_version").is_not_null())
        .with_columns(pl.col("season").cast(pl.Int64), pl.col("lap_number").cast(pl.Int64))
        .sort("logged_at")
        .unique(["season", "event", "session", "driver", "lap_number", "model_version", "context"], keep="last")
        .join(keys, on=["season", "event", "session"], how="inner")
        .join(observed, on=["session_key", "driver", "lap_number"], how="inner")
        .filter(pl.col("observed").is_not_null())
        .select(
            "session_key",
            "circuit_ref",
            "session_type",
            "driver",
            "lap_number",
            "compound",
            "tyre_life",
            pl.col("model_version").cast(pl.String),
            "context",
            pl.col("lap_time").alias("prediction"),
            "lower",
            "upper",
            "observed",
            "clean",
            history.abs_error("lap_time"),
            history.covered(),
            pl.col("logged_at").cast(pl.String),
            pl.col("shadow_lap_time").alias("shadow_prediction")
            if "shadow_lap_time" in predictions.columns
            else pl.lit(None, pl.Float64).alias("shadow_prediction"),
            pl.col("shadow_version").cast(pl.String)
            if "shadow_version" in predictions.columns
            else pl.lit(None, pl.String).alias("shadow_version"),
        )
        .cast(LIVE_SCHEMA)
        .sort("session_key", "driver", "lap_number", "model_version", "context")
    )


LIVE_SCHEMA = {
    "session_key": pl.String,
    "circuit_ref": pl.String,
    "session_type": pl.String,
    "driver": pl.String,
    "lap_number": pl.Int64,
    "compound": pl.String,
    "tyre_life": pl.Int64,
    "model_version": pl.String,
    "context": pl.String,
    "prediction": pl.Float64,
    "lower": pl.Float64,
    "upper": pl.Float64,
    "observed": pl.Float64,
    "clean": pl.Boolean,
    "abs_error": pl.Float64,
    "covered": pl.Boolean,
    "logged_at": pl.String,
    "shadow_prediction": pl.Float64,
    "shadow_version": pl.String,
}

# live MAE per session, driver, compound, model version and context (DuckDB GROUPING SETS over
# live_predictions); answers of the two contexts are never pooled
LIVE_ACCURACY_SQL = """
SELECT session_key, driver, compound, model_version, context,
       count(*) AS laps, count(*) FILTER (WHERE clean) AS clean_laps,
       avg(abs_error) AS mae_all, avg(abs_error) FILTER (WHERE clean) AS mae_clean,
       avg(covered::INTEGER) FILTER (WHERE clean) AS coverage_clean
FROM live_predictions
GROUP BY GROUPING SETS ((session_key, model_version, context), (session_key, driver, model_version, context),
                        (session_key, compound, model_version, context), (model_version, context))
ORDER BY session_key NULLS FIRST, model_version, context, driver NULLS FIRST, compound NULLS FIRST
"""


@dataclass
class Watch:
    """A new champion judged on live clean laps against the previous champion's shadow
    predictions of the same laps."""

    laps: int
    mae_champion: float | None
    mae_shadow: float | None
    verdict: str  # watching (too few laps yet), passed, rollback


def watch(live: pl.DataFrame, champion: str, previous: str, laps_needed: int, margin: float) -> Watch:
    """Judged on one context, never both: the answers made from session states when there are
    any (what live clients get), else those made from requests alone."""
    rows = live.filter(
        (pl.col("model_version") == champion)
        & (pl.col("shadow_version") == previous)
        & pl.col("clean")
        & pl.col("shadow_prediction").is_not_null()
    )
    if "context" in rows.columns and rows.height:
        rows = rows.filter(pl.col("context") == ("session" if (rows["context"] == "session").any() else "request"))
    if rows.height == 0:
        return Watch(0, None, None, "watching")
    ours = float(rows["abs_error"].mean())
    theirs = float((rows["shadow_prediction"] - rows["observed"]).abs().mean())
    if rows.height < laps_needed:
        return Watch(rows.height, ours, theirs, "watching")
    return Watch(rows.height, ours, theirs, "rollback" if ours > theirs * (1 + margin) else "passed")
