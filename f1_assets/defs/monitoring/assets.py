import dagster as dg
import polars as pl

from f1_assets.defs.metadata import asset_code_version, preview
from f1_assets.defs.monitoring.resources import AlertResource
from f1_assets.defs.warehouse.resources import WarehouseResource
from f1_core import settings
from f1_core.drift import DriftThresholds, describe

# marks an asset stale in the UI when code it may run changed (f1_assets.defs.metadata.asset_code_version)
CODE_VERSION = asset_code_version(__name__)

WAREHOUSE_INPUTS = [dg.AssetKey(["warehouse", t]) for t in ("laps", "sessions", "weather")]


class DriftConfig(dg.Config, DriftThresholds):
    """Drift thresholds (f1_core.drift explains the defaults) and which sessions to report on:
    none named means every session with no report against the current champion, or written
    again since its last one."""

    sessions: list[str] = []


@dg.asset(
    code_version=CODE_VERSION,
    group_name="monitoring",
    kinds={"evidently", "duckdb"},
    deps=[*WAREHOUSE_INPUTS, "champion_model"],
    pool="duckdb_warehouse",
    automation_condition=dg.AutomationCondition.eager(),
)
def drift_reports(
    context: dg.AssetExecutionContext, config: DriftConfig, warehouse: WarehouseResource, alerts: AlertResource
) -> dg.MaterializeResult:
    """Each session against the champion's training reference (Evidently: PSI, Jensen-Shannon,
    KS), classified as data drift, concept drift, both or none; HTML reports in
    $F1_DRIFT_REPORTS, numbers in the `drift_history` and `drift_features` tables. A drifted
    session raises an alert."""
    from f1_core import monitoring, registry

    version = registry.version_of(registry.CHAMPION)
    if version is None:
        context.log.warning("no champion yet: nothing to measure drift against")
        return dg.MaterializeResult(metadata={"champion_version": "none", "sessions": 0})
    keys = config.sessions or monitoring.sessions_to_report(warehouse.path, version)
    thresholds = DriftThresholds(**{k: getattr(config, k) for k in DriftThresholds.model_fields})
    done = monitoring.session_drift(warehouse.path, keys, version, thresholds, settings.drift_reports_dir())
    for item in done:
        if item.result.classification != "none":
            alerts.send(
                "drift",
                describe(item.session_key, item.result),
                {
                    "session_key": item.session_key,
                    "classification": item.result.classification,
                    "champion_version": version,
                    "drifted_features": item.result.drifted_features,
                    "share_drifted": item.result.share_drifted,
                    "live_mae_clean": item.result.live_mae_clean,
                    "train_mae_clean": item.result.train_mae_clean,
                    "report": str(item.report_path),
                },
            )
    summary = pl.DataFrame(
        {
            "session_key": [i.session_key for i in done],
            "classification": [i.result.classification for i in done],
            "share_drifted": [round(i.result.share_drifted, 3) for i in done],
            "live_mae_clean": [i.result.live_mae_clean for i in done],
        },
        schema={
            "session_key": pl.String,
            "classification": pl.String,
            "share_drifted": pl.Float64,
            "live_mae_clean": pl.Float64,
        },
    )
    return dg.MaterializeResult(
        metadata={
            "champion_version": version,
            "sessions": len(done),
            "drifted_sessions": sum(i.result.classification != "none" for i in done),
            "reports": preview(summary, rows=50),
            **({"latest_report": dg.MetadataValue.path(str(done[-1].report_path))} if done else {}),
        }
    )


