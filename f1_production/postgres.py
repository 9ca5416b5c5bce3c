"""The PostgreSQL databases the production profile keeps its state in."""

from __future__ import annotations

from contextlib import closing

SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def _admin(server: dict | None):
    import psycopg2

    admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **(server or SERVER))
    admin.autocommit = True  # CREATE and DROP DATABASE cannot run in a transaction
    return closing(admin)


def ensure_database(name: str, server: dict | None = None) -> None:
    """Creates the database `name` on the server unless it exists."""
    with _admin(server) as admin, admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str, server: dict | None = None) -> None:
    """Drops the database `name` if it exists, ending the connections still open to it."""
    with _admin(server) as admin, admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def url(name: str, server: dict | None = None) -> str:
    """The SQLAlchemy URL of database `name` (MLflow's stores take these), without the password:
    a process gets that as PGPASSWORD (`environment`), never on a command line others can read."""
    server = server or SERVER
    return f"postgresql://{server['user']}@{server['host']}:{server['port']}/{name}"


def conninfo(name: str, server: dict | None = None) -> str:
    """The libpq connection string of database `name` (DuckDB's postgres extension), no password."""
    server = server or SERVER
    return f"dbname={name} host={server['host']} port={server['port']} user={server['user']}"


def environment(server: dict | None = None) -> dict[str, str]:
    """PGPASSWORD for libpq and psycopg2, when the server has a password."""
    server = server or SERVER
    return {"PGPASSWORD": server["password"]} if server.get("password") else {}


def dagster_environment(name: str, server: dict | None = None) -> dict[str, str]:
    """The variables dagster_home/postgres/dagster.yaml reads, for database `name` on `server`."""
    server = {**SERVER, "password": "", **(server or {})}
    return {
        "DAGSTER_PG_HOST": server["host"],
        "DAGSTER_PG_PORT": str(server["port"]),
        "DAGSTER_PG_USER": server["user"],
        "DAGSTER_PG_PASSWORD": server["password"],
        "DAGSTER_PG_DB": name,
    }
