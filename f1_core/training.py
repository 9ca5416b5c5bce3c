"""Training data, circuit-aware validation, baselines and evaluation. No Dagster, no MLflow:
the training asset, the benchmark and notebooks call these."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from f1_core import metrics, warehouse
from f1_core.features import FUEL_SECONDS_PER_KG, RACE_LIKE, lap_features
from f1_core.intent import ASSUMED_INTENT, with_intents
from f1_core.model import (
    FAMILIES,
    FAMILY_INPUTS,
    LapTimeModel,
    ModelParams,
    SessionFamilyModel,
    family,
)
from f1_core.progress import Progress

BASELINES = ("baseline_previous_clean_lap", "baseline_rolling_mean", "baseline_fuel_tyre")


def load_warehouse(path: str | Path, session_keys: list[str] | None = None) -> tuple[pl.DataFrame, ...]:
    """laps, sessions (with `total_laps`, the race distance, for races and sprints) and weather."""
    where = "" if session_keys is None else "WHERE session_key IN (SELECT unnest(?))"
    params = [] if session_keys is None else [session_keys]
    laps = warehouse.query(path, f"SELECT * FROM laps {where}", params)
    sessions = warehouse.query(
        path,
        f"""
        SELECT s.*, CASE WHEN s.session_type IN {RACE_LIKE} THEN d.total_laps END AS total_laps
        FROM sessions s LEFT JOIN (SELECT session_key, max(lap_number) AS total_laps FROM laps GROUP BY 1) d
          USING (session_key) {where.replace("session_key", "s.session_key")}""",
        params,
    )
    weather = warehouse.query(path, f"SELECT * FROM weather {where}", params)
    return laps, sessions, weather


def training_frame(laps: pl.DataFrame, sessions: pl.DataFrame, weather: pl.DataFrame) -> pl.DataFrame:
    """Features and target with each lap's event, for grouping and time ordering; each lap of a
    practice or qualifying session with its intent as labelled after the fact (`intent`)."""
    events = sessions.select(
        "session_key",
        "event_date",
        "season",
        "round",
        (pl.col("season").cast(pl.String) + "-" + pl.col("round").cast(pl.String).str.zfill(2)).alias("event"),
    )
    compounds = laps.select("session_key", "driver", "lap_number", "compound")
    return (
        lap_features(with_intents(laps, sessions), sessions, weather)
        .join(events, on="session_key", how="left")
        .join(compounds, on=["session_key", "driver", "lap_number"], how="left")
    )


def data_version(sessions: pl.DataFrame) -> str:
    """Hash of the input partitions: each session's key and the hash of what its source delivered."""
    pairs = sessions.select("session_key", "data_version").sort("session_key").rows()
    return hashlib.sha256(repr(pairs).encode()).hexdigest()[:16]


# Of a drifted session the holdout would keep whole (the newest sessions are the holdout), the
# laps that ended by the middle of it (the median lap end, in session time) join training: a
# retraining learns from the new conditions, and is judged on the rest of that session.
LEARN_SHARE = 0.5


def holdout_split(
    frame: pl.DataFrame, share: float = 0.2, learn_from: Sequence[str] = ()
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, float]]:
    """The most recent events (by date) holding at least `share` of the laps are the holdout:
    the model is judged on weekends after everything it learned from. Sessions in `learn_from`
    (drifted ones) are split in time instead: laps that ended before the cut train, laps that
    started from it on are held out, laps running across it are in neither. A lap's features
    only use laps that ended before it started, so no training lap's features hold a held-out
    lap. Returns train, holdout, and each split session's cut (session seconds)."""
    per_event = (
        frame.group_by("event")
        .agg(pl.len().alias("laps"), pl.col("event_date").max())
        .sort("event_date", "event", descending=True)
    )
    total = per_event["laps"].sum()
    events, kept = [], 0
    for event, laps in per_event.select("event", "laps").iter_rows():
        if kept >= share * total:
            break
        events.append(event)
        kept += laps
    cuts = dict(
        frame.filter(pl.col("event").is_in(events) & pl.col("session_key").is_in(list(learn_from)))
        .group_by("session_key")
        .agg(pl.col("session_time_s").quantile(LEARN_SHARE))
        .drop_nulls()
        .iter_rows()
    )
    return frame.filter(in_training(events, cuts)), frame.filter(held_out(events, cuts)), cuts


