import json
import tempfile
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl

from f1_assets.defs.metadata import asset_code_version, preview
from f1_assets.defs.warehouse.resources import WarehouseResource
from f1_core import settings
from f1_core.drift import reference_sample
from f1_core.features import FEATURES, NOT_CLEAN_RULES, removed_by_rule
from f1_core.model import ModelParams
from f1_core.training import (
    BASELINES,
    continue_and_evaluate,
    data_version,
    held_out,
    in_training,
    load_warehouse,
    train_and_evaluate,
    training_frame,
)

# marks an asset stale in the UI when code it may run changed (f1_assets.defs.metadata.asset_code_version)
CODE_VERSION = asset_code_version(__name__)

WAREHOUSE_INPUTS = [dg.AssetKey(["warehouse", t]) for t in ("laps", "sessions", "weather")]


@dg.asset(
    code_version=CODE_VERSION,
    group_name="training",
    kinds={"polars", "duckdb"},
    deps=WAREHOUSE_INPUTS,
    pool="duckdb_warehouse",
)
def lap_features(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every lap's features (what is known when it starts), target and event, as the DuckDB table
    `lap_features`: the training set, and what analysts use to see what the model sees."""
    laps, sessions, weather = load_warehouse(warehouse.path)
    frame = training_frame(laps, sessions, weather).with_columns(pl.lit(data_version(sessions)).alias("data_version"))
    warehouse.replace_table("lap_features", frame, "Lap features (f1_core.features): one row per lap.")
    removed = removed_by_rule(frame)
    return dg.MaterializeResult(
        metadata={
            # why laps are not clean: how many laps each rule removed, in all and per session
            "laps_removed_by_rule": dg.MetadataValue.json({rule: int(removed[rule].sum()) for rule in NOT_CLEAN_RULES}),
            "laps_removed_by_rule_per_session": preview(removed, rows=removed.height),
            "dagster/row_count": frame.height,
            "sessions": sessions.height,
            "features": len(FEATURES),
            "data_version": data_version(sessions),
            "preview": preview(frame.select("session_key", "driver", "lap_number", "lap_time_s", *FEATURES[1:9])),
        }
    )


class TrainingConfig(dg.Config, ModelParams):
    """The model's hyperparameters (f1_core.model.ModelParams) and how it is validated."""

    cv_folds: int = 5
    holdout_share: float = 0.2
    # full: cross-validate and fit from scratch. incremental: continue the champion's boosting
    # with `incremental_trees` more trees on today's training laps (a fraction of the time; no
    # champion yet means a full retrain). The run records which it did (tag `retrain_mode`).
    mode: Literal["full", "incremental"] = "full"
    incremental_trees: int = 100
    # drifted sessions (the drift sensor fills this in): the first half of each one's laps trains
    # even when it is among the newest sessions the holdout keeps (f1_core.training.holdout_split)
    learn_from_sessions: list[str] = []

    def params(self) -> ModelParams:
        return ModelParams(**{k: v for k, v in self.model_dump().items() if k in ModelParams.model_fields})


@dg.asset(
    code_version=CODE_VERSION,
    group_name="training",
    kinds={"lightgbm", "xgboost", "mlflow"},
    deps=["lap_features"],
    required_resource_keys={"mlflow", "warehouse"},
)
def lap_time_model(context: dg.AssetExecutionContext, config: TrainingConfig) -> dg.Output[dict]:
    """Trains and evaluates the model (event-grouped CV, time-ordered holdout, baselines), logs
    the run to MLflow and registers the model as a new version of `f1-laptime`."""
    from f1_core import registry, reports

    mlflow = context.resources.mlflow
    frame = context.resources.warehouse.query("SELECT * FROM lap_features")
    result, mode = fit(frame, config)
    context.log.info(f"retraining mode: {mode}")
    version_of_data = frame["data_version"][0]
    # the drifted sessions are a tag: a parameter holds at most 6,000 characters
    mlflow.log_params(config.model_dump(exclude={"learn_from_sessions"}) | {"features": len(FEATURES)})
    mlflow.log_metrics(result.metrics | {"training_seconds": result.seconds})
    mlflow.set_tags(
        mode
        | {
            "data_version": version_of_data,
            "code_version": reports.code_version(settings.PROJECT_ROOT),
            "circuits": ",".join(sorted(frame["circuit_ref"].unique().to_list())),
            "sessions": str(frame["session_key"].n_unique()),
            "blend": result.blend,
            "train_events": ",".join(result.train_events),
            "holdout_events": ",".join(result.holdout_events),
            "holdout_cuts": json.dumps(result.holdout_cuts)[:5000],
            "learn_from_sessions": ",".join(config.learn_from_sessions)[:5000],
            "trees_per_booster": json.dumps({name: m.params.n_estimators for name, m in result.model.models.items()}),
        }
    )
    importance = reports.feature_importance(result.model, result.holdout)
    with tempfile.TemporaryDirectory() as tmp:
        for name, table in {"importance": importance, **result.tables}.items():
            table.write_csv(Path(tmp) / f"{name}.csv")
        figures = reports.residual_plots(result.holdout)
        figures["feature_importance.png"] = reports.importance_figure(importance)
        for name, figure in figures.items():
            figure.savefig(Path(tmp) / name, dpi=110)
        mlflow.log_artifacts(tmp, artifact_path="evaluation")
    version = registry.log_model(result.model, result.holdout.head(50))
    # the laps this training read (of a split session, only its first part)
    registry.log_reference(reference_sample(frame.filter(in_training(result.holdout_events, result.holdout_cuts))))
    run_id = mlflow.active_run().info.run_id
    best_baseline = min(result.metrics[f"holdout_{b}_mae_clean"] for b in BASELINES)
    metrics = result.metrics
    return dg.Output(
        {
            "version": version,
            "run_id": run_id,
            "holdout_events": result.holdout_events,
            "holdout_cuts": result.holdout_cuts,
            "best_baseline_mae_clean": best_baseline,
        },
        metadata={
            "model_version": version,
            "retrain_mode": mode["retrain_mode"],
            "blend": result.blend,
            "mlflow_run_id": run_id,
            "data_version": version_of_data,
            "holdout_mae_clean": metrics["holdout_mae_clean"],
            "holdout_mae_all": metrics["holdout_mae_all"],
            "holdout_coverage_clean": metrics["holdout_coverage_clean"],
            "holdout_width_clean": metrics["holdout_width_clean"],
            "best_baseline_mae_clean": best_baseline,
            **({"cv_mae_clean": metrics["cv_mae_clean"]} if "cv_mae_clean" in metrics else {}),
            "training_seconds": result.seconds,
            "per_session_type": preview(result.tables["session_type"]),
            "top_features": preview(importance.head(10)),
        },
    )


def fit(frame: pl.DataFrame, config: TrainingConfig):
    """The training result and the tags saying how it was made (`retrain_mode`, and for an
    incremental one the champion version it continued)."""
    from f1_core import registry

    champion = registry.version_of(registry.CHAMPION) if config.mode == "incremental" else None
    if champion is None:
        result = train_and_evaluate(
            frame, config.params(), config.cv_folds, config.holdout_share, config.learn_from_sessions
        )
        reason = "no champion to continue" if config.mode == "incremental" else "requested"
        return result, {"retrain_mode": "full", "retrain_mode_reason": reason}
    result = continue_and_evaluate(
        frame,
        registry.load(champion),
        registry.train_events(champion),
        config.incremental_trees,
        config.params(),
        config.cv_folds,
        config.holdout_share,
        config.learn_from_sessions,
    )
    return result, {
        "retrain_mode": "incremental",
        "retrain_base_version": champion,
        "retrain_mode_reason": f"continued champion v{champion} with {config.incremental_trees} trees per booster",
    }


class PromotionConfig(dg.Config):
    """A challenger becomes champion only when it is `margin` better than the champion on the
    same holdout laps, with coverage no worse than the champion's minus `coverage_tolerance`.
    After drift (sessions split by the training), the margin is asked on the drifted sessions'
    held-out laps, and the rest of the holdout may be at most `regression_tolerance` worse."""

    margin: float = 0.02
    coverage_tolerance: float = 0.01
    regression_tolerance: float = 0.01


@dg.asset(
    code_version=CODE_VERSION, group_name="training", kinds={"mlflow"}, required_resource_keys={"mlflow", "warehouse"}
)
def champion_model(
    context: dg.AssetExecutionContext, config: PromotionConfig, lap_time_model: dict
) -> dg.MaterializeResult:
    """The promotion decision for the newest model, with its comparison report (also stored in
    the MLflow run as promotion_report.md)."""
    from f1_core import registry

    frame = context.resources.warehouse.query("SELECT * FROM lap_features")
    # (a model output stored before sessions could be split has no cuts)
    cuts = lap_time_model.get("holdout_cuts", {})
    holdout = frame.filter(held_out(lap_time_model["holdout_events"], cuts))
    decision = registry.promotion_gate(
        lap_time_model["version"],
        holdout,
        lap_time_model["best_baseline_mae_clean"],
        config.margin,
        config.coverage_tolerance,
        focus=list(cuts),
        regression_tolerance=config.regression_tolerance,
    )
    context.resources.mlflow.log_text(decision.report, "promotion_report.md")
    context.resources.mlflow.end_run()
    context.log.info(f"promotion: {decision.reason}")
    return dg.MaterializeResult(
        metadata={
            "promoted": decision.promoted,
            "champion_version": registry.version_of(registry.CHAMPION) or "none",
            "challenger_version": decision.challenger,
            "reason": decision.reason,
            "report": dg.MetadataValue.md(decision.report),
        }
    )
