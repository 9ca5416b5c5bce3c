"""The lap-time model: gradient-boosted trees on the difference from a reference pace, with 90%
intervals by conformalized quantile regression. Plain Python: training, the MLflow pyfunc and the
service all use this one class.

Why a difference: circuits differ by a minute of lap time, and validation holds whole events out,
so a model of absolute times would have to extrapolate to circuits it never saw. The reference
(the driver's, else the field's, recent fuel-corrected pace; `features.reference_fc_s`) carries the
circuit; the trees learn what tyres, fuel, traffic and track do to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from weakref import WeakSet

import numpy as np
import polars as pl
from pydantic import BaseModel

from f1_core.features import CATEGORICAL_FEATURES, FEATURES, FUEL_SECONDS_PER_KG, ONE_LAP_FEATURES, WEATHER_CHANGES
from f1_core.intent import ASSUMED_INTENT, ONE_LAP_SESSIONS, predicted_intent
from f1_core.trees import flat_trees


class ModelParams(BaseModel):
    """Hyperparameters (the Dagster training Config extends this class, so they show in the UI)."""

    learning_rate: float = 0.05
    n_estimators: int = 400
    num_leaves: int = 31
    min_child_samples: int = 40
    feature_fraction: float = 0.8
    xgb_max_depth: int = 6
    coverage: float = 0.9
    seed: int = 7
    # which point models to train; with both, the prediction is their mean
    learners: list[str] = ["lightgbm", "xgboost"]
    # point models per learner, each with its own seed (seed, seed + 1, ...), the prediction their
    # mean: the MAE of a mean of predictions is at most the mean of their MAEs (the absolute error
    # is convex), so averaging removes what one seed's draw adds to the error
    seeds: int = 2


# What the models predict from: a polars frame of `features.OUTPUT` columns (training,
# monitoring), or the feature rows `features.feature_rows` returns (a served batch, a few laps,
# for which building a frame would cost more than the boosters' predictions).
Features = pl.DataFrame | list[dict]


def _numbers(features: Features, name: str) -> np.ndarray:
    """A numeric column as floats, null as NaN."""
    if isinstance(features, pl.DataFrame):
        return features[name].to_numpy().astype(float, copy=False)
    return np.array([row[name] for row in features], dtype=float)


def _labels(features: Features, name: str) -> list:
    return features[name].to_list() if isinstance(features, pl.DataFrame) else [row[name] for row in features]


def _take(features: Features, rows: np.ndarray) -> Features:
    return features[rows] if isinstance(features, pl.DataFrame) else [features[i] for i in rows]


def _fuel_effect(features: Features) -> np.ndarray:
    # unknown fuel (null, NaN in numpy) is none
    return np.nan_to_num(_numbers(features, "fuel_kg"), nan=0.0) * FUEL_SECONDS_PER_KG


# Lap-time levels identify the circuit more than they describe the lap: the trees see them as
# differences from the reference pace, so what they learn carries over to circuits they never saw.
PACE_FEATURES = (
    "prev_lap_time_s",
    "prev_clean_lap_fc_s",
    "rolling_clean_mean_s",
    "stint_best_fc_s",
    "session_best_fc_s",
    "field_recent_fc_s",
    "prev_push_lap_fc_s",
)
# Levels that mostly name the circuit (sector times, the reference, the local climate, how long
# the field has completed) and the circuit itself: with a few dozen events to learn
# from, trees memorise circuits through them instead of learning what moves a lap time.
LEVEL_FEATURES = (
    "prev_sector1_s",
    "prev_sector2_s",
    "prev_sector3_s",
    "reference_fc_s",
    "air_temp_c",
    "track_temp_c",
    "humidity_pct",
    "pressure_hpa",
    "wind_speed_ms",
    "wind_direction_deg",
    "field_laps_completed",
    "circuit_ref",
)
# Read by the interval, not by the trees: its conformal margins scale with the session's volatility.
INTERVAL_FEATURES = ("field_volatility_s",)
# How the weather moved since the session began: with a few dozen events the trees read effects
# into them that do not carry to the next weekend (a model of a few races took whole seconds off
# a new circuit's laps for its track temperature's change); CV is no worse without them.
LEFT_OUT_FEATURES = tuple(WEATHER_CHANGES.values())
MODEL_FEATURES = [
    name for name in FEATURES if name not in LEVEL_FEATURES + INTERVAL_FEATURES + LEFT_OUT_FEATURES + ONE_LAP_FEATURES
]
# the one-lap sessions' model also reads the driver's last push lap and the lap's `intent`
ONE_LAP_MODEL_FEATURES = [*MODEL_FEATURES, *ONE_LAP_FEATURES]
# The push laps' model reads the session type alone: how much a push lap gains on the driver's
# last one in practice, qualifying or sprint qualifying. Event-grouped cross-validation preferred it
# to adding tyre life and freshness, laps since the last push lap, or fifteen inputs: a few
# sessions of push laps do not teach trees more.
PUSH_MODEL_FEATURES = ["session_type"]


def assume_intent(features: Features) -> tuple[Features, np.ndarray]:
    """`features` with `ASSUMED_INTENT` where a lap of a one-lap session has no `intent`, and
    which rows those are."""
    kinds, intents = _labels(features, "session_type"), _labels(features, "intent")
    missing = np.array([predicted_intent(k, i)[1] for k, i in zip(kinds, intents, strict=True)], dtype=bool)
    if not missing.any():
        return features, missing
    if isinstance(features, pl.DataFrame):
        return features.with_columns(
            pl.when(pl.Series(missing)).then(pl.lit(ASSUMED_INTENT)).otherwise(pl.col("intent")).alias("intent")
        ), missing
    return [
        {**row, "intent": ASSUMED_INTENT} if unknown else row for row, unknown in zip(features, missing, strict=True)
    ], missing


def _relative(name: str) -> pl.Expr:
    return (pl.col(name) - pl.col("reference_fc_s")).alias(name)


def relative_pace(frame: pl.DataFrame) -> pl.DataFrame:
    """The features as the trees see them: pace levels as differences from the reference pace."""
    return frame.with_columns(_relative(name) for name in PACE_FEATURES)


def _matrix(frame: pl.DataFrame, categories: dict[str, list[str]], inputs: list[str]):
    """The model's inputs as pandas (both libraries read its categorical columns natively), with
    the categories fixed at training so an unseen circuit is a missing value, not a new code."""
    import pandas as pd

    data = relative_pace(frame).select(inputs).to_pandas()
    for name in categories:
        data[name] = pd.Categorical(data[name], categories=categories[name])
    return data


def _array(features: Features, categories: dict[str, list[str]], inputs: list[str]) -> np.ndarray:
    """The same inputs as `_matrix`, as a float matrix with each category as its code in the
    training categories (unseen: NaN), which is what both libraries make of the pandas form.
    Predicting from it skips the pandas conversions, and building it in numpy skips a polars
    expression per column: a served lap is predicted in a tenth of the time, with identical
    results (tests/test_training.py checks)."""
    codes = {name: _codes(tuple(categories[name])) for name in inputs if name in categories}
    if isinstance(features, pl.DataFrame):  # column by column: many rows
        x = np.column_stack(
            [
                np.array([codes[name].get(value, np.nan) for value in features[name].to_list()], dtype=float)
                if name in codes
                else _numbers(features, name)
                for name in inputs
            ]
        )
    else:  # row by row: a served batch's few rows, in one call into numpy
        x = np.array(
            [
                [codes[name].get(row[name], np.nan) if name in codes else row[name] for name in inputs]
                for row in features
            ],
            dtype=float,
        )
    pace = [index for index, name in enumerate(inputs) if name in PACE_FEATURES]
    x[:, pace] -= _numbers(features, "reference_fc_s")[:, None]
    return x


@lru_cache(maxsize=16)
def _codes(categories: tuple[str, ...]) -> dict[str, float]:
    return {category: float(code) for code, category in enumerate(categories)}


# Below this many rows, the boosters are walked by `f1_core.trees` (a call into either library
# costs more than a few rows' trees); from it on, by the libraries themselves on every core.
SINGLE_THREAD_ROWS = 256


def _booster_predict(model, x: np.ndarray) -> np.ndarray:
    if len(x) < SINGLE_THREAD_ROWS:
        return flat_trees(model).predict(x)
    if hasattr(model, "booster_"):  # LightGBM
        return model.booster_.predict(x, num_threads=0)
    booster = model.get_booster()
    if booster not in _xgboost_all_cores:  # setting it makes the next call reconfigure the booster
        booster.set_param({"nthread": 0})
        _xgboost_all_cores.add(booster)
    # x holds exactly the inputs the booster was fitted on (_array): checking costs a C call
    return booster.inplace_predict(x, validate_features=False)


_xgboost_all_cores: WeakSet = WeakSet()


@dataclass
class LapTimeModel:
    params: ModelParams = field(default_factory=ModelParams)
    categories: dict[str, list[str]] = field(default_factory=dict)
    # the inputs the trees were fitted on, in order: a model keeps predicting from what it learnt
    # even after the feature list of the code that loads it changes
    inputs: list[str] = field(default_factory=lambda: list(MODEL_FEATURES))
    point_models: dict = field(default_factory=dict)
    # the point models whose mean is the prediction (training picks the best by cross-validation)
    blend: list[str] = field(default_factory=list)
    quantile_models: dict = field(default_factory=dict)
    # conformal margins per session type (Mondrian): a qualifying lap is far less predictable
    # than a race lap, and one margin for both would be too wide for one and too narrow for the
    # other. Each is (below, above): how far the band's lower end moves down and its upper end
    # up, calibrated apart because the errors are not symmetric (a mistake only makes a lap slower)
    conformal_margin: dict[str, tuple[float, float]] = field(default_factory=dict)
    # for laps with no reference pace at all (a race's first lap): the circuit's typical
    # fuel-corrected lap and how far such laps stray from it
    circuit_pace: dict[str, float] = field(default_factory=dict)
    fallback_margin: dict[str, tuple[float, float]] = field(default_factory=dict)
    # the calibration laps' median `field_volatility_s`: a lap's conformal margins scale with its
    # session's volatility against it (normalized conformal scores), None: unscaled
    typical_volatility: float | None = None
    global_pace: float = 90.0
    # models reading `intent`: the conformal margins of laps asked for without one, calibrated on
    # every racing lap predicted as a push lap, so the band keeps its coverage whatever the lap was
    assumed_margin: dict[str, tuple[float, float]] = field(default_factory=dict)
    # a model of one intent's laps (push laps): its boosters fit only laps labelled so
    fit_intent: str | None = None

    def __setstate__(self, state: dict) -> None:
        # a model pickled before `blend` existed averaged all its point models
        state.setdefault("blend", list(state.get("point_models", {})))
        state.setdefault("inputs", list(MODEL_FEATURES))
        state.setdefault("typical_volatility", None)
        state.setdefault("assumed_margin", {})
        state.setdefault("fit_intent", None)
        for name in ("conformal_margin", "fallback_margin"):  # one symmetric margin before
            state[name] = {kind: m if isinstance(m, tuple) else (m, m) for kind, m in state.get(name, {}).items()}
        self.__dict__.update(state)

    def fit(self, train: pl.DataFrame, interval: bool = True) -> LapTimeModel:
        """Fits on `train` (features, `lap_time_s`, `fuel_kg`, `clean`). The interval is not
        calibrated yet: call `calibrate_from` with predictions for laps it has not seen (out of
        fold). Without `interval`, the point models only (it predicts with `interval=False`)."""
        timed = train.filter(pl.col("lap_time_s").is_not_null())
        self.categories = {
            name: sorted(timed[name].drop_nulls().unique().to_list())
            for name in CATEGORICAL_FEATURES
            if name in self.inputs
        }
        self._fit_pace(timed)
        self.point_models, self.quantile_models = self._boost(timed, self.params.n_estimators, interval=interval)
        self.conformal_margin, self.fallback_margin = {}, {}
        self.blend = list(dict.fromkeys(learner(key) for key in self.point_models))
        return self

    def _blended(self) -> list[str]:
        """The point models whose mean is the prediction: every seed's of each blended learner."""
        return [key for key in self.point_models if learner(key) in self.blend]

    def continued(self, train: pl.DataFrame, trees: int) -> LapTimeModel:
        """A new model whose point boosters continue this one's with `trees` more trees each,
        fitted to what this one still gets wrong on `train`. It keeps this model's categories,
        inputs and blend, and its interval: the quantile models with the conformal margins
        calibrated for them out of fold. Continued quantile models would need new margins, and
        margins fitted on laps the new trees learnt from would make the band too narrow (the
        promotion gate checks its coverage on laps neither saw); a full retrain recalibrates."""
        timed = train.filter(pl.col("lap_time_s").is_not_null())
        new = LapTimeModel(
            params=self.params.model_copy(update={"n_estimators": self.params.n_estimators + trees}),
            categories=self.categories,
            inputs=self.inputs,
            fit_intent=self.fit_intent,
            blend=list(self.blend),
            conformal_margin=dict(self.conformal_margin),
            fallback_margin=dict(self.fallback_margin),
            assumed_margin=dict(self.assumed_margin),
        )
        new._fit_pace(timed)
        new.circuit_pace = self.circuit_pace | new.circuit_pace  # circuits not in `train` stay known
        new.point_models, _ = new._boost(timed, trees, start=self)
        new.quantile_models = self.quantile_models
        return new

    def _fit_pace(self, timed: pl.DataFrame) -> None:
        """The fallback for laps with no reference pace: each circuit's median fuel-corrected lap."""
        fc = timed["lap_time_s"].to_numpy() - _fuel_effect(timed)
        self.global_pace = float(np.median(fc))
        self.circuit_pace = {
            row[0]: row[1]
            for row in timed.with_columns(pl.Series("_fc", fc))
            .filter(pl.col("clean"))
            .group_by("circuit_ref")
            .agg(pl.col("_fc").median())
            .iter_rows()
        }

    def _boost(self, timed: pl.DataFrame, trees: int, start: LapTimeModel | None = None, interval: bool = True):
        """Point and quantile boosters of `trees` trees on the difference from the reference pace;
        with `start`, only the point boosters, each continuing `start`'s of the same learner."""
        import lightgbm as lgb
        import xgboost as xgb

        p = self.params
        # The model predicts a lap run at racing pace (green, no pit stop): what an engineer plans
        # against. Laps under yellow or safety car follow the flags, not the car, and would
        # drag every prediction toward them.
        with_ref = timed.filter(pl.col("reference_fc_s").is_not_null() & pl.col("representative"))
        if self.fit_intent is not None:
            with_ref = with_ref.filter(pl.col("intent") == self.fit_intent)
        x = _matrix(with_ref, self.categories, self.inputs)
        delta = with_ref["lap_time_s"].to_numpy() - _fuel_effect(with_ref) - with_ref["reference_fc_s"].to_numpy()
        common = dict(learning_rate=p.learning_rate, n_estimators=trees, random_state=p.seed, n_jobs=2)
        lgb_common = dict(
            common,
            num_leaves=p.num_leaves,
            min_child_samples=p.min_child_samples,
            colsample_bytree=p.feature_fraction,
            verbose=-1,
        )

        points = {}
        keys = start._blended() if start else [seeded(name, i) for name in p.learners for i in range(p.seeds)]
        for key in keys:
            seed = dict(random_state=p.seed + _seed_index(key))
            if learner(key) == "lightgbm":
                init = start.point_models[key].booster_ if start else None
                points[key] = lgb.LGBMRegressor(objective="l1", **lgb_common | seed).fit(x, delta, init_model=init)
            elif learner(key) == "xgboost":
                init = start.point_models[key].get_booster() if start else None
                points[key] = xgb.XGBRegressor(
                    objective="reg:absoluteerror",
                    max_depth=p.xgb_max_depth,
                    tree_method="hist",
                    enable_categorical=True,
                    colsample_bytree=p.feature_fraction,
                    **common | seed,
                ).fit(x, delta, xgb_model=init)
        if start or not interval:
            return points, {}
        tail = (1 - p.coverage) / 2
        quantiles = {
            q: lgb.LGBMRegressor(objective="quantile", alpha=q, **lgb_common).fit(x, delta) for q in (tail, 1 - tail)
        }
        return points, quantiles

    @property
    def reads_intent(self) -> bool:
        return "intent" in self.inputs or self.fit_intent is not None

    def raw_predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Predictions with the uncalibrated band, as calibration needs them."""
        margins = self.conformal_margin, self.fallback_margin, self.assumed_margin
        self.conformal_margin, self.fallback_margin, self.assumed_margin = {}, {}, {}
        try:
            return self.predict(frame)
        finally:
            self.conformal_margin, self.fallback_margin, self.assumed_margin = margins

    def calibrate_from(self, frame: pl.DataFrame, raw: pl.DataFrame) -> None:
        """Conformalized quantile regression, each end apart (Romano, Patterson and Candès 2019,
        the asymmetric form): the lower end moves by the (1 - (1 - coverage) / 2)-quantile of how
        far laps the model did not train on fall below it, the upper end likewise above, so each
        tail misses at most half of what the band may. `raw` holds uncalibrated predictions for
        `frame`'s rows (e.g. out of fold)."""
        keep = frame["lap_time_s"].is_not_null().to_numpy()
        frame, raw = frame.filter(pl.Series(keep)), raw.filter(pl.Series(keep))
        # the band is for laps at racing pace, the population the model predicts
        racing = frame["representative"].fill_null(False).to_numpy()
        own = racing
        if self.fit_intent is not None:
            own = racing & (frame["intent"] == self.fit_intent).fill_null(False).to_numpy()
        # one typical volatility for every margin: prediction scales each by it
        volatility = _numbers(frame, "field_volatility_s")[frame["reference_fc_s"].is_not_null().to_numpy() & own]
        self.typical_volatility = float(np.nanmedian(volatility)) if np.isfinite(volatility).any() else None
        self.assumed_margin = {}
        if self.fit_intent is not None:
            # a lap asked for without an intent is predicted as one of this intent: its band is
            # calibrated on every lap, whatever the lap turned out to be (the trees do not read
            # the intent, so `raw` is that prediction for every lap)
            self._calibrate(frame, raw, racing, self.assumed_margin, {})
        self._calibrate(frame, raw, own, self.conformal_margin, self.fallback_margin)

    def _calibrate(
        self, frame: pl.DataFrame, raw: pl.DataFrame, racing: np.ndarray, conformal: dict, fallback: dict
    ) -> None:
        """The margins of the laps with a reference among `racing` (`conformal`) and of the laps
        without one (`fallback`), per session type."""
        raw = {name: raw[name].to_numpy() for name in raw.columns}
        y = frame["lap_time_s"].to_numpy()
        has_ref = frame["reference_fc_s"].is_not_null().to_numpy()
        kinds = np.array(frame["session_type"].fill_null("").to_list())
        level = 1 - (1 - self.params.coverage) / 2
        # without a reference the raw band is the fallback point itself
        below, above = raw["lower"] - y, y - raw["upper"]
        scale = np.where(has_ref, self._volatility_scale(frame), 1.0)  # the fallback's margins are unscaled
        below, above = below / scale, above / scale
        for margins, rows in ((conformal, has_ref & racing), (fallback, ~has_ref)):
            groups = [("", rows)] + [(str(kind), rows & (kinds == kind)) for kind in np.unique(kinds[rows])]
            for kind, group in groups:
                # fewer laps cannot pin a 95% quantile down (the pooled one is kept whatever its size)
                if group.sum() >= 30 or (kind == "" and group.any()):
                    margins[kind] = (_conformal_quantile(below[group], level), _conformal_quantile(above[group], level))

    def _volatility_scale(self, features: Features) -> np.ndarray:
        """Per lap, its session's volatility against the typical one (0.5-3), 1 when unknown."""
        volatility = _numbers(features, "field_volatility_s")
        if not self.typical_volatility:  # a model calibrated before the scale existed
            return np.ones(len(volatility))
        return np.nan_to_num(np.clip(volatility / self.typical_volatility, 0.5, 3.0), nan=1.0)

    def _predict(self, features: Features, interval: bool = True) -> dict[str, np.ndarray]:
        assumed = np.zeros(len(features), dtype=bool)
        if self.reads_intent:
            features, assumed = assume_intent(features)
        fuel = _fuel_effect(features)
        reference = _numbers(features, "reference_fc_s")
        has_ref = ~np.isnan(reference)
        circuit = _labels(features, "circuit_ref")
        fallback = np.array([self.circuit_pace.get(c, self.global_pace) for c in circuit]) + fuel
        kinds = [kind or "" for kind in _labels(features, "session_type")]
        margin = np.array(
            [
                _margin(self.assumed_margin if unknown and self.assumed_margin else self.conformal_margin, k)
                for k, unknown in zip(kinds, assumed, strict=True)
            ],
            dtype=float,
        ).reshape(-1, 2)
        fallback_margin = np.array([_margin(self.fallback_margin, k) for k in kinds], dtype=float).reshape(-1, 2)
        point = fallback.copy()
        lower = fallback - fallback_margin[:, 0]
        upper = fallback + fallback_margin[:, 1]
        if has_ref.any():
            x = _array(
                features if has_ref.all() else _take(features, np.flatnonzero(has_ref)), self.categories, self.inputs
            )
            base = reference[has_ref] + fuel[has_ref]
            delta = np.mean([_booster_predict(self.point_models[key], x) for key in self._blended()], axis=0)
            point[has_ref] = base + delta
            if not interval:
                return {"lap_time": point}
            lo_q, hi_q = sorted(self.quantile_models)
            lo = _booster_predict(self.quantile_models[lo_q], x)
            hi = _booster_predict(self.quantile_models[hi_q], x)
            # the band always contains the point prediction, whatever the quantile models say
            scale = self._volatility_scale(features)[has_ref]
            lower[has_ref] = base + np.minimum(lo, delta) - margin[has_ref, 0] * scale
            upper[has_ref] = base + np.maximum(hi, delta) + margin[has_ref, 1] * scale
        return {"lap_time": point, "lower": lower, "upper": upper} if interval else {"lap_time": point}

    def predict(self, features: Features, interval: bool = True) -> pl.DataFrame:
        """`lap_time`, `lower`, `upper` (only `lap_time` without `interval`) in seconds, one row
        per row of `features`."""
        return pl.DataFrame(self._predict(features, interval))

    def feature_importance(self) -> pl.DataFrame:
        """Total gain per model input, averaged over the blended models (each normalised to 1)."""
        gains = []
        for key in self._blended():
            model = self.point_models[key]
            if learner(key) == "lightgbm":
                gain = model.booster_.feature_importance(importance_type="gain").astype(float)
            else:
                score = model.get_booster().get_score(importance_type="total_gain")
                gain = np.array([score.get(f, 0.0) for f in self.inputs])
            gains.append(gain / max(gain.sum(), 1e-12))
        return pl.DataFrame({"feature": self.inputs, "gain": np.mean(gains, axis=0)}).sort("gain", descending=True)

    def contributions(self, frame: pl.DataFrame) -> pl.DataFrame:
        """SHAP values (TreeSHAP, computed natively by LightGBM and XGBoost) of each model input
        for each lap with a reference pace, in seconds, averaged over the blend; `bias` is the rest."""
        import xgboost as xgb

        x = _matrix(frame, self.categories, self.inputs)
        parts = []
        for key in self._blended():
            model = self.point_models[key]
            if learner(key) == "lightgbm":
                parts.append(model.predict(x, pred_contrib=True))
            else:
                matrix = xgb.DMatrix(x, enable_categorical=True)
                parts.append(model.get_booster().predict(matrix, pred_contribs=True))
        values = np.mean(parts, axis=0)
        return pl.DataFrame(values, schema=[*self.inputs, "bias"], orient="row")