def _cut(cuts: dict[str, float]) -> pl.Expr:
    return pl.col("session_key").replace_strict(cuts, default=None, return_dtype=pl.Float64)


def held_out(events: list[str], cuts: dict[str, float]) -> pl.Expr:
    """Laps of the holdout: those of the holdout `events`, but of a split session only the laps
    that started at or after its cut."""
    cut = _cut(cuts)
    later = pl.when(cut.is_null()).then(True).otherwise(pl.col("lap_start_time_s") >= cut)
    return pl.col("event").is_in(events) & later.fill_null(False)


def in_training(events: list[str], cuts: dict[str, float]) -> pl.Expr:
    """Laps of the training set: those outside the holdout `events`, and of a split session the
    laps that ended before its cut."""
    cut = _cut(cuts)
    earlier = pl.when(cut.is_null()).then(False).otherwise(pl.col("session_time_s") < cut)
    return ~pl.col("event").is_in(events) | earlier.fill_null(False)


def event_folds(frame: pl.DataFrame, folds: int) -> list[np.ndarray]:
    """Fold number per row, grouping whole events (no event on both sides of a split)."""
    events = sorted(frame["event"].unique().to_list())
    fold_of = {event: i % folds for i, event in enumerate(events)}
    return frame["event"].replace_strict(fold_of).to_numpy()


def blends(params: ModelParams) -> list[list[str]]:
    """Each learner alone, and their mean when there are several."""
    single = [[name] for name in params.learners]
    return single + ([list(params.learners)] if len(params.learners) > 1 else [])


def out_of_fold(
    frame: pl.DataFrame,
    params: ModelParams,
    folds: int,
    progress: Progress | None = None,
    label: str = "",
    model: str = "race",
) -> dict[str, pl.DataFrame]:
    """Uncalibrated predictions for every lap from models that never saw its event, for each
    blend of the learners (the same fold models serve every blend); `model` names which
    (`model.MODELS`): its inputs and the laps it fits."""
    fold = event_folds(frame, folds)
    parts: dict[str, list[pl.DataFrame]] = {"+".join(b): [] for b in blends(params)}
    for k in range(folds):
        if progress:
            progress.advance(f"{label}cross-validation fold {k + 1} of {folds}")
        test = pl.Series(fold == k)
        fitted = new_model(model, params).fit(frame.filter(~test))
        rows = pl.Series("_row", np.flatnonzero(fold == k))
        for blend in blends(params):
            fitted.blend = blend
            parts["+".join(blend)].append(fitted.raw_predict(frame.filter(test)).with_columns(rows))
    return {name: pl.concat(p).sort("_row").drop("_row") for name, p in parts.items()}


def new_model(name: str, params: ModelParams) -> LapTimeModel:
    """An unfitted model of `model.MODELS`' `name`."""
    return LapTimeModel(params, inputs=list(FAMILY_INPUTS[name]), fit_intent=ASSUMED_INTENT if name == "push" else None)


def _scored(name: str, frame: pl.DataFrame) -> pl.Series:
    """The laps `name`'s model answers for among its training laps (`_model_parts`)."""
    if name == "race":
        return pl.Series(np.ones(frame.height, dtype=bool))
    push = (frame["intent"] == ASSUMED_INTENT).fill_null(False)
    return push if name == "push" else ~push


def baselines(train: pl.DataFrame, frame: pl.DataFrame, prediction: pl.Series) -> pl.DataFrame:
    """The three honest baselines for `frame`'s laps; each falls back like the model does (previous
    lap, then the model's own `prediction`, i.e. the circuit's typical pace) so every lap gets one."""
    degradation = dict(
        train.filter(pl.col("degradation_s_per_lap").is_not_null())
        .group_by("compound")
        .agg(pl.col("degradation_s_per_lap").median())
        .iter_rows()
    )
    fuel = pl.col("fuel_kg").fill_null(0.0) * FUEL_SECONDS_PER_KG
    fallback = pl.coalesce(pl.col("prev_lap_time_s"), prediction)
    return frame.select(
        pl.coalesce("prev_clean_lap_time_s", fallback).alias(BASELINES[0]),
        pl.coalesce("rolling_clean_lap_time_s", fallback).alias(BASELINES[1]),
        pl.coalesce(
            pl.col("prev_clean_lap_fc_s")
            + fuel
            + pl.col("compound").replace_strict(degradation, default=0.0, return_dtype=pl.Float64)
            * pl.col("laps_since_clean").fill_null(1.0),
            fallback,
        ).alias(BASELINES[2]),
    )


