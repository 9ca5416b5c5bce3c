"""Accuracy and interval metrics, overall and per group: one definition for training reports,
benchmarks and live monitoring."""

from __future__ import annotations

import math

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


# The model's clean-lap MAE over the previous clean lap's, on races: at most this much
TARGET_RATIO = {"holdout": 0.75, "cross-validation": 0.85}
# Push laps of practice and qualifying, their intent given: the model's MAE over the previous push
# lap's, at most this much (20% better)
PUSH_TARGET_RATIO = 0.8


def against_previous_clean(frame: pl.DataFrame, prediction: str = "prediction") -> dict[str, float]:
    """The MAE of `prediction` and of the previous clean lap (the baseline to beat) on `frame`'s
    clean laps that have a previous clean lap, their ratio and how many laps."""
    return _against(frame, prediction, "prev_clean_lap_time_s", pl.col("clean"))


def against_previous_push(frame: pl.DataFrame, prediction: str = "prediction") -> dict[str, float]:
    """The same on the clean push laps (`intent`) that have a previous push lap, against it."""
    return _against(frame, prediction, "prev_push_lap_time_s", pl.col("clean") & (pl.col("intent") == "push"))


def band_by_session(frame: pl.DataFrame, point: str, lower: str, upper: str) -> pl.DataFrame:
    """Per session: laps, the MAE of `point`, and how often and how wide the band `lower`-`upper`
    holds the lap time."""
    time = pl.col("lap_time_s")
    return (
        frame.group_by("session_key")
        .agg(
            pl.len().alias("clean laps"),
            (pl.col(point) - time).abs().mean().round(4).alias("MAE"),
            ((time >= pl.col(lower)) & (time <= pl.col(upper))).mean().round(3).alias("coverage 90%"),
            (pl.col(upper) - pl.col(lower)).mean().round(2).alias("width s"),
        )
        .sort("session_key")
    )


def _against(frame: pl.DataFrame, prediction: str, baseline: str, laps: pl.Expr) -> dict[str, float]:
    laps = frame.filter(laps & pl.col(baseline).is_not_null() & pl.col(prediction).is_not_null())
    model = float((laps[prediction] - laps["lap_time_s"]).abs().mean())
    base = float((laps[baseline] - laps["lap_time_s"]).abs().mean())
    return {"laps": laps.height, "model_mae_s": model, "baseline_mae_s": base, "ratio": model / base}


def noise_floor(frame: pl.DataFrame) -> dict[str, float]:
    """How well any predictor could do on `frame`'s clean laps if it knew each driver's pace
    exactly: the lap-to-lap noise from second differences of three consecutive clean laps of one
    driver's stint (y3 - 2 y2 + y1 cancels pace moving linearly with fuel and tyres), its robust
    scale (1.4826 MAD / sqrt 6, each lap's noise entering the difference with weights 1, 2, 1),
    and the MAE of Gaussian noise of that scale (sigma * sqrt(2/pi)). Real errors have a heavier
    tail (traffic, mistakes): this is the floor of the noise's core, not of the MAE."""
    keys = ["session_key", "driver", "stint"]
    laps = frame.filter(pl.col("clean") & pl.col("lap_time_s").is_not_null()).sort(*keys, "lap_number")
    time, number = pl.col("lap_time_s"), pl.col("lap_number")
    triples = laps.with_columns(
        (time.shift(-1).over(keys) - 2 * time + time.shift(1).over(keys)).alias("d2"),
        ((number.shift(-1).over(keys) - number.shift(1).over(keys)) == 2).alias("consecutive"),
    ).filter(pl.col("consecutive") & pl.col("d2").is_not_null())
    d2 = triples["d2"]
    if d2.len() < 30:
        return {}
    sigma = 1.4826 * float((d2 - d2.median()).abs().median()) / math.sqrt(6)
    return {
        "noise_sigma_s": sigma,
        "noise_floor_mae_s": sigma * math.sqrt(2 / math.pi),
        "noise_triples": float(d2.len()),
    }