def seeded(name: str, index: int) -> str:
    """The key of a learner's `index`-th point model: its name, then name@2, name@3, ..."""
    return name if index == 0 else f"{name}@{index + 1}"


def learner(key: str) -> str:
    """The learner of a point model's key (`seeded`)."""
    return key.split("@")[0]


def _seed_index(key: str) -> int:
    return int(key.split("@")[1]) - 1 if "@" in key else 0


def _margin(margins: dict[str, tuple[float, float]], kind: str) -> tuple[float, float]:
    """The session type's margins, else the pooled ones, else none."""
    return margins.get(kind, margins.get("", (0.0, 0.0)))


def _conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The ceil((n+1)·level)-th smallest score: the split-conformal quantile that guarantees
    `level` coverage for an exchangeable new lap."""
    n = len(scores)
    k = int(np.ceil((n + 1) * level))
    return float(np.sort(scores)[min(k, n) - 1])


# Races and sprints are runs of consecutive racing laps; practice and qualifying alternate push
# laps with out- and cool-down laps. What predicts one says little about the other: each family
# has its own model.
FAMILIES = {"race": ("race", "sprint"), "one_lap": ONE_LAP_SESSIONS}
# what each family's trees read
FAMILY_INPUTS = {"race": MODEL_FEATURES, "one_lap": ONE_LAP_MODEL_FEATURES, "push": PUSH_MODEL_FEATURES}


# The models a family model holds: a model per family, and in practice and qualifying one of push
# laps (and of laps asked for without an intent, which are predicted as push laps): with a few
# sessions to learn from, one model of push and cool-down laps alike predicts push laps far worse
# than the driver's previous push lap.
MODELS = ("race", "one_lap", "push")


def model_of(session_type: str | None, intent: str | None) -> str:
    """Which model predicts a lap."""
    if session_type not in FAMILIES["one_lap"]:
        return "race"
    return "push" if intent in (None, ASSUMED_INTENT) else "one_lap"


def family(session_type: pl.Expr) -> pl.Expr:
    return pl.when(session_type.is_in(list(FAMILIES["one_lap"]))).then(pl.lit("one_lap")).otherwise(pl.lit("race"))


@dataclass
class SessionFamilyModel:
    """One LapTimeModel per session family, each lap routed to its family's model (or, when that
    family had no model, to the other)."""

    models: dict[str, LapTimeModel]

    def _route(self, features: Features) -> list[tuple[str, np.ndarray]]:
        if not self.models:
            raise ValueError("the model has no session family model: nothing was trained")
        # in Python, not polars: a polars select would cost a served batch more than the rest
        kinds = _labels(features, "session_type")
        has_intent = "intent" in (
            features.columns if isinstance(features, pl.DataFrame) else features[0] if features else {}
        )
        intents = _labels(features, "intent") if has_intent else [None] * len(kinds)
        names = np.array([model_of(kind, intent) for kind, intent in zip(kinds, intents, strict=True)])
        routes = []
        for name in MODELS:
            rows = np.flatnonzero(names == name)
            if len(rows):
                routes.append((self._trained(name), rows))
        return routes

    def _trained(self, name: str) -> str:
        """`name`, else the model standing in for it: push laps fall back on the one-lap model."""
        for candidate in (name, "one_lap" if name == "push" else name):
            if candidate in self.models:
                return candidate
        return next(iter(self.models))

    def _apply(self, features: Features, method: str, **kwargs) -> pl.DataFrame:
        routes = self._route(features)
        if len(routes) == 1:  # every lap to one model: nothing to put back in order
            return getattr(self.models[routes[0][0]], method)(features, **kwargs)
        parts = [
            getattr(self.models[name], method)(_take(features, rows), **kwargs).with_columns(pl.Series("_row", rows))
            for name, rows in routes
        ]
        # the models read different inputs: a contribution a model has no input for is null
        return pl.concat(parts, how="diagonal").sort("_row").drop("_row")

    def predict(self, features: Features, interval: bool = True) -> pl.DataFrame:
        """`lap_time`, `lower`, `upper` (only `lap_time` without `interval`) in seconds, one row
        per row of `features`."""
        return self._apply(features, "predict", interval=interval)

    def contributions(self, frame: pl.DataFrame) -> pl.DataFrame:
        return self._apply(frame, "contributions")

    def feature_importance(self) -> pl.DataFrame:
        """Of the race model: the laps that matter most in a race weekend."""
        return self.models.get("race", next(iter(self.models.values()))).feature_importance()
