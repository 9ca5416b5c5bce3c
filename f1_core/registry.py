"""The model registry: MLflow logging of a training run, the `f1-laptime` registered model, and
the champion/challenger aliases with their promotion gate and rollback. mlflow is imported inside
the functions: it takes seconds."""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from f1_core import metrics, settings
from f1_core.model import SessionFamilyModel

MODEL_NAME = "f1-laptime"
EXPERIMENT = "f1-laptime"
CHAMPION, CHALLENGER = "champion", "challenger"
# registered-model tag holding the versions that have been champion, oldest first (for rollback)
HISTORY_TAG = "champion_history"
REFERENCE_FILE = "reference.parquet"
MIN_FOCUS_LAPS = 30


def use_tracking_uri() -> None:
    """Points MLflow at the configured registry. MLflow also writes the URI into the environment's
    MLFLOW_TRACKING_URI, where it would outlive a change of data folder: the environment keeps
    only what the user set there."""
    import mlflow

    configured = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri())
    if configured is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)


def client():
    import mlflow

    use_tracking_uri()
    return mlflow.MlflowClient()


class RegistryUnavailable(RuntimeError):
    """The tracking server does not answer, or refuses the credentials."""


def ensure_experiment(name: str = EXPERIMENT) -> str:
    """The experiment, created with its artifacts under the data folder (MLflow's default would be
    ./mlruns in whatever directory the process started in), or, on a tracking server, where the
    server keeps them (it serves them to every client)."""
    from mlflow.exceptions import MlflowException

    mlflow_client = client()
    try:
        experiment = mlflow_client.get_experiment_by_name(name)
    except MlflowException as exc:
        if not settings.mlflow_tracking_uri().startswith(("http://", "https://")):
            raise
        refused = "401" in str(exc) or "unauthorized" in str(exc).lower()
        raise RegistryUnavailable(
            f"the MLflow tracking server at {settings.mlflow_tracking_uri()} "
            + (
                "refused the credentials in MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD"
                if refused
                else "did not answer (MLFLOW_TRACKING_URI)"
            )
            + f": {exc}"
        ) from exc
    if experiment is not None:
        return experiment.experiment_id
    if settings.mlflow_tracking_uri().startswith(("http://", "https://")):
        return mlflow_client.create_experiment(name)
    location = settings.mlflow_artifacts_dir()
    location.mkdir(parents=True, exist_ok=True)
    return mlflow_client.create_experiment(name, artifact_location=location.as_uri())


def log_model(model: SessionFamilyModel, example: pl.DataFrame) -> str:
    """Logs the model as an MLflow pyfunc in the active run and registers it; returns the new
    version. The pyfunc needs this project installed (f1_core; MLflow records uv.lock with it): a
    copy of f1_core inside the model (`code_paths`) would be put on sys.path by every process that
    loads it, ahead of the real one."""
    import mlflow

    from f1_core.features import FEATURES
    from f1_core.pyfunc import LapTimePyfunc

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lap_time_model.pkl"
        path.write_bytes(pickle.dumps(model))
        # every numeric input as float: MLflow cannot type an integer column that may hold nulls
        inputs = example.select(FEATURES).with_columns(pl.col("lap_number").cast(pl.Float64)).to_pandas()
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=LapTimePyfunc(),
            artifacts={"model": str(path)},
            signature=_signature(inputs, model.predict(example).to_pandas()),
            input_example=inputs.head(5),
        )
    # the client's calls, not the fluent registration, which prints its own notices on stderr
    # whatever MLflow's log level (the callers report the version themselves)
    from mlflow.exceptions import MlflowException

    mlflow_client = client()
    try:
        mlflow_client.create_registered_model(MODEL_NAME)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    version = mlflow_client.create_model_version(
        MODEL_NAME, source=info.model_uri, run_id=info.run_id, model_id=info.model_id
    ).version
    return str(version)


