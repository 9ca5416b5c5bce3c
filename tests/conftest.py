import shutil
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import polars as pl
import psycopg2
import pytest

from f1_core import lake, settings
from f1_core.alerts import AlertReceiver
from f1_core.catalog import session_key
from f1_production import postgres

ARCHIVE = settings.SHARED_F1DATA / "archive"
HTTP_CACHE = settings.SHARED_F1DATA / "livetiming" / "http_cache"
BIN = Path(sys.executable).parent  # the virtual environment's commands (f1, dagster-daemon)
JAPAN_2023 = "2023-16-japanese-grand-prix-race"


def pytest_sessionstart(session):
    if not ARCHIVE.is_dir() or not HTTP_CACHE.is_dir():
        pytest.exit(f"the F1 data must lie at {settings.SHARED_F1DATA} (../shared/f1data)", returncode=2)


# The longest files first: make test's two workers take a file at a time, and a long file taken
# last would keep one worker busy while the other has finished.
SLOWEST_FIRST = [
    "test_production_profile",
    "test_celery",
    "test_closed_loop",
    "test_mlflow_server",
    "test_race_weekend",
    "test_backfill",
    "test_small_run",
    "test_training",
    "test_drift",
]


def pytest_collection_modifyitems(items):
    rank = {name: place for place, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))


@pytest.fixture(scope="session")
def fastf1_cache(tmp_path_factory) -> Path:
    """FastF1's parsed-data cache, shared by the tests so each frozen session is parsed once."""
    return tmp_path_factory.mktemp("fastf1_cache")


