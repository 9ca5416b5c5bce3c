"""Accuracy and interval metrics, overall and per group: one definition for training reports,
benchmarks and live monitoring."""

from __future__ import annotations

import polars as pl


def summary(frame: pl.DataFrame, prediction: str = "prediction") -> dict[str, float]:
    """MAE and, where the frame has `lower`/`upper`, interval coverage and width; on all laps and
    on clean laps. `frame` holds `lap_time_s`, `clean` and the prediction columns."""
    timed = frame.filter(pl.col("lap_time_s").is_not_null() & pl.col(prediction).is_not_null())
    out: dict[str, float] = {}
    for name, subset in (("all", timed), ("clean", timed.filter(pl.col("clean")))):
        if subset.height == 0:
            continue
        error = (subset["lap_time_s"] - subset[prediction]).abs()
        out[f"mae_{name}"] = float(error.mean())
        out[f"laps_{name}"] = float(subset.height)
        if "lower" in subset.columns and prediction == "prediction":
            inside = (subset["lap_time_s"] >= subset["lower"]) & (subset["lap_time_s"] <= subset["upper"])
            out[f"coverage_{name}"] = float(inside.mean())
            out[f"width_{name}"] = float((subset["upper"] - subset["lower"]).mean())
    return out


def by_group(frame: pl.DataFrame, group: str, prediction: str = "prediction") -> pl.DataFrame:
    """Clean-lap MAE (and laps) per value of `group`, e.g. circuit_ref, compound, session_type."""
    return (
        frame.filter(pl.col("clean") & pl.col("lap_time_s").is_not_null() & pl.col(prediction).is_not_null())
        .group_by(group)
        .agg(pl.len().alias("laps"), (pl.col("lap_time_s") - pl.col(prediction)).abs().mean().alias("mae_clean"))
        .sort(group)
    )
