"""A race weekend's report: which sessions reached the warehouse, how accurate the service was on
them, what drifted, and which models were promoted or rolled back. Tables in, markdown out."""

from __future__ import annotations

import polars as pl

from f1_core.calendar import Weekend


def _table(frame: pl.DataFrame, columns: list[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in frame.select(columns).iter_rows():
        cells = [f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v)) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def session_table(weekend: Weekend, sessions: pl.DataFrame) -> pl.DataFrame:
    """One row per session of the weekend, ingested or not."""
    planned = pl.DataFrame(
        {
            "session_key": [s.ref.key for s in weekend.sessions],
            "session": [s.ref.session_name for s in weekend.sessions],
            "due_utc": [f"{s.due:%a %H:%M}" for s in weekend.sessions],
        }
    )
    stored = sessions.select("session_key", "laps_loaded", "laps_quarantined", "source")
    return planned.join(stored, on="session_key", how="left").with_columns(
        pl.when(pl.col("laps_loaded").is_null()).then(pl.lit("missing")).otherwise(pl.lit("ingested")).alias("status")
    )


def build(
    weekend: Weekend,
    sessions: pl.DataFrame,
    drift: pl.DataFrame,
    accuracy: pl.DataFrame | None,
    models: pl.DataFrame,
) -> str:
    """`sessions`, `drift` (drift_history) and `accuracy` (live_accuracy; None before the service
    predicted anything) are the warehouse's rows of the weekend's sessions; `models` the
    registry's versions made during the weekend (version, created_utc, promoted, rolled_back,
    champion)."""
    lines = [f"# {weekend.season} {weekend.event_name}: weekend report", ""]
    table = session_table(weekend, sessions)
    missing = table.filter(pl.col("status") == "missing")["session"].to_list()
    lines += [
        "## Sessions",
        "",
        f"{table.height - len(missing)} of {table.height} sessions in the warehouse"
        + (f"; missing: {', '.join(missing)}" if missing else ""),
        "",
    ]
    lines += _table(table, ["session", "due_utc", "status", "laps_loaded", "laps_quarantined", "source"]) + [""]

    lines += ["## Live accuracy (what /predict answered)", ""]
    if accuracy is not None:
        accuracy = accuracy.filter(pl.col("driver").is_null() & pl.col("compound").is_null())
    if accuracy is not None and accuracy.height:
        lines += _table(
            accuracy.sort("session_key", "model_version", "context"),
            ["session_key", "model_version", "context", "clean_laps", "mae_clean", "coverage_clean"],
        )
    else:
        lines.append("No live predictions of this weekend's sessions.")
    lines.append("")

    lines += ["## Drift (against the champion's training reference)", ""]
    if drift.height:
        latest = drift.sort("computed_at").group_by("session_key", maintain_order=True).last().sort("session_key")
        drifted = latest.filter(pl.col("classification") != "none").height
        lines += [f"{drifted} of {latest.height} sessions drifted.", ""]
        lines += _table(
            latest,
            ["session_key", "champion_version", "classification", "share_drifted", "live_mae_clean", "error_ratio"],
        )
    else:
        lines.append("No drift report of this weekend's sessions.")
    lines.append("")

    lines += ["## Models", ""]
    if models.height:
        lines += _table(models.sort("version"), ["version", "created_utc", "promoted", "rolled_back", "champion"])
    else:
        lines.append("No model was trained during the weekend.")
    return "\n".join(lines) + "\n"
