"""Where things live and which sources feed the pipeline: configuration, read from the environment.

| variable              | default                                                      |
|-----------------------|--------------------------------------------------------------|
| F1_DATA_DIR           | <project>/data                                               |
| F1_WAREHOUSE          | $F1_DATA_DIR/warehouse (a DuckLake: Parquet files, SQLite catalog) |
| F1_WAREHOUSE_CATALOG  | unset: $F1_WAREHOUSE/catalog.sqlite; postgres:<libpq conninfo> for a server |
| F1_SOURCES            | live,archive,fastf1-cache when ../shared/f1data exists, else live,fastf1 |
| F1_LIVE_DIR           | $F1_DATA_DIR/live (sessions landing lap by lap, archive layout) |
| F1_ARCHIVE_DIR        | ../shared/f1data/archive                                     |
| F1_HTTP_CACHE_DIR     | ../shared/f1data/livetiming/http_cache                       |
| F1_FASTF1_CACHE_DIR   | $F1_DATA_DIR/fastf1_cache                                    |
| F1_SEASONS            | fastf1: the current season; fastf1-cache: 2018-2026          |
| MLFLOW_TRACKING_URI   | sqlite:///$F1_DATA_DIR/mlflow.db (artifacts: $F1_DATA_DIR/mlartifacts); http://... |
| F1_PROFILE            | default (dagster_home); postgres (dagster_home/postgres); production (f1_production.profile) |
| F1_API_KEYS           | $F1_DATA_DIR/api_keys.json (hashed keys of the service)     |
| F1_DRIFT_REPORTS      | $F1_DATA_DIR/drift_reports (Evidently HTML, one per session)  |
| F1_ALERT_WEBHOOK_URL  | unset: alerts go to the log only; else POSTed there as JSON |
| F1_ALERT_LOG          | $F1_DATA_DIR/alerts.jsonl (every alert sent, one JSON line each) |
| F1_PREDICTION_LOG     | $F1_DATA_DIR/prediction_log (the service's JSON-lines log)   |
| F1_ONLINE_STORE       | memory (each service worker keeps live session states); redis://host:port/db |
| F1_ONLINE_STORE_PREFIX | f1:live: (the Redis keys' prefix)                           |
| F1_LIVE_STATE_TTL_S   | 21600: a live session's state expires 6 h after its last row landed |
| F1_LIVE_FEED          | 1: the service reads $F1_LIVE_DIR into the store; 0: it only reads the store |
| F1_EXECUTOR           | in_process (a run's steps in its own process); celery (on `dagster-celery worker`s) |
| F1_CELERY_BROKER      | pyamqp://guest:guest@127.0.0.1:5672// (RabbitMQ)             |
| F1_CELERY_QUEUE       | dagster (the queue the workers take steps from)              |
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_F1DATA = PROJECT_ROOT.parent / "shared" / "f1data"
SOURCE_NAMES = ("live", "archive", "fastf1-cache", "fastf1")


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def data_dir() -> Path:
    return _env_path("F1_DATA_DIR", PROJECT_ROOT / "data")


def warehouse_path() -> Path:
    return _env_path("F1_WAREHOUSE", data_dir() / "warehouse")


def warehouse_catalog() -> str | None:
    """A DuckLake catalog other than the warehouse folder's SQLite file, e.g. `postgres:dbname=...`."""
    return os.environ.get("F1_WAREHOUSE_CATALOG") or None


def archive_dir() -> Path:
    return _env_path("F1_ARCHIVE_DIR", SHARED_F1DATA / "archive")


def http_cache_dir() -> Path:
    return _env_path("F1_HTTP_CACHE_DIR", SHARED_F1DATA / "livetiming" / "http_cache")


def fastf1_cache_dir() -> Path:
    return _env_path("F1_FASTF1_CACHE_DIR", data_dir() / "fastf1_cache")


def source_names() -> list[str]:
    value = os.environ.get("F1_SOURCES")
    if value is None:
        return ["live", "archive", "fastf1-cache"] if SHARED_F1DATA.is_dir() else ["live", "fastf1"]
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SOURCE_NAMES]
    if unknown or not names:
        raise ValueError(f"F1_SOURCES={value!r}: each source must be one of {', '.join(SOURCE_NAMES)}")
    return names