@dataclass
class TrainingResult:
    model: LapTimeModel
    holdout: pl.DataFrame  # holdout laps with prediction, lower, upper and the baselines
    cross_validated: pl.DataFrame  # training laps with their out-of-fold prediction
    metrics: dict[str, float]
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    blend: str = ""  # the learners whose mean the model predicts, chosen by cross-validation
    train_events: list[str] = field(default_factory=list)
    holdout_events: list[str] = field(default_factory=list)
    holdout_cuts: dict[str, float] = field(default_factory=dict)  # split sessions' cut, session seconds
    seconds: float = 0.0


def _folds(train: pl.DataFrame, folds: int) -> int:
    return min(folds, train["event"].n_unique())


def _fit_steps(train: pl.DataFrame, folds: int) -> int:
    """The progress steps of `_fit_family`: each fold, then the fit on every event."""
    return _folds(train, folds) + 1


def _fit_family(train: pl.DataFrame, params: ModelParams, folds: int, progress: Progress, name: str):
    """Cross-validates each learner blend on `train`, fits the best, calibrates it out of fold."""
    candidates = out_of_fold(train, params, _folds(train, folds), progress, f"{name} laps, ", name)
    scored = _scored(name, train)
    cv_by_blend = {
        blend: metrics.summary(train.with_columns(oof["lap_time"].alias("prediction")).filter(scored))["mae_clean"]
        for blend, oof in candidates.items()
    }
    chosen = min(cv_by_blend, key=cv_by_blend.get)
    progress.advance(f"{name} laps, the model on every training event")
    model = new_model(name, params.model_copy(update={"learners": chosen.split("+")})).fit(train)
    model.calibrate_from(train, candidates[chosen])
    return model, candidates[chosen], cv_by_blend, chosen


def train_and_evaluate(
    frame: pl.DataFrame, params: ModelParams, folds: int = 5, holdout_share: float = 0.2, learn_from: Sequence[str] = ()
) -> TrainingResult:
    """Per session family: cross-validates by event, fits on all training events, calibrates the
    90% interval on out-of-fold predictions. Then evaluates the model and the baselines on the
    time-ordered holdout."""
    started = time.perf_counter()
    train, holdout, cuts = holdout_split(frame, holdout_share, learn_from)
    models, cv_parts, results, blends_chosen = {}, [], {}, []
    # a family seen in one event only cannot be validated; the other serves it
    families = [(name, part) for name, part in _model_parts(train) if part["event"].n_unique() >= 2]
    progress = Progress("training", sum(_fit_steps(part, folds) for _, part in families))
    for name, part in families:
        model, oof, cv_by_blend, chosen = _fit_family(part, params, folds, progress, name)
        models[name] = model
        cv_parts.append(part.with_columns(oof["lap_time"].alias("prediction")).filter(_scored(name, part)))
        results.update({f"cv_mae_clean_{name}_{b.replace('+', '_')}": v for b, v in cv_by_blend.items()})
        blends_chosen.append(f"{name}:{chosen}")
    return _evaluate(SessionFamilyModel(models), train, holdout, results, cv_parts, cuts, blends_chosen, started)


