"""Which changes to the race model cross-validation keeps, and the noise floor beside them.

Each row trains the race family's point model (LightGBM, the mean of 3 seeds, the training
asset's hyperparameters) with one change to the model as it is, and prints the clean race laps'
MAE in event-grouped 5-fold cross-validation over the training events, before (the model as
it is) and after the change, against the previous clean lap. A change is in the model only if
it lowers that figure by more than the seeds alone move it (twice the seed noise of a
difference, measured on 6 seeds of the model as it is); a smaller effect is within noise and
either way is accepted. The holdout is printed for the model as it is and never chooses. Reads
the warehouse `make run` filled (F1_WAREHOUSE).

    .venv/bin/python benchmarks/accuracy_changes.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from f1_core import metrics, settings  # noqa: E402
from f1_core.features import FEATURES, UNRESET_REFERENCE  # noqa: E402
from f1_core.model import LEFT_OUT_FEATURES, MODEL_FEATURES, LapTimeModel, ModelParams, family  # noqa: E402
from f1_core.traffic import TRAFFIC_FEATURES  # noqa: E402
from f1_core.training import event_folds, holdout_split, load_warehouse, training_frame  # noqa: E402

SEEDS = 3
# one LightGBM per seed: the benchmark averages its seeds itself
ONE_SEED = ModelParams(learners=["lightgbm"], seeds=1)
BRIEF_MAE_S = 0.30


def changes() -> list[tuple[str, list[str], str | None, list[str], str | None]]:
    """(the change, the inputs without it, the reference pace without it, the inputs with it, the
    reference with it; a reference of None is `reference_fc_s` as it is): the wet/dry reset of
    the reference, the traffic features as a whole and one by one, and the candidates left out."""
    without = [f for f in MODEL_FEATURES if f not in TRAFFIC_FEATURES]
    unreset = [f for f in MODEL_FEATURES if f != "tyre_class_changed"]
    rows = [("wet/dry reset of the reference pace", unreset, UNRESET_REFERENCE, MODEL_FEATURES, None)]
    with_weather = [f for f in FEATURES if f in MODEL_FEATURES or f in LEFT_OUT_FEATURES]  # in the features' order
    rows += [("weather changes left out", with_weather, None, MODEL_FEATURES, None)]
    rows += [("traffic features (all)", without, None, MODEL_FEATURES, None)]
    rows += [(name, [f for f in MODEL_FEATURES if f != name], None, MODEL_FEATURES, None) for name in TRAFFIC_FEATURES]
    rows += [
        ("field_tyre_effect_s", MODEL_FEATURES, None, [*MODEL_FEATURES, "field_tyre_effect_s"], None),
        ("filtered_pace_fc_s as the reference pace", MODEL_FEATURES, None, MODEL_FEATURES, "filtered_pace_fc_s"),
    ]
    return rows


def with_reference(frame: pl.DataFrame, column: str | None) -> pl.DataFrame:
    """`frame` with `column` as its reference pace where it has one (the reference as it is else)."""
    if column is None:
        return frame
    return frame.with_columns(pl.coalesce(column, "reference_fc_s").alias("reference_fc_s"))


def predict(train: pl.DataFrame, test: pl.DataFrame, inputs: list[str], seeds: int = SEEDS) -> np.ndarray:
    """Each seed's predictions (one row per seed)."""
    models = [
        LapTimeModel(ONE_SEED.model_copy(update={"seed": seed}), inputs=list(inputs)).fit(train, interval=False)
        for seed in range(seeds)
    ]
    return np.array([m.predict(test, interval=False)["lap_time"].to_numpy() for m in models])


def cross_validated(race: pl.DataFrame, inputs: list[str], seeds: int = SEEDS) -> np.ndarray:
    """Out-of-fold predictions of each seed's model (one row per seed)."""
    fold = event_folds(race, 5)
    out = np.full((seeds, race.height), np.nan)
    for k in range(5):
        test = fold == k
        out[:, test] = predict(race.filter(pl.Series(~test)), race.filter(pl.Series(test)), inputs, seeds)
    return out


def seed_noise(race: pl.DataFrame, per_seed: np.ndarray) -> float:
    """How much the difference of two CV figures (each of the mean of `SEEDS` models) moves with
    the seeds alone: the spread of single-seed CV MAEs times sqrt(2 / SEEDS). A change whose
    effect is under twice this is within noise: CV cannot tell, and the model may keep or leave it."""
    maes = [scored(race, seed)["model_mae_s"] for seed in per_seed]
    return float(np.std(maes, ddof=1) * np.sqrt(2 / SEEDS))


def verdict(before: float, after: float, noise: float) -> str:
    """What CV says of a change from `before` to `after` (CV MAEs), given the seed noise."""
    if abs(after - before) < 2 * noise:
        return "within noise"
    return "keep" if after < before else "leave out"