def parse_seasons(value: str) -> list[int]:
    """`2023`, `2018-2026` or `2019,2021-2023`."""
    seasons: list[int] = []
    try:
        for part in value.split(","):
            first, _, last = part.strip().partition("-")
            seasons.extend(range(int(first), int(last or first) + 1))
    except ValueError:
        raise ValueError(f"F1_SEASONS={value!r}: expected years such as 2023, 2018-2026 or 2019,2021") from None
    return seasons


def seasons(source: str) -> list[int]:
    value = os.environ.get("F1_SEASONS")
    if value:
        return parse_seasons(value)
    return list(range(2018, 2027)) if source == "fastf1-cache" else [date.today().year]


# The Dagster instance profiles: `default` keeps everything in SQLite, `postgres` is production.
PROFILES = {"default": "dagster_home", "postgres": "dagster_home/postgres", "production": "dagster_home/postgres"}


def dagster_home(profile: str | None = None) -> Path:
    """The DAGSTER_HOME folder of `profile` (default: $F1_PROFILE, else `default`)."""
    name = profile or os.environ.get("F1_PROFILE") or "default"
    if name not in PROFILES:
        raise ValueError(f"F1_PROFILE={name!r}: expected one of {', '.join(PROFILES)}")
    return PROJECT_ROOT / PROFILES[name]


def mlflow_tracking_uri() -> str:
    """MLflow's own variable, so `mlflow ui` and every MLflow client see the same registry; a server
    with basic auth also takes MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD."""
    if os.environ.get("F1_MLFLOW_TRACKING_URI"):  # its old name: ignored, it would train elsewhere
        raise ValueError("F1_MLFLOW_TRACKING_URI is no longer read: set MLFLOW_TRACKING_URI instead")
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{data_dir() / 'mlflow.db'}"


def mlflow_artifacts_dir() -> Path:
    return data_dir() / "mlartifacts"


def api_keys_path() -> Path:
    return _env_path("F1_API_KEYS", data_dir() / "api_keys.json")


def prediction_log_dir() -> Path:
    return _env_path("F1_PREDICTION_LOG", data_dir() / "prediction_log")


def drift_reports_dir() -> Path:
    return _env_path("F1_DRIFT_REPORTS", data_dir() / "drift_reports")


def alert_webhook_url() -> str | None:
    return os.environ.get("F1_ALERT_WEBHOOK_URL") or None


def alert_log_path() -> Path:
    return _env_path("F1_ALERT_LOG", data_dir() / "alerts.jsonl")


def live_dir() -> Path:
    return _env_path("F1_LIVE_DIR", data_dir() / "live")


def online_store_url() -> str:
    return os.environ.get("F1_ONLINE_STORE") or "memory"


def online_store_prefix() -> str:
    return os.environ.get("F1_ONLINE_STORE_PREFIX") or "f1:live:"


def live_state_ttl_s() -> float:
    value = os.environ.get("F1_LIVE_STATE_TTL_S")
    if not value:
        return 6 * 3600.0
    try:
        ttl = float(value)
    except ValueError:
        ttl = -1.0
    if ttl <= 0:
        raise ValueError(f"F1_LIVE_STATE_TTL_S={value!r}: expected a number of seconds above 0")
    return ttl


def live_feed_enabled() -> bool:
    value = os.environ.get("F1_LIVE_FEED", "1").strip().lower()
    if value not in ("0", "1", "true", "false", "yes", "no"):
        raise ValueError(f"F1_LIVE_FEED={value!r}: expected 1 or 0")
    return value in ("1", "true", "yes")


def open_online_store():
    """The configured online store (`f1_core.online_store`)."""
    from f1_core.online_store import open_store

    return open_store(online_store_url(), ttl_s=live_state_ttl_s(), prefix=online_store_prefix())


EXECUTORS = ("in_process", "celery")


def executor() -> str:
    """How a run executes its steps: in its own process, or as tasks on celery workers."""
    value = os.environ.get("F1_EXECUTOR") or "in_process"
    if value not in EXECUTORS:
        raise ValueError(f"F1_EXECUTOR={value!r}: expected one of {', '.join(EXECUTORS)}")
    return value


def celery_broker() -> str:
    return os.environ.get("F1_CELERY_BROKER") or "pyamqp://guest:guest@127.0.0.1:5672//"


def celery_queue() -> str:
    return os.environ.get("F1_CELERY_QUEUE") or "dagster"