def log_reference(reference: pl.DataFrame) -> None:
    """Stores, in the active run, the sample of training laps drift is measured against."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / REFERENCE_FILE
        reference.write_parquet(path)
        mlflow.log_artifact(str(path), artifact_path="reference")


def reference(version: str) -> pl.DataFrame:
    """The training reference of a model version (`log_reference`)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    run_id = client().get_model_version(MODEL_NAME, version).run_id
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=f"reference/{REFERENCE_FILE}", dst_path=tmp
            )
        except MlflowException as exc:
            raise LookupError(
                f"model v{version} has no training reference (run {run_id}); drift is "
                f"measured against one: train a model with this code (`f1 train`)"
            ) from exc
        return pl.read_parquet(path)


def _signature(inputs, outputs):
    """Input columns as inferred, all optional: many features are missing by nature (no weather,
    no previous lap), and the model handles that."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, Schema

    inferred = infer_signature(inputs, outputs)
    optional = Schema([ColSpec(c.type, c.name, required=False) for c in inferred.inputs.inputs])
    return ModelSignature(inputs=optional, outputs=inferred.outputs)


def load(alias_or_version: str) -> SessionFamilyModel:
    """The model behind an alias (`champion`) or a version number."""
    import mlflow

    use_tracking_uri()
    uri = (
        f"models:/{MODEL_NAME}/{alias_or_version}"
        if alias_or_version.isdigit()
        else f"models:/{MODEL_NAME}@{alias_or_version}"
    )
    return mlflow.pyfunc.load_model(uri).unwrap_python_model().model


def version_of(alias: str) -> str | None:
    """The version behind `alias`, None when there is none. Any other failure (a locked store, a
    server down) is raised: taken for "no champion" it would let any model through the gate."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client().get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def model_card(version: str) -> dict:
    """What the service tells about the model it serves: version, aliases, the training run's
    metrics and the data and code it was trained on."""
    mlflow_client = client()
    model_version = mlflow_client.get_model_version(MODEL_NAME, version)
    run = mlflow_client.get_run(model_version.run_id) if model_version.run_id else None
    tags = run.data.tags if run else {}
    return {
        "name": MODEL_NAME,
        "version": str(version),
        "aliases": list(model_version.aliases),
        "run_id": model_version.run_id,
        "registered_at_ms": model_version.creation_timestamp,
        "metrics": dict(run.data.metrics) if run else {},
        "data_version": tags.get("data_version"),
        "code_version": tags.get("code_version"),
        # promotions and rollbacks: the champions in the order promoted (a rollback removes the
        # last), and the versions a rollback demoted
        "champions": [str(v) for v in _history()],
        "rolled_back": sorted(
            (
                str(v.version)
                for v in mlflow_client.search_model_versions(f"name='{MODEL_NAME}'")
                if v.tags.get("rolled_back") == "true"
            ),
            key=int,
        ),
    }


@dataclass
class Decision:
    promoted: bool
    challenger: str
    champion_before: str | None
    reason: str
    report: str  # markdown