def continue_and_evaluate(
    frame: pl.DataFrame,
    champion: SessionFamilyModel,
    champion_events: list[str],
    trees: int,
    params: ModelParams,
    folds: int = 5,
    holdout_share: float = 0.2,
    learn_from: Sequence[str] = (),
) -> TrainingResult:
    """Incremental retraining: each of the champion's family models continues its boosting with
    `trees` more trees on the training laps as they are now (the new sessions with the old, so
    the added trees correct the champion where it is wrong without forgetting where it was right).
    No cross-validation: the champion's blend and calibrated interval are kept. A family the
    champion has no model of is trained in full. Evaluated on the same holdout as a full retrain."""
    started = time.perf_counter()
    train, holdout, cuts = holdout_split(frame, holdout_share, learn_from)
    models, cv_parts, results, blends_chosen = {}, [], {}, []
    # laps of events the champion's trees learnt from are no holdout for a model that keeps them
    # (a session it was trained on the first part of, say); the gate leaves them out too
    holdout = holdout.filter(~pl.col("event").is_in(champion_events))
    if holdout.height == 0:
        raise ValueError(
            "every holdout event is one the champion was trained on: an incremental "
            "retraining would have nothing to be judged on; run a full retraining"
        )
    # per family: continued (the champion has a model of it, and there are laps), fitted from
    # scratch (seen in two events at least), or left as it was
    plan = []
    for name, part in _model_parts(train):
        continued = name in champion.models and part.height > 0
        if continued or part["event"].n_unique() >= 2:
            plan.append((name, part, continued))
    progress = Progress("training", sum(1 if continued else _fit_steps(part, folds) for _, part, continued in plan))
    for name, part, continued in plan:
        if continued:
            progress.advance(f"{name} laps, {trees} more trees on the champion's")
            models[name] = champion.models[name].continued(part, trees)
            blends_chosen.append(f"{name}:{'+'.join(models[name].blend)} (continued)")
        else:
            models[name], oof, _, chosen = _fit_family(part, params, folds, progress, name)
            cv_parts.append(part.with_columns(oof["lap_time"].alias("prediction")).filter(_scored(name, part)))
            blends_chosen.append(f"{name}:{chosen}")
    for name in champion.models.keys() - models.keys():
        models[name] = champion.models[name]  # no training laps of this family now: kept as it was
    result = _evaluate(SessionFamilyModel(models), train, holdout, results, cv_parts, cuts, blends_chosen, started)
    # its trees have seen the champion's training events as well as today's
    result.train_events = sorted(set(result.train_events) | set(champion_events))
    return result


def _model_parts(train: pl.DataFrame):
    """Each model's training laps (`model.MODELS`): the push laps' model learns from the one-lap
    sessions' push laps and is cross-validated on all their laps, as it answers laps asked for
    without an intent."""
    for name, part in _families(train):
        yield name, part
        if name == "one_lap" and (part["intent"] == ASSUMED_INTENT).any():
            yield "push", part


def _families(train: pl.DataFrame):
    kinds = train.select(family(pl.col("session_type"))).to_series()
    for name in FAMILIES:
        yield name, train.filter(kinds == name)


def _evaluate(
    model: SessionFamilyModel,
    train: pl.DataFrame,
    holdout: pl.DataFrame,
    results: dict[str, float],
    cv_parts: list[pl.DataFrame],
    cuts: dict[str, float],
    blends: list[str],
    started: float,
) -> TrainingResult:
    """The model and the baselines scored on the holdout, overall and per family and group."""
    predicted = model.predict(holdout).rename({"lap_time": "prediction"})
    scored = pl.concat([holdout, predicted, baselines(train, holdout, predicted["prediction"])], how="horizontal")
    results.update({f"holdout_{k}": v for k, v in metrics.summary(scored).items()})
    # per family too: live monitoring compares a session's error with its own family's
    for name, part in _families(scored):
        if "mae_clean" in (summary := metrics.summary(part)):
            results[f"holdout_mae_clean_{name}"] = summary["mae_clean"]
    cross_validated = (
        pl.concat(cv_parts) if cv_parts else train.clear().with_columns(pl.lit(None, pl.Float64).alias("prediction"))
    )
    if cv_parts:
        results.update({f"cv_{k}": v for k, v in metrics.summary(cross_validated).items() if k.startswith("mae")})
    for name in BASELINES:
        results.update(
            {f"holdout_{name}_{k}": v for k, v in metrics.summary(scored, name).items() if k.startswith("mae")}
        )
    tables = {group: metrics.by_group(scored, group) for group in ("circuit_ref", "compound", "session_type")}
    return TrainingResult(
        model=model,
        holdout=scored,
        cross_validated=cross_validated,
        metrics=results,
        tables=tables,
        train_events=sorted(train["event"].unique().to_list()),
        holdout_events=sorted(holdout["event"].unique().to_list()),
        holdout_cuts=cuts,
        blend=", ".join(blends),
        seconds=time.perf_counter() - started,
    )
