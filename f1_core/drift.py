"""Drift of a session against the champion's training reference, and what kind of drift it is.

Evidently computes every number (PSI and Jensen-Shannon distance on every numeric model input as
the trees see it, pace as a difference from the reference pace; the Kolmogorov-Smirnov p-value
on those pace differences, the continuous inputs that move the prediction most) and renders the
report; this module picks the inputs, reads the numbers back and classifies:

- data drift: the share of inputs whose PSI crosses `psi` reaches `share_drifted`;
- concept drift: the champion's clean-lap error on the session is `error_ratio` times its
  holdout error or more while the inputs did not drift;
- both, or none.

Defaults, and why:
- `psi = 0.2`: the usual reading of PSI is below 0.1 stable, 0.1-0.25 a moderate shift, above
  0.25 a major one; 0.2 flags shifts well into "moderate", where a model's inputs start leaving
  the ranges it learnt.
- `share_drifted = 0.6`: one session is one circuit in one weather, so many inputs differ from a
  reference pooled over many: measured on `make run`'s 38 sessions against the champion trained
  on them, sessions the model was trained on had 20-60% of their inputs past PSI 0.2 (the
  weather changes since the start and the field's evolution move in every session). Above 60%,
  the session is unlike any the model learnt from (a wet practice had 77%).
- `error_ratio = 1.5`: the champion's holdout error is itself an average over events whose
  errors vary; half as much again on one session is beyond what normally separates events.
- `min_laps = 30`: fewer clean laps say little about a distribution or an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl
from pydantic import BaseModel

from f1_core.features import CATEGORICAL_FEATURES, FEATURES
from f1_core.model import PACE_FEATURES

REFERENCE_ROWS = 5000


class DriftThresholds(BaseModel):
    psi: float = 0.2
    share_drifted: float = 0.6
    error_ratio: float = 1.5
    min_laps: int = 30


def reference_sample(train: pl.DataFrame, seed: int = 7) -> pl.DataFrame:
    """What drift is measured against: the laps the model was fitted on (a fixed-size sample, so
    reports cost the same whatever the training set)."""
    columns = ["session_key", *FEATURES, "lap_time_s", "clean"]
    sample = train.select(columns)
    return sample.sample(REFERENCE_ROWS, seed=seed) if sample.height > REFERENCE_ROWS else sample


def drift_inputs(model_inputs: list[str]) -> list[str]:
    return [name for name in model_inputs if name not in CATEGORICAL_FEATURES]


@dataclass
class DriftResult:
    features: pl.DataFrame  # feature, psi, js_distance, ks_p_value, drifted
    share_drifted: float
    laps: int
    live_mae_clean: float | None
    train_mae_clean: float | None
    classification: str
    html: str

    @property
    def drifted_features(self) -> list[str]:
        """The drifted inputs, largest PSI first."""
        return self.features.filter(pl.col("drifted")).sort("psi", descending=True)["feature"].to_list()

    @property
    def error_ratio(self) -> float | None:
        if self.live_mae_clean is None or not self.train_mae_clean:
            return None
        return self.live_mae_clean / self.train_mae_clean


def compare(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    inputs: list[str],
    thresholds: DriftThresholds,
    live_mae_clean: float | None,
    train_mae_clean: float | None,
) -> DriftResult:
    """Drift of `current` (a session's lap features) against `reference`, on `inputs`."""
    from evidently import Report
    from evidently.metrics import ValueDrift

    # Inputs empty on either side (a session without weather) cannot be compared: left out.
    usable = [
        name for name in inputs if current[name].drop_nulls().len() >= 2 and reference[name].drop_nulls().len() >= 2
    ]
    continuous = [name for name in usable if name in PACE_FEATURES]
    metrics = [
        ValueDrift(column=name, method=method, threshold=thresholds.psi if method == "psi" else None)
        for name in usable
        for method in ("psi", "jensenshannon")
    ]
    metrics += [ValueDrift(column=name, method="ks") for name in continuous]
    snapshot = Report(metrics).run(
        current_data=current.select(usable).to_pandas(), reference_data=reference.select(usable).to_pandas()
    )
    values: dict[tuple[str, str], float] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        values[(config["column"], config["method"])] = float(metric["value"])
    features = pl.DataFrame(
        {
            "feature": usable,
            "psi": [values[(name, "psi")] for name in usable],
            "js_distance": [values[(name, "jensenshannon")] for name in usable],
            "ks_p_value": [values.get((name, "ks")) for name in usable],
        },
        schema={"feature": pl.String, "psi": pl.Float64, "js_distance": pl.Float64, "ks_p_value": pl.Float64},
    ).with_columns((pl.col("psi") >= thresholds.psi).alias("drifted"))
    share = features["drifted"].mean() if features.height else 0.0
    laps = int(current["clean"].sum())
    result = DriftResult(
        features, float(share), laps, live_mae_clean, train_mae_clean, "none", snapshot.get_html_str(as_iframe=False)
    )
    result.classification = classify(result, thresholds)
    return result


def classify(result: DriftResult, thresholds: DriftThresholds) -> str:
    if result.laps < thresholds.min_laps:
        return "none"
    data = result.share_drifted >= thresholds.share_drifted
    ratio = result.error_ratio
    error = ratio is not None and math.isfinite(ratio) and ratio >= thresholds.error_ratio
    return {(False, False): "none", (True, False): "data", (False, True): "concept", (True, True): "both"}[
        (data, error)
    ]


def describe(session_key: str, result: DriftResult) -> str:
    """One line saying what moved and by how much: the alert's text."""
    parts = [f"{session_key}: {result.classification} drift"]
    if result.drifted_features:
        top = result.features.filter(pl.col("drifted")).sort("psi", descending=True).head(5)
        moved = ", ".join(f"{r['feature']} (PSI {r['psi']:.2f})" for r in top.iter_rows(named=True))
        parts.append(
            f"{len(result.drifted_features)}/{result.features.height} inputs drifted "
            f"({result.share_drifted:.0%}): {moved}"
        )
    if result.error_ratio is not None:
        parts.append(
            f"clean-lap MAE {result.live_mae_clean:.3f} s vs {result.train_mae_clean:.3f} s "
            f"in training ({result.error_ratio:.2f}x)"
        )
    return "; ".join(parts)
