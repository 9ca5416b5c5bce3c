"""A `dagster-celery worker` on this machine: it takes the steps of runs that use the celery
executor (F1_EXECUTOR=celery) from RabbitMQ and runs them, one at a time.

    with CeleryWorker(env, name="worker-1") as worker:  # ready once the broker sees it
        ...
    worker.kill()  # SIGKILL of the worker and its pool, as a crashed machine would
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from f1_core import settings
from f1_serving.local import LocalService


def config_yaml(broker: str, queue: str) -> str:
    """The executor's configuration as the worker reads it: the run's, so both agree on the queue
    and on late acknowledgement."""
    from f1_assets.defs.executor import celery_settings

    config = {"broker": broker, "config_source": celery_settings(queue)}
    return json.dumps({"execution": {"config": config}})  # JSON is YAML


class CeleryWorker(LocalService):
    health_path = "(the broker's ping)"
    private_bentoml_home = False

    def __init__(
        self, env: dict[str, str] | None = None, *, name: str, log_path: Path | None = None, start_timeout: float = 90.0
    ):
        env = {**os.environ, **(env or {})}
        self.broker = env.get("F1_CELERY_BROKER") or settings.celery_broker()
        self.queue = env.get("F1_CELERY_QUEUE") or settings.celery_queue()
        self.name = name
        self.node = f"{name}@{socket.gethostname()}"
        # `dagster-celery worker start` writes its celery config under $DAGSTER_HOME; the steps
        # themselves run on the instance each task names
        self._folder = Path(tempfile.mkdtemp(prefix="celery-worker-"))
        (self._folder / "celery.yaml").write_text(config_yaml(self.broker, self.queue))
        bin_dir = str(Path(sys.executable).parent)
        super().__init__(
            env={**env, "DAGSTER_HOME": str(self._folder), "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"},
            log_path=log_path,
            start_timeout=start_timeout,
        )
        self.url = self.broker

    def command(self) -> list[str]:
        return [
            str(Path(sys.executable).with_name("dagster-celery")),
            "worker",
            "start",
            "-A",
            "dagster_celery.app",
            "-y",
            str(self._folder / "celery.yaml"),
            "--name",
            self.name,
            "-q",
            self.queue,
            "--",
            "--concurrency",
            "1",
            "--without-gossip",
            "--without-mingle",
        ]

    def ready(self) -> bool:
        from celery import Celery

        app = Celery(broker=self.broker)
        try:
            return bool(app.control.ping(destination=[self.node], timeout=1.0))
        except OSError:
            return False
        finally:
            app.close()

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            shutil.rmtree(self._folder, ignore_errors=True)


def delete_queue(queue: str, broker: str | None = None) -> None:
    """Removes a queue from the broker (a test's own, once its workers are gone)."""
    from kombu import Connection

    with Connection(broker or settings.celery_broker()) as connection:
        connection.channel().queue_delete(queue)


def main() -> None:
    """`make worker`: one worker in the foreground, with this environment (F1_CELERY_BROKER,
    F1_CELERY_QUEUE, and the pipeline's own: the instance, the warehouse, MLflow)."""
    import subprocess

    worker = CeleryWorker(name=f"f1-worker-{os.getpid()}")
    try:
        raise SystemExit(subprocess.call(worker.command(), env={**worker.env, "F1_EXECUTOR": "celery"}))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    finally:
        worker.stop()


if __name__ == "__main__":
    main()
