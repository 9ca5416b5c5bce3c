import dagster as dg

from f1_core import settings

# A step's task is acknowledged when it ends, not when a worker takes it: a worker killed
# mid-step leaves it on the queue for the next worker, and a worker whose step process dies is
# refused the task rather than having it marked failed.
CELERY_SETTINGS = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "broker_connection_retry_on_startup": True,
}


def celery_settings(queue: str | None = None) -> dict:
    """What the run and its workers must agree on (the workers read it from their YAML file)."""
    return {**CELERY_SETTINGS, "task_default_queue": queue or settings.celery_queue()}


def executor_def() -> dg.ExecutorDefinition:
    """F1_EXECUTOR=in_process: every run executes its steps in its own process, one after the
    other. Dagster's default starts a process per step, each loading the code location first
    (benchmarks/loop_daemon.py): the steps are small, the warehouse pool serialises the writers
    anyway. F1_EXECUTOR=celery: each step is a task on RabbitMQ that any `dagster-celery worker`
    of the profile runs, on this machine or another one."""
    if settings.executor() == "in_process":
        return dg.in_process_executor
    from dagster_celery import celery_executor

    return celery_executor.configured(
        {"broker": settings.celery_broker(), "config_source": celery_settings()}, name="celery"
    )


defs = dg.Definitions(executor=executor_def())