def promotion_gate(
    challenger_version: str,
    holdout: pl.DataFrame,
    baseline_mae: float,
    margin: float,
    coverage_tolerance: float,
    nominal: float = 0.9,
    focus: list[str] | None = None,
    regression_tolerance: float = 0.01,
) -> Decision:
    """Promotes the challenger to champion when it beats the champion on the same holdout laps by
    `margin` (share of the champion's clean-lap MAE) and its interval coverage is no further from
    the `nominal` 90% than the champion's (plus `coverage_tolerance`): an interval that covers
    more by being wider is not better. With no champion yet, it must beat the best baseline.

    With `focus` sessions (a drift-launched retraining: the drifted sessions, whose later laps the
    holdout keeps), the margin is asked on those sessions' laps, where conditions changed, and the
    rest of the holdout must be no worse than `regression_tolerance` (share of the champion's MAE):
    a model that learnt the new conditions is not held back because the old ones dominate the
    holdout, nor let through if it forgot them."""
    champion = version_of(CHAMPION)
    challenger_model = load(challenger_version)
    rows = {f"challenger v{challenger_version}": _score(challenger_model, holdout)}
    ours = rows[f"challenger v{challenger_version}"]
    if champion is None:
        promoted = ours["mae_clean"] < baseline_mae
        reason = f"first model: clean-lap MAE {ours['mae_clean']:.3f} s vs best baseline {baseline_mae:.3f} s"
    elif champion == challenger_version:
        promoted, reason = False, "the challenger is already the champion"
    elif (unseen := unseen_by(champion, holdout)).height == 0:
        promoted, reason = False, (f"every holdout event was in champion v{champion}'s training: no fair comparison")
    else:
        # both scored on laps neither trained on (the challenger's holdout grows as data comes)
        champion_model = load(champion)
        if unseen.height < holdout.height:
            rows[f"challenger v{challenger_version}"] = ours = _score(challenger_model, unseen)
        holdout = unseen
        theirs = rows.setdefault(f"champion v{champion}", _score(champion_model, holdout))
        covered = abs(ours["coverage_clean"] - nominal) <= abs(theirs["coverage_clean"] - nominal) + coverage_tolerance
        coverage = (
            f"coverage {ours['coverage_clean']:.3f} vs {theirs['coverage_clean']:.3f} "
            f"(distance to {nominal:.0%} within {coverage_tolerance:.3f} of the champion's: "
            f"{'ok' if covered else 'worse'})"
        )
        in_focus = pl.col("session_key").is_in(focus or [])
        focused, rest = holdout.filter(in_focus), holdout.filter(~in_focus)
        # fewer clean laps than that cannot tell a 2% margin from noise: then the whole holdout judges
        if min(focused.filter(pl.col("clean")).height, rest.filter(pl.col("clean")).height) >= MIN_FOCUS_LAPS:
            models = {
                "challenger": (f"challenger v{challenger_version}", challenger_model),
                "champion": (f"champion v{champion}", champion_model),
            }
            mae = {}
            for part, laps in (("drifted sessions", focused), ("rest", rest)):
                for who, (name, model) in models.items():
                    rows[f"{name}, {part}"] = score = _score(model, laps)
                    mae[part, who] = score["mae_clean"]
            better = mae["drifted sessions", "challenger"] <= mae["drifted sessions", "champion"] * (1 - margin)
            kept = mae["rest", "challenger"] <= mae["rest", "champion"] * (1 + regression_tolerance)
            promoted = better and kept and covered
            reason = (
                f"on the drifted sessions' held-out laps clean-lap MAE {mae['drifted sessions', 'challenger']:.3f} s "
                f"vs champion {mae['drifted sessions', 'champion']:.3f} s (needs {margin:.0%} better: "
                f"{'yes' if better else 'no'}); on the rest {mae['rest', 'challenger']:.3f} s vs "
                f"{mae['rest', 'champion']:.3f} s (at most {regression_tolerance:.0%} worse: "
                f"{'yes' if kept else 'no'}); {coverage}"
            )
        else:
            better = ours["mae_clean"] <= theirs["mae_clean"] * (1 - margin)
            promoted = better and covered
            reason = (
                f"clean-lap MAE {ours['mae_clean']:.3f} s vs champion {theirs['mae_clean']:.3f} s "
                f"(needs {margin:.0%} better: {'yes' if better else 'no'}); {coverage}"
            )
    report = _report(challenger_version, champion, promoted, reason, rows, holdout, baseline_mae)
    mlflow_client = client()
    mlflow_client.set_registered_model_alias(MODEL_NAME, CHALLENGER, challenger_version)
    if promoted:
        _set_champion(challenger_version)
    return Decision(promoted, challenger_version, champion, reason, report)


def train_events(version: str) -> list[str]:
    """The events model `version` was trained on (its run's `train_events` tag; a model without
    the tag is taken at its word that it saw none)."""
    mlflow_client = client()
    run_id = mlflow_client.get_model_version(MODEL_NAME, version).run_id
    seen = mlflow_client.get_run(run_id).data.tags.get("train_events", "") if run_id else ""
    return [event for event in seen.split(",") if event]


def unseen_by(version: str, holdout: pl.DataFrame) -> pl.DataFrame:
    """The holdout laps from events model `version` was not trained on."""
    return holdout.filter(~pl.col("event").is_in(train_events(version)))


