import dagster as dg

from f1_assets.cli import root_cause
from f1_assets.defs.monitoring.resources import AlertResource


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Sends the alert webhook (F1_ALERT_WEBHOOK_URL) for every failed run: the run, the job, "
    "the steps that failed and their errors.",
)
def run_failure_alert(context: dg.RunFailureSensorContext, alerts: AlertResource) -> None:
    run = context.dagster_run
    steps = [
        {"step": event.step_key, "error": root_cause(event.step_failure_data.error)}
        for event in context.get_step_failure_events()
        if event.step_failure_data and event.step_failure_data.error
    ]
    partition = run.tags.get("dagster/partition")
    where = f"{run.job_name}" + (f" ({partition})" if partition else "")
    first = steps[0] if steps else {"step": None, "error": context.failure_event.message}
    alerts.send(
        "run_failure",
        f"run {run.run_id[:8]} of {where} failed at step {first['step']}: {first['error']}",
        {"run_id": run.run_id, "job": run.job_name, "partition": partition, "steps": steps},
    )
