"""Model against baselines on the time-ordered holdout, and how long training takes.

Reads the warehouse `make run` filled (F1_WAREHOUSE); trains exactly as the training asset does
(default TrainingConfig) without logging to MLflow.

    .venv/bin/python benchmarks/accuracy.py
"""

from __future__ import annotations

import time

import polars as pl

from f1_core import metrics, settings
from f1_core.features import NOT_CLEAN_RULES, removed_by_rule
from f1_core.intent import ONE_LAP_SESSIONS
from f1_core.model import ModelParams
from f1_core.training import BASELINES, load_warehouse, train_and_evaluate, training_frame

COLUMNS = {"model": "prediction", **{name.removeprefix("baseline_"): name for name in BASELINES}}


def table(scored: pl.DataFrame, group: str | None) -> pl.DataFrame:
    clean = scored.filter(pl.col("clean"))
    keys = [group] if group else []
    return (
        clean.group_by(keys or pl.lit("all").alias("laps of"))
        .agg(
            pl.len().alias("clean laps"),
            *((pl.col(col) - pl.col("lap_time_s")).abs().mean().round(3).alias(name) for name, col in COLUMNS.items()),
            ((pl.col("lap_time_s") >= pl.col("lower")) & (pl.col("lap_time_s") <= pl.col("upper")))
            .mean()
            .round(3)
            .alias("coverage 90%"),
            (pl.col("upper") - pl.col("lower")).mean().round(2).alias("width s"),
        )
        .sort(keys or "laps of")
    )


def coverage_per_session(scored: pl.DataFrame) -> pl.DataFrame:
    """Per holdout session, on its clean laps: the 90% band's coverage, the share of laps below
    and above it, its mean width."""
    clean = scored.filter(pl.col("clean"))
    return (
        clean.group_by("session_key", "session_type")
        .agg(
            pl.len().alias("clean laps"),
            ((pl.col("lap_time_s") >= pl.col("lower")) & (pl.col("lap_time_s") <= pl.col("upper")))
            .mean()
            .round(3)
            .alias("coverage 90%"),
            (pl.col("lap_time_s") < pl.col("lower")).mean().round(3).alias("below"),
            (pl.col("lap_time_s") > pl.col("upper")).mean().round(3).alias("above"),
            (pl.col("upper") - pl.col("lower")).mean().round(2).alias("width s"),
        )
        .sort("session_type", "session_key")
    )


def main() -> None:
    started = time.perf_counter()
    frame = training_frame(*load_warehouse(settings.warehouse_path()))
    built = time.perf_counter() - started
    result = train_and_evaluate(frame, ModelParams())
    print(
        f"features: {frame.height} laps of {frame['session_key'].n_unique()} sessions in {built:.1f} s; "
        f"training (5-fold event CV + final fit): {result.seconds:.1f} s"
    )
    removed = removed_by_rule(frame).select(NOT_CLEAN_RULES).sum().row(0, named=True)
    print(
        "laps each clean-lap rule removed (the first it broke), all sessions: "
        + ", ".join(f"{rule} {count}" for rule, count in removed.items())
    )
    cv = {
        k.removeprefix("cv_mae_clean_"): round(v, 3) for k, v in result.metrics.items() if k.startswith("cv_mae_clean_")
    }
    print(f"cross-validated clean-lap MAE by blend: {cv}; chosen: {result.blend}")
    print(f"holdout events: {', '.join(result.holdout_events)}\n")
    pl.Config.set_tbl_hide_dataframe_shape(True)
    pl.Config.set_tbl_hide_column_data_types(True)
    pl.Config.set_tbl_width_chars(160)
    print("clean-lap MAE (s) on the holdout, model vs baselines:")
    print(table(result.holdout, None))
    print(table(result.holdout, "session_type"))
    per_session = coverage_per_session(result.holdout)
    print("\n90% interval per holdout session (clean laps):")
    print(per_session)
    coverage = per_session.filter(pl.col("session_type") == "race")["coverage 90%"]
    print(
        f"races' coverage {coverage.min():.3f}-{coverage.max():.3f} (every race within 0.85-0.95: "
        f"{'yes' if coverage.min() >= 0.85 and coverage.max() <= 0.95 else 'no'})"
    )
    m = result.metrics
    gain = 1 - m["holdout_mae_clean"] / m["holdout_baseline_previous_clean_lap_mae_clean"]
    races = result.holdout.filter(pl.col("clean") & (pl.col("session_type") == "race"))
    race_gain = (
        1
        - (races["prediction"] - races["lap_time_s"]).abs().mean()
        / (races["baseline_previous_clean_lap"] - races["lap_time_s"]).abs().mean()
    )
    cv = metrics.against_previous_clean(result.cross_validated.filter(pl.col("session_type") == "race"))
    print(
        f"\ncross-validated, training events' clean race laps with a previous clean lap ({cv['laps']}):"
        f" model {cv['model_mae_s']:.3f} s vs previous clean lap {cv['baseline_mae_s']:.3f} s "
        f"({1 - cv['ratio']:.1%} lower)"
    )
    print(
        f"model vs previous-clean-lap baseline: {gain:.1%} lower clean-lap MAE on all holdout "
        f"sessions, {race_gain:.1%} on races; all-laps MAE {m['holdout_mae_all']:.3f} s "
        f"(baseline {m['holdout_baseline_previous_clean_lap_mae_all']:.3f} s)"
    )
    held = metrics.against_previous_clean(races)
    floor = metrics.noise_floor(races.filter(pl.col("prev_clean_lap_time_s").is_not_null()))
    target = metrics.TARGET_RATIO
    print(
        f"clean race laps with a previous clean lap, model / previous clean lap: holdout {held['ratio']:.3f} "
        f"(target {target['holdout']}), cross-validation {cv['ratio']:.3f} (target {target['cross-validation']}); "
        f"noise floor on the same holdout laps: sigma {floor['noise_sigma_s']:.3f} s, "
        f"MAE {floor['noise_floor_mae_s']:.3f} s"
    )
    one_lap(result)


def one_lap(result) -> None:
    """Practice and qualifying: push laps (their intent as labelled after the fact) against the
    previous push lap, and the band of laps asked for without an intent."""
    in_one_lap = pl.col("session_type").is_in(list(ONE_LAP_SESSIONS))
    cv = metrics.against_previous_push(result.cross_validated.filter(in_one_lap))
    held = metrics.against_previous_push(result.holdout.filter(in_one_lap))
    print(
        f"\npractice and qualifying, clean push laps with a previous push lap, intent given, model / previous push "
        f"lap: holdout {held['ratio']:.3f} ({held['model_mae_s']:.3f} s vs {held['baseline_mae_s']:.3f} s, "
        f"{held['laps']} laps), cross-validation {cv['ratio']:.3f} ({cv['model_mae_s']:.3f} s vs "
        f"{cv['baseline_mae_s']:.3f} s, {cv['laps']} laps); target {metrics.PUSH_TARGET_RATIO}"
    )
    laps = result.holdout.filter(in_one_lap & pl.col("clean"))
    unknown = result.model.predict(laps.with_columns(pl.lit(None, pl.String).alias("intent")))
    laps = laps.with_columns(unknown.rename(lambda name: f"{name}_unknown"))
    print("the 90% band of the holdout's clean one-lap-session laps asked without an intent (a push-lap prediction):")
    print(metrics.band_by_session(laps, "lap_time_unknown", "lower_unknown", "upper_unknown"))


if __name__ == "__main__":
    main()