def scored(frame: pl.DataFrame, prediction: np.ndarray) -> dict[str, float]:
    """`metrics.against_previous_clean` of `prediction` on `frame`'s races."""
    races = frame.with_columns(pl.Series("p", prediction)).filter(pl.col("session_type") == "race")
    return metrics.against_previous_clean(races, "p")


def summary_row(label: str, score: dict, frame: pl.DataFrame, target: float) -> dict:
    """The model against the previous clean lap and the noise floor of the same laps."""
    floor = metrics.noise_floor(
        frame.filter((pl.col("session_type") == "race") & pl.col("prev_clean_lap_time_s").is_not_null())
    )
    return {
        "laps of": label,
        "laps": score["laps"],
        "model s": score["model_mae_s"],
        "previous clean lap s": score["baseline_mae_s"],
        "ratio": score["ratio"],
        "target ratio": target,
        "noise sigma s": floor["noise_sigma_s"],
        "noise floor MAE s": floor["noise_floor_mae_s"],
    }


def main() -> None:
    started = time.perf_counter()
    train, holdout, _ = holdout_split(training_frame(*load_warehouse(settings.warehouse_path())))
    race = train.filter(family(pl.col("session_type")) == "race")
    held = holdout.filter(family(pl.col("session_type")) == "race")
    per_seed = cross_validated(race, MODEL_FEATURES, seeds=2 * SEEDS)
    as_it_is = scored(race, per_seed[:SEEDS].mean(axis=0))
    model = as_it_is["model_mae_s"]
    noise = seed_noise(race, per_seed)
    print(
        f"race model as it is: {len(MODEL_FEATURES)} inputs, CV {model:.4f} s on {as_it_is['laps']} clean "
        f"race laps of {race['event'].n_unique()} training events",
        flush=True,
    )
    rows = []
    for name, before_inputs, before_reference, after_inputs, after_reference in changes():
        mae = {}
        for side, inputs, reference in (
            ("before", before_inputs, before_reference),
            ("after", after_inputs, after_reference),
        ):
            if inputs == MODEL_FEATURES and reference is None:
                mae[side] = model
            else:
                frame = with_reference(race, reference)
                mae[side] = scored(frame, cross_validated(frame, inputs).mean(axis=0))["model_mae_s"]
        in_model = after_inputs == MODEL_FEATURES and after_reference is None
        rows.append(
            {
                "change": name,
                "CV before s": mae["before"],
                "CV after s": mae["after"],
                "after / before": mae["after"] / mae["before"],
                "CV says": verdict(mae["before"], mae["after"], noise),
                "in the model": "yes" if in_model else "no",
            }
        )
        print(f"  {name}: {mae['before']:.4f} -> {mae['after']:.4f} s", flush=True)
    pl.Config.set_tbl_hide_dataframe_shape(True)
    pl.Config.set_tbl_hide_column_data_types(True)
    pl.Config.set_tbl_width_chars(160)
    pl.Config.set_tbl_rows(50)
    pl.Config.set_float_precision(4)
    print("\neach change's effect (event-grouped CV, clean race laps, MAE):")
    print(pl.DataFrame(rows))
    held_per_seed = predict(race, held, MODEL_FEATURES, seeds=2 * SEEDS)
    held_score = scored(held, held_per_seed[:SEEDS].mean(axis=0))
    target = metrics.TARGET_RATIO
    summary = [
        summary_row("cross-validation", as_it_is, race, target["cross-validation"]),
        summary_row("holdout", held_score, held, target["holdout"]),
    ]
    print(
        "\nthe model as it is, against the previous clean lap and the noise floor (clean race laps "
        "with a previous clean lap):"
    )
    print(pl.DataFrame(summary))
    print(
        f"\nthe {BRIEF_MAE_S:.2f} s target: the holdout's MAE is {held_score['model_mae_s'] - BRIEF_MAE_S:+.3f} s "
        f"from it; the noise floor alone allows {summary[1]['noise floor MAE s']:.3f} s. "
        f"({time.perf_counter() - started:.0f} s)"
    )
    print(
        f"\nseed noise of a difference of two CV figures: {noise:.4f} s (the spread of {2 * SEEDS} single-seed "
        f"CV MAEs times sqrt(2/{SEEDS})); an effect under {2 * noise:.4f} s is within noise"
    )
    ratios = [scored(held, seed)["ratio"] for seed in held_per_seed]
    print(
        f"the holdout's ratio of a single-seed model, over {len(ratios)} seeds: {min(ratios):.4f}-{max(ratios):.4f} "
        f"(mean {np.mean(ratios):.4f}); of the mean of the first {SEEDS}: {held_score['ratio']:.4f}"
    )
    disagree = [
        row["change"]
        for row in rows
        if row["CV says"] != "within noise" and (row["CV says"] == "keep") != (row["in the model"] == "yes")
    ]
    if disagree:
        sys.exit(f"MISMATCH: the model does not follow cross-validation for {', '.join(disagree)}")


if __name__ == "__main__":
    main()