@pytest.fixture(scope="session")
def real_session(fastf1_cache):
    """`real_session(key)`: the raw tables of a real session of the archive or of the frozen
    FastF1 responses (parsed by FastF1), loaded once per test run."""
    from f1_core.sources.archive import ArchiveSource
    from f1_core.sources.fastf1_source import FastF1Source

    loaded = {}

    def load(key: str):
        if key not in loaded:
            season = int(key.split("-", 1)[0])
            for source in (
                ArchiveSource(ARCHIVE),
                FastF1Source(fastf1_cache, [season], http_cache=HTTP_CACHE, retries=1),
            ):
                ref = next((r for r in source.catalog([season]) if r.key == key), None)
                if ref is not None:
                    loaded[key] = source.load(ref)
                    break
            else:
                raise KeyError(f"{key} is in neither the archive nor the frozen FastF1 responses")
        return loaded[key]

    return load


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch, fastf1_cache):
    """No test writes into the project's data folder or reads the developer's configuration."""
    monkeypatch.setenv("F1_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("F1_WAREHOUSE", str(tmp_path / "data" / "warehouse"))
    monkeypatch.setenv("F1_FASTF1_CACHE_DIR", str(fastf1_cache))
    for name in (
        "F1_SOURCES",
        "F1_ARCHIVE_DIR",
        "F1_HTTP_CACHE_DIR",
        "F1_SEASONS",
        "F1_ALERT_LOG",
        "F1_WAREHOUSE_CATALOG",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
    ):
        monkeypatch.delenv(name, raising=False)
    yield
    lake.close_all()  # each test's warehouses are its own


def copy_archive(destination: Path, keys: list[str]) -> Path:
    """A private archive holding just these sessions (real data, in a temporary folder), so a test
    can corrupt files without touching ../shared."""
    manifest = pl.read_csv(ARCHIVE / "manifest.csv", infer_schema=False)
    keys_of = {
        session_key(int(r["season"]), int(r["round"]), r["event_name"], r["session"]): r
        for r in manifest.iter_rows(named=True)
    }
    rows = [keys_of[key] for key in keys]
    for row in rows:
        shutil.copytree(ARCHIVE / row["path"], destination / row["path"])
    pl.DataFrame(rows).write_csv(destination / "manifest.csv")
    return destination


@pytest.fixture
def webhook(monkeypatch):
    """An alert webhook on a free local port (F1_ALERT_WEBHOOK_URL points at it)."""
    with AlertReceiver() as receiver:
        monkeypatch.setenv("F1_ALERT_WEBHOOK_URL", receiver.url)
        yield receiver


@dataclass
class Served:
    url: str
    keys: dict[str, str]
    data: Path
    log: Path
    # the version the fixture made champion, with its holdout metrics (a test may promote another)
    version: str

    def post(self, path, body, role="viewer", **kwargs):
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.post(self.url + path, json=body, headers=headers, timeout=30, **kwargs)

    def get(self, path, role=None):
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        return httpx.get(self.url + path, headers=headers, timeout=30)


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """A champion trained on six 2023 races, a key per role, and the service serving it (the
    embedded default: two workers, live session states in each, fed from its live folder)."""
    from f1_core import registry
    from f1_core.api_keys import ROLES, KeyStore
    from f1_core.training import load_warehouse, train_and_evaluate, training_frame
    from f1_serving.local import LocalService
    from tests.test_training import SMALL, fill_warehouse, register

    data = tmp_path_factory.mktemp("serving")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("F1_DATA_DIR", str(data))
        env.setenv("F1_WAREHOUSE", str(data / "warehouse"))
        fill_warehouse(settings.warehouse_path(), rounds=range(1, 7))
        result = train_and_evaluate(training_frame(*load_warehouse(settings.warehouse_path())), SMALL, folds=3)
        version = register(result)
        run_id = registry.client().get_model_version(registry.MODEL_NAME, version).run_id
        registry.client().log_metric(run_id, "holdout_mae_clean", result.metrics["holdout_mae_clean"])
        registry.client().set_tag(run_id, "data_version", "test-data-v1")
        registry.client().set_registered_model_alias(registry.MODEL_NAME, registry.CHAMPION, version)
        keys = {role: KeyStore(settings.api_keys_path()).create(role, f"test {role}")[1] for role in ROLES}
        log = data / "service.log"
        with LocalService({"F1_DATA_DIR": str(data), "F1_SERVING_POLL_SECONDS": "0.5"}, log_path=log) as service:
            yield Served(service.url, keys, data, log, version)


def console_client(url: str, key: str) -> httpx.Client:
    """A client of the console at `url` holding its sign-in cookie for `key` (the caller closes
    it: `with console_client(url, key) as client:`). It signs in before the client is made, so
    the client is still unopened and can enter a `with` block."""
    answer = httpx.post(url + "/api/login", json={"api_key": key}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.cookies, "the sign-in set no cookie"
    return httpx.Client(base_url=url, timeout=30, cookies=answer.cookies)


@pytest.fixture
def signed_in():
    """`signed_in(url, key)`: a `console_client`, closed after the test."""
    clients = []

    def sign_in(url: str, key: str) -> httpx.Client:
        clients.append(console_client(url, key))
        return clients[-1]

    yield sign_in
    for client in clients:
        client.close()


@pytest.fixture
def browser():
    """Debian's Chromium (tests/browser.py), closed after the test."""
    from playwright.sync_api import sync_playwright

    from tests.browser import ARGS, CHROMIUM

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def service(served, monkeypatch):
    """The module's service, with this test's registry calls going to its registry."""
    monkeypatch.setenv("F1_DATA_DIR", str(served.data))
    return served


POSTGRES = postgres.SERVER


@pytest.fixture
def postgres_database():
    """A fresh database, dropped afterwards."""
    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **POSTGRES)
    except psycopg2.OperationalError as exc:
        # CI starts the server: a missing one is a broken setup, not a reason to skip.
        pytest.fail(
            f"PostgreSQL is not reachable at 127.0.0.1:5432 as postgres "
            f"(start it: pg_ctlcluster --skip-systemctl-redirect <version> main start): {exc}"
        )
    admin.close()
    name = f"f1_test_{uuid.uuid4().hex[:12]}"
    postgres.ensure_database(name)
    yield name
    postgres.drop_database(name)  # it ends the connections a test may have left open