@dg.asset(
    code_version=CODE_VERSION,
    group_name="monitoring",
    kinds={"polars", "duckdb"},
    deps=WAREHOUSE_INPUTS,
    pool="duckdb_warehouse",
    automation_condition=dg.AutomationCondition.eager(),
)
def live_accuracy(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The service's prediction log joined with the observed laps: `live_predictions` (one row per
    predicted lap) and `live_accuracy` (live MAE on clean and all laps, and interval coverage, per
    session, driver, compound, model version and context: answers from a session's state and
    from a request alone are never pooled). Refreshed whenever laps land."""
    from f1_core import monitoring, prediction_log

    predictions = prediction_log.read(settings.prediction_log_dir())
    joined = pl.DataFrame(schema=monitoring.LIVE_SCHEMA)
    if predictions.height:
        sessions = warehouse.query("SELECT * FROM sessions")
        laps = warehouse.query(
            "SELECT * FROM laps WHERE session_key IN (SELECT unnest(?))",
            [monitoring.predicted_sessions(predictions, sessions)],
        )
        joined = monitoring.live_predictions(predictions, laps, sessions)
    warehouse.replace_table("live_predictions", joined, "The service's predictions next to the observed laps.")
    accuracy = warehouse.query(monitoring.LIVE_ACCURACY_SQL)
    warehouse.replace_table(
        "live_accuracy", accuracy, "Live MAE per session, driver, compound, model version and context."
    )
    overall = accuracy.filter(pl.col("session_key").is_null())
    return dg.MaterializeResult(
        metadata={
            "predicted_laps": joined.height,
            "by_model_version": preview(
                overall.select("model_version", "context", "laps", "clean_laps", "mae_clean", "coverage_clean")
            ),
        }
    )


class WatchConfig(dg.Config):
    """After a promotion, the new champion is judged on `laps` live clean laps against the
    previous champion's shadow predictions of the same laps; worse by more than `margin` (a share
    of the previous champion's MAE) and it is rolled back."""

    laps: int = 200
    margin: float = 0.05


@dg.asset(
    code_version=CODE_VERSION,
    group_name="monitoring",
    kinds={"mlflow"},
    deps=["live_accuracy"],
    automation_condition=dg.AutomationCondition.eager(),
)
def champion_watch(
    context: dg.AssetExecutionContext, config: WatchConfig, warehouse: WarehouseResource, alerts: AlertResource
) -> dg.MaterializeResult:
    """The newest promotion on live laps: watching, passed, or rolled back (with an alert)."""
    from f1_core import monitoring, registry

    champion = registry.version_of(registry.CHAMPION)
    previous = registry.previous_champion(champion)
    if champion is None or previous is None:
        return dg.MaterializeResult(metadata={"verdict": "nothing to watch", "champion": champion or "none"})
    judged = registry.client().get_model_version(registry.MODEL_NAME, champion).tags.get("live_watch")
    if judged:
        return dg.MaterializeResult(metadata={"verdict": f"already {judged}", "champion": champion})
    live = warehouse.query("SELECT * FROM live_predictions")
    result = monitoring.watch(live, champion, previous, config.laps, config.margin)
    if result.verdict == "rollback":
        demoted, restored = registry.rollback()
        text = (
            f"champion v{demoted} rolled back to v{restored}: clean-lap MAE {result.mae_champion:.3f} s "
            f"on {result.laps} live laps vs {result.mae_shadow:.3f} s for v{restored} on the same laps "
            f"(margin {config.margin:.0%})"
        )
        alerts.send(
            "rollback",
            text,
            {
                "demoted": demoted,
                "restored": restored,
                "laps": result.laps,
                "mae_champion": result.mae_champion,
                "mae_previous": result.mae_shadow,
            },
        )
    if result.verdict in ("passed", "rollback"):
        registry.client().set_model_version_tag(registry.MODEL_NAME, champion, "live_watch", result.verdict)
    context.log.info(f"champion v{champion} vs v{previous}: {result}")
    return dg.MaterializeResult(
        metadata={
            "champion": champion,
            "previous": previous,
            "verdict": result.verdict,
            "laps": result.laps,
            "mae_champion": result.mae_champion,
            "mae_previous": result.mae_shadow,
        }
    )
