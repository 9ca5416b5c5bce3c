import warnings

import dagster as dg
from dagster_shared.utils.warnings import BetaWarning

from f1_core import registry


@dg.resource(config_schema={"experiment_name": dg.Field(str, default_value=registry.EXPERIMENT)})
def mlflow_tracking(context):
    """dagster-mlflow's MLflow run for the Dagster run (tagged with its run id), imported only
    when a step needs it: mlflow takes seconds to import. The tracking URI is
    MLFLOW_TRACKING_URI (see f1_core.settings), set by `registry.ensure_experiment`."""
    registry.ensure_experiment(context.resource_config["experiment_name"])
    # dagster-mlflow is a beta integration (and calls a context method Dagster deprecates): using
    # it is the decision, its warnings say nothing a user can act on
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        from dagster_mlflow.resources import MlFlow

        tracking = MlFlow(context)
    try:
        yield tracking
    except Exception:
        tracking.cleanup_on_error()
        raise


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"mlflow": mlflow_tracking})
