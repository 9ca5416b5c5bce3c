import shutil
from pathlib import Path

import polars as pl
import pytest

from f1_core import settings
from f1_core.alerts import AlertReceiver
from f1_core.catalog import session_key

ARCHIVE = settings.SHARED_F1DATA / "archive"
HTTP_CACHE = settings.SHARED_F1DATA / "livetiming" / "http_cache"
JAPAN_2023 = "2023-16-japanese-grand-prix-race"


def pytest_sessionstart(session):
    if not ARCHIVE.is_dir() or not HTTP_CACHE.is_dir():
        pytest.exit(f"the F1 data must lie at {settings.SHARED_F1DATA} (../shared/f1data)", returncode=2)


@pytest.fixture(scope="session")
def fastf1_cache(tmp_path_factory) -> Path:
    """FastF1's parsed-data cache, shared by the tests so each frozen session is parsed once."""
    return tmp_path_factory.mktemp("fastf1_cache")


@pytest.fixture(autouse=True)
def isolated_data(tmp_path, monkeypatch, fastf1_cache):
    """No test writes into the project's data folder or reads the developer's configuration."""
    monkeypatch.setenv("F1_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("F1_WAREHOUSE", str(tmp_path / "data" / "warehouse.duckdb"))
    monkeypatch.setenv("F1_FASTF1_CACHE_DIR", str(fastf1_cache))
    for name in ("F1_SOURCES", "F1_ARCHIVE_DIR", "F1_HTTP_CACHE_DIR", "F1_SEASONS"):
        monkeypatch.delenv(name, raising=False)


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
