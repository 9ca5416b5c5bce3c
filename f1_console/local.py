"""Runs the console as a local process on a free port (tests, benchmarks), like
`f1_serving.local.LocalService` does the prediction service."""

from __future__ import annotations

import sys
from pathlib import Path

from f1_serving.local import LocalService


class LocalConsole(LocalService):
    """`with LocalConsole(env) as console:` starts uvicorn on 127.0.0.1 and waits for /api/me."""

    health_path = "/api/me"

    def command(self) -> list[str]:
        return [
            str(Path(sys.executable).with_name("uvicorn")),
            "--factory",
            "f1_console.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
