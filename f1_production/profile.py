"""`F1_PROFILE=production make run`: the production profile brought up on this machine, the main
job run on it, and what it started stopped again.

What it uses, each as it is (nothing here starts PostgreSQL or Redis): the PostgreSQL server named
by DAGSTER_PG_HOST/PORT/USER/PASSWORD (default 127.0.0.1:5432, postgres) for Dagster's runs,
events and schedules, the warehouse's DuckLake catalog and MLflow's runs, registry and users, in
four databases named `<F1_PG_DATABASE_PREFIX><dagster|warehouse|mlflow|mlflow_auth>` (prefix
`f1_`), created if missing; the RabbitMQ broker of F1_CELERY_BROKER. What it starts, and stops
when the job ends: MLflow's tracking server with basic auth, and F1_CELERY_WORKERS (2)
`dagster-celery worker`s that run every step of the job's runs (F1_EXECUTOR=celery). Its secrets
come from MLFLOW_AUTH_ADMIN_PASSWORD and MLFLOW_FLASK_SERVER_SECRET_KEY, or are made once and
kept in $F1_DATA_DIR/production/secrets.env.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from f1_core import settings
from f1_production import postgres
from f1_production.celery_worker import CeleryWorker
from f1_production.mlflow_server import MlflowServer
from f1_serving.local import start_together

SECRETS = ("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY")


def server() -> dict:
    """The PostgreSQL server, from Dagster's variables (the ones its dagster.yaml reads)."""
    return {
        "host": os.environ.get("DAGSTER_PG_HOST", postgres.SERVER["host"]),
        "port": int(os.environ.get("DAGSTER_PG_PORT", postgres.SERVER["port"])),
        "user": os.environ.get("DAGSTER_PG_USER", postgres.SERVER["user"]),
        "password": os.environ.get("DAGSTER_PG_PASSWORD", ""),
    }


def databases_for(prefix: str) -> dict[str, str]:
    return {part: f"{prefix}{part}" for part in ("dagster", "warehouse", "mlflow", "mlflow_auth")}


def databases() -> dict[str, str]:
    return databases_for(os.environ.get("F1_PG_DATABASE_PREFIX", "f1_"))


def folder() -> Path:
    """The profile's own files: its warehouse's Parquet files, its secrets, the server's log."""
    return settings.data_dir() / "production"


def load_secrets() -> dict[str, str]:
    """The server's secrets: from the environment, else those made on the first run and kept
    (MLflow sets the admin's password once, when it creates the user: losing it locks us out)."""
    path = folder() / "secrets.env"
    kept = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line) if path.exists() else {}
    made = {name: secrets.token_urlsafe(24) for name in SECRETS if not os.environ.get(name) and not kept.get(name)}
    if made:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            out.write("".join(f"{name}={value}\n" for name, value in (kept | made).items()))
        os.replace(partial, path)  # whole or not at all, private from its first byte
    return {name: os.environ.get(name) or kept.get(name) or made[name] for name in SECRETS}


def environment(pg: dict, names: dict[str, str], mlflow: MlflowServer) -> dict[str, str]:
    """What the job's processes are told: where each store lives."""
    return {
        **os.environ,
        **mlflow.client_env(),
        **postgres.environment(pg),
        "F1_PROFILE": "production",
        "F1_EXECUTOR": "celery",
        "DAGSTER_HOME": str(settings.dagster_home("production")),
        **postgres.dagster_environment(names["dagster"], pg),
        "F1_WAREHOUSE": str(folder() / "warehouse"),
        "F1_WAREHOUSE_CATALOG": f"postgres:{postgres.conninfo(names['warehouse'], pg)}",
    }


def worker_count() -> int:
    value = os.environ.get("F1_CELERY_WORKERS", "2")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"F1_CELERY_WORKERS={value!r}: expected a number of workers, at least 1")
    return int(value)


def run(args: list[str]) -> int:
    """Brings the profile up, runs `f1 run ARGS` on it, and stops what it started."""
    pg, names, count = server(), databases(), worker_count()  # a wrong count fails before anything starts
    for name in (names["dagster"], names["warehouse"]):
        postgres.ensure_database(name, pg)
    secret = load_secrets()
    mlflow = MlflowServer(
        backend_db=names["mlflow"],
        auth_db=names["mlflow_auth"],
        artifacts=folder() / "mlflow-artifacts",
        server=pg,
        admin_password=secret["MLFLOW_AUTH_ADMIN_PASSWORD"],
        secret_key=secret["MLFLOW_FLASK_SERVER_SECRET_KEY"],
        log_path=folder() / "mlflow-server.log",
    )
    print(
        f"production profile: PostgreSQL {pg['host']}:{pg['port']} (databases {', '.join(names.values())}); "
        f"starting MLflow's server and {count} celery worker(s)",
        flush=True,
    )
    env = environment(pg, names, mlflow)
    workers = [
        CeleryWorker(env, name=f"f1-worker-{number}-{os.getpid()}", log_path=folder() / f"celery-worker-{number}.log")
        for number in range(1, count + 1)
    ]
    with ExitStack() as started:
        start_together(started, [mlflow, *workers])
        print(f"MLflow at {mlflow.url} (basic auth; log {mlflow.log_path})", flush=True)
        print(
            f"{count} celery worker(s) on {workers[0].broker.split('@')[-1]} (queue {workers[0].queue}; "
            f"logs {folder()})",
            flush=True,
        )
        f1 = str(Path(sys.executable).with_name("f1"))
        return subprocess.run([f1, "run", *args], env=env).returncode


def main() -> None:
    if sys.argv[1:2] != ["run"]:
        sys.exit("usage: python -m f1_production.profile run [f1 run's options]")
    try:
        sys.exit(run(sys.argv[2:]))
    except ValueError as exc:  # a setting named wrongly: say which, before anything started
        sys.exit(f"production profile: {exc}")


if __name__ == "__main__":
    main()
