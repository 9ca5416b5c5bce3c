"""MLflow's tracking server: runs and registry in PostgreSQL, artifacts served by the server itself
(clients never need its disk), and MLflow's basic-auth app, its users in a database of their own.

    with MlflowServer(backend_db="f1_mlflow", auth_db="f1_mlflow_auth", artifacts=folder,
                      admin_password=..., secret_key=...) as server:
        os.environ.update(server.client_env())  # MLFLOW_TRACKING_URI and the admin's credentials
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from f1_production import postgres
from f1_serving.local import LocalService

ADMIN = "admin"
MIN_PASSWORD = 12  # MLflow refuses a shorter admin password


class MlflowServer(LocalService):
    health_path = "/health"
    private_bentoml_home = False

    def __init__(
        self,
        *,
        backend_db: str,
        auth_db: str,
        artifacts: Path,
        admin_password: str,
        secret_key: str,
        log_path: Path | None = None,
        server: dict | None = None,
        port: int | None = None,
    ):
        if len(admin_password) < MIN_PASSWORD:
            raise ValueError(f"the MLflow admin password must have at least {MIN_PASSWORD} characters")
        if not secret_key:
            raise ValueError("the MLflow server needs a secret key (MLFLOW_FLASK_SERVER_SECRET_KEY)")
        self.backend_db, self.auth_db, self.artifacts = backend_db, auth_db, Path(artifacts)
        self.admin_password = admin_password
        self.pg = server or postgres.SERVER
        self._config = Path(tempfile.mkdtemp(prefix="mlflow-auth-")) / "basic_auth.ini"
        super().__init__(
            env={
                "MLFLOW_AUTH_CONFIG_PATH": str(self._config),
                "MLFLOW_AUTH_ADMIN_PASSWORD": admin_password,
                "MLFLOW_FLASK_SERVER_SECRET_KEY": secret_key,
                # MLflow's job runner (GenAI scoring, trace archival: nothing this project uses) is
                # eight more Python processes, 0.3 GB each, busy starting while the pipeline runs
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
                **postgres.environment(server),
            },
            log_path=log_path,
            start_timeout=120,
            port=port,
        )

    def command(self) -> list[str]:
        return [
            str(Path(sys.executable).with_name("mlflow")),
            "server",
            "--app-name",
            "basic-auth",
            "--backend-store-uri",
            postgres.url(self.backend_db, self.pg),
            "--artifacts-destination",
            self.artifacts.as_uri(),
            "--serve-artifacts",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "2",
        ]

    def launch(self) -> None:
        for name in (self.backend_db, self.auth_db):
            postgres.ensure_database(name, self.pg)
        self.artifacts.mkdir(parents=True, exist_ok=True)
        # READ for everyone signed in; the pipeline signs in as the admin, who may do everything
        self._config.write_text(
            "[mlflow]\ndefault_permission = READ\n"
            f"database_uri = {postgres.url(self.auth_db, self.pg)}\nadmin_username = {ADMIN}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        super().launch()

    def client_env(self, username: str = ADMIN, password: str | None = None) -> dict[str, str]:
        """What a client of this server is told; with two retries, a server that is down fails a
        training in seconds instead of MLflow's default of minutes of backing off."""
        return {
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_TRACKING_USERNAME": username,
            "MLFLOW_TRACKING_PASSWORD": self.admin_password if password is None else password,
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
        }

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            shutil.rmtree(self._config.parent, ignore_errors=True)


def main() -> None:
    """`make mlflow-server`: the server on this machine's PostgreSQL until stopped (Ctrl-C)."""
    import os
    import signal
    import time

    from f1_core import settings

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stopped like Ctrl-C: the server with it
    missing = [
        name for name in ("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY") if not os.environ.get(name)
    ]
    if missing:
        sys.exit(f"set {' and '.join(missing)} (the admin's password, the server's secret key)")
    server = MlflowServer(
        backend_db=os.environ.get("F1_MLFLOW_DB", "f1_mlflow"),
        auth_db=os.environ.get("F1_MLFLOW_AUTH_DB", "f1_mlflow_auth"),
        artifacts=settings.data_dir() / "mlflow-server-artifacts",
        admin_password=os.environ["MLFLOW_AUTH_ADMIN_PASSWORD"],
        secret_key=os.environ["MLFLOW_FLASK_SERVER_SECRET_KEY"],
        log_path=settings.data_dir() / "mlflow-server.log",
        port=int(os.environ.get("PORT", "5000")),
    )
    with server:
        print(
            f"MLflow at {server.url} (log: {server.log_path}); clients: MLFLOW_TRACKING_URI={server.url} "
            f"MLFLOW_TRACKING_USERNAME={ADMIN} MLFLOW_TRACKING_PASSWORD=<the admin's password>",
            flush=True,
        )
        try:
            while server.process.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
