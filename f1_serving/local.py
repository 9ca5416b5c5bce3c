"""Runs the service as a local process on a free port: what the tests, the load benchmark and the
replay use to talk to the real thing over HTTP."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import psutil

from f1_core import settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalService:
    """`with LocalService(env) as service:` starts `bentoml serve` (a subclass: another server,
    `command`) on 127.0.0.1 and waits until it answers `health_path`; leaving the block stops it
    and every worker it started.

    Each service gets its own BENTOML_HOME (unless `env` names one): `bentoml serve` empties
    `$BENTOML_HOME/prometheus_multiproc_dir` as it starts, where its workers keep their
    metrics, so two services sharing a home lose each other's /metrics."""

    def __init__(
        self,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        start_timeout: float = 90.0,
        target: str = "f1_serving.service:LapTimeService",
        cwd: Path | None = None,
        port: int | None = None,
    ):
        """`cwd`: the project folder to serve from (another checkout: a benchmark's baseline);
        `port`: a free one unless given."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **(env or {})}
        self._home = None
        if self.private_bentoml_home and "BENTOML_HOME" not in (env or {}):
            self._home = tempfile.mkdtemp(prefix="bentoml-home-")
            self.env["BENTOML_HOME"] = self._home
        self.log_path = log_path
        self.start_timeout = start_timeout
        self.target = target
        self.cwd = cwd or settings.PROJECT_ROOT
        self.process: subprocess.Popen | None = None
        self._log = None

    health_path = "/healthz"
    private_bentoml_home = True  # False for a process that is not a BentoML one

    def command(self) -> list[str]:
        return [
            str(Path(sys.executable).with_name("bentoml")),
            "serve",
            self.target,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]

    def __enter__(self) -> LocalService:
        try:
            self.launch()
            self.wait_until_ready()
        except BaseException:  # interrupted or failed while starting: nothing it started stays
            self.stop()
            raise
        return self

    def launch(self) -> None:
        """Starts the process without waiting for it to serve (`wait_until_ready`)."""
        self._log = open(self.log_path, "ab") if self.log_path else None
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.cwd,
            env=self.env,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # its own process group: stopping it stops its workers

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.command()[0]} exited with {self.process.returncode} on start (log: {self.log_path})"
                )
            if self.ready():
                return
            time.sleep(0.3)
        raise TimeoutError(f"{self.command()[0]} was not ready ({self.health_path}) within {self.start_timeout:.0f} s")

    def ready(self) -> bool:
        """Whether the started process serves: it answers `health_path` over HTTP."""
        try:
            with urllib.request.urlopen(f"{self.url}{self.health_path}", timeout=1) as answer:
                return answer.status == 200
        except urllib.error.HTTPError:
            return True  # it answers (a path that needs a key says so)
        except OSError:
            return False

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        try:
            self._stop_processes()
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
            if self._home is not None:
                shutil.rmtree(self._home, ignore_errors=True)
                self._home = None

    def kill(self) -> None:
        """Kills the service and every worker at once (SIGKILL, no shutdown), as a crash would."""
        _kill(self._tree())
        self.process.wait()

    def _tree(self) -> list[psutil.Process]:
        """The service's process and its workers: BentoML starts each worker in a session of its
        own, so signalling the service's process group would leave them running."""
        try:
            parent = psutil.Process(self.process.pid)
            return [*parent.children(recursive=True), parent]
        except psutil.NoSuchProcess:
            return []

    def _stop_processes(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        tree = self._tree()
        group = os.getpgid(self.process.pid)
        os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait()
        _, alive = psutil.wait_procs(tree, timeout=5)
        _kill(alive)  # workers that outlived their parent


def _kill(processes: list[psutil.Process]) -> None:
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass


def start_together(stack: ExitStack, services: list[LocalService]) -> None:
    """Starts every service at once and waits until all serve: each one's start-up (imports,
    migrations) overlaps the others'. `stack` stops each, whatever happens next."""
    for service in services:
        stack.callback(service.stop)
    for service in services:
        service.launch()
    for service in services:
        service.wait_until_ready()