def _score(model: SessionFamilyModel, holdout: pl.DataFrame) -> dict[str, float]:
    laps = holdout.drop("prediction", "lower", "upper", strict=False)
    scored = pl.concat([laps, model.predict(laps).rename({"lap_time": "prediction"})], how="horizontal")
    return metrics.summary(scored)


def _report(challenger, champion, promoted, reason, rows, holdout, baseline_mae) -> str:
    events = ", ".join(sorted(holdout["event"].unique().to_list()))
    lines = [
        f"# Promotion decision: {'PROMOTED' if promoted else 'NOT PROMOTED'}",
        "",
        f"- challenger: version {challenger}",
        f"- champion before: {'none' if champion is None else 'version ' + champion}",
        f"- reason: {reason}",
        f"- holdout: {holdout.height} laps from events {events}",
        f"- best baseline clean-lap MAE: {baseline_mae:.3f} s",
        "",
        "| model | clean MAE (s) | all MAE (s) | coverage clean | width clean (s) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {r['mae_clean']:.3f} | {r['mae_all']:.3f} | {r['coverage_clean']:.3f} | {r['width_clean']:.2f} |"
        for name, r in rows.items()
    ]
    return "\n".join(lines) + "\n"


def _history() -> list[str]:
    tags = client().get_registered_model(MODEL_NAME).tags
    return json.loads(tags.get(HISTORY_TAG, "[]"))


def _set_champion(version: str) -> None:
    mlflow_client = client()
    history = _history()
    if not history or history[-1] != version:
        history.append(version)
    mlflow_client.set_registered_model_tag(MODEL_NAME, HISTORY_TAG, json.dumps(history))
    mlflow_client.set_registered_model_alias(MODEL_NAME, CHAMPION, version)


def previous_champion(champion: str | None) -> str | None:
    """The champion before `champion`, the current one as the caller read the alias (what a
    rollback would restore), None if there is none."""
    history = [str(v) for v in _history()] if champion else []
    return history[-2] if len(history) >= 2 and history[-1] == champion else None


def rollback() -> tuple[str, str]:
    """Restores the previous champion. Returns (demoted version, restored version)."""
    history = [str(v) for v in _history()]
    current = version_of(CHAMPION)
    if current is None or len(history) < 2:
        raise RuntimeError("no earlier champion to roll back to")
    if history[-1] != current:
        raise RuntimeError(
            f"the champion alias points at v{current}, not at v{history[-1]} as the "
            f"promotion history says: it was moved outside the gate; fix it by hand"
        )
    demoted = history.pop()
    restored = history[-1]
    mlflow_client = client()
    mlflow_client.set_registered_model_tag(MODEL_NAME, HISTORY_TAG, json.dumps(history))
    mlflow_client.set_registered_model_alias(MODEL_NAME, CHAMPION, restored)
    mlflow_client.set_model_version_tag(MODEL_NAME, demoted, "rolled_back", "true")
    return demoted, restored


def versions_made(start: datetime, end: datetime) -> pl.DataFrame:
    """The model versions registered between `start` and `end` (UTC): whether each was promoted
    (in the champion history), rolled back, and is the champion now."""
    history = {str(v) for v in _history()} if client().search_registered_models(f"name='{MODEL_NAME}'") else set()
    champion = version_of(CHAMPION)
    rows = []
    for version in client().search_model_versions(f"name='{MODEL_NAME}'"):
        created = datetime.fromtimestamp(version.creation_timestamp / 1000, UTC).replace(tzinfo=None)
        if start <= created < end:
            rows.append(
                {
                    "version": int(version.version),
                    "created_utc": f"{created:%Y-%m-%d %H:%M}",
                    "promoted": version.version in history,
                    "rolled_back": version.tags.get("rolled_back") == "true",
                    "champion": version.version == champion,
                }
            )
    schema = {"version": pl.Int64, "created_utc": pl.String, "promoted": pl.Boolean}
    return pl.DataFrame(rows, schema=schema | {"rolled_back": pl.Boolean, "champion": pl.Boolean})
