"""FastF1Source online (`http_cache=None`) without the internet: a fake internet answers at the
transport (`requests.adapters.HTTPAdapter.send`, under requests-cache and FastF1's rate-limited
session) from the frozen live-timing responses, and can be switched off for the next N requests.

Everything above the transport is the real thing: FastF1's requests cache (a fresh sqlite cache in
`tmp_path`, so nothing is answered from an earlier test), its rate limiter, its parsers and the
retry, availability and error rules of FastF1Source.
"""

from __future__ import annotations

import copy
import io
import logging
import re
from datetime import date, datetime
from pathlib import Path

import pytest
import requests
import urllib3
from requests.adapters import HTTPAdapter

import f1_core.sources.fastf1_source as fastf1_source
from f1_core import settings
from f1_core.catalog import SessionRef
from f1_core.errors import SessionNotAvailableError, SourceUnavailableError
from f1_core.raw import LAP_COLUMNS, WEATHER_COLUMNS
from f1_core.sources.fastf1_source import FastF1Source

HTTP_CACHE = settings.SHARED_F1DATA / "livetiming" / "http_cache"
NOW = datetime(2026, 11, 25)
RETRIES = 3
BACKOFF = 0.01

MONZA_FP2 = "2021-14-italian-grand-prix-practice-2"
MONZA_FP2_PATH = "/static/2021/2021-09-12_Italian_Grand_Prix/2021-09-11_Practice_2/"
# FastF1 3.9 loading one session (laps, weather, messages; schedule already fetched), in order.
MONZA_FP2_REQUESTS = [
    f"https://livetiming.formula1.com{MONZA_FP2_PATH}SessionInfo.jsonStream",
    f"https://livetiming.formula1.com{MONZA_FP2_PATH}DriverList.jsonStream",
    "https://api.jolpi.ca/ergast/f1/2021/14/results.json",
    f"https://livetiming.formula1.com{MONZA_FP2_PATH}SessionStatus.jsonStream",
    f"https://livetiming.formula1.com{MONZA_FP2_PATH}TrackStatus.jsonStream",
    f"https://livetiming.formula1.com{MONZA_FP2_PATH}TimingData.jsonStream",
    f"https://livetiming.formula1.com{MONZA_FP2_PATH}TimingAppData.jsonStream",
    f"https://livetiming.formula1.com{MONZA_FP2_PATH}WeatherData.jsonStream",
    f"https://livetiming.formula1.com{MONZA_FP2_PATH}RaceControlMessages.jsonStream",
]
TIMING_DATA = MONZA_FP2_REQUESTS[5]
MONZA_FP2_LAPS = 482
MONZA_FP2_WEATHER_ROWS = 79
SCHEDULE_URL = "https://raw.githubusercontent.com/theOehrly/f1schedule/master/schedule_{}.json"


class FakeInternet:
    """Answers every request from the frozen store (404 when it has no response for the URL)."""

    def __init__(self, store_dir: Path):
        from requests_cache.backends.filesystem import FileCache

        self.store = FileCache(str(store_dir))
        self.served: list[str] = []  # answered, in order (200 or 404)
        self.refused: list[str] = []  # hit a network failure, in order
        self._failures_left = 0
        self._failure: Exception | None = None

    def fail_next(self, count: int, error: type[Exception] = requests.exceptions.ConnectionError):
        """The next `count` requests fail with `error` (a connection error: the network is down)."""
        self._failures_left = count
        self._failure = error

    @property
    def requests(self) -> list[str]:
        return self.served + self.refused

    def reset(self) -> None:
        self.served.clear()
        self.refused.clear()

    def send(self, adapter: HTTPAdapter, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        if self._failures_left > 0:
            self._failures_left -= 1
            self.refused.append(request.url)
            raise self._failure(f"fake internet: network down for {request.url}", request=request)
        self.served.append(request.url)
        key = self.store.create_key(request, verify=kwargs.get("verify", True))
        cached = self.store.get_response(key)
        if cached is None:
            raw = urllib3.HTTPResponse(
                body=io.BytesIO(b"Not Found"),
                status=404,
                reason="Not Found",
                headers={"Content-Type": "text/plain"},
                preload_content=False,
                request_url=request.url,
            )
            return adapter.build_response(request, raw)
        body = cached.content
        # The stored body is already decoded; drop what described it on the wire.
        headers = {
            name: value
            for name, value in cached.headers.items()
            if name.lower() not in ("content-encoding", "transfer-encoding", "content-length")
        }
        headers["Content-Length"] = str(len(body))
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(body),
            status=cached.status_code,
            reason=cached.reason,
            headers=headers,
            preload_content=False,
            decode_content=False,
            request_url=request.url,
        )
        return adapter.build_response(request, raw)


@pytest.fixture
def internet(monkeypatch):
    """The fake internet, with FastF1's global state put back afterwards."""
    import fastf1
    from fastf1.internals.f1account.transport import LivetimingAuthAdapter
    from fastf1.req import _SessionWithRateLimiting

    fake = FakeInternet(HTTP_CACHE)
    monkeypatch.setattr(HTTPAdapter, "send", lambda adapter, request, **kwargs: fake.send(adapter, request, **kwargs))
    # No F1 account sign-in (it would prompt, or read a token from the user's data folder).
    monkeypatch.setattr(LivetimingAuthAdapter, "_get_token", lambda self: None)
    # FastF1's real rate limits, but fresh ones: they are class state and count every request.
    monkeypatch.setattr(_SessionWithRateLimiting, "_RATE_LIMITS", copy.deepcopy(_SessionWithRateLimiting._RATE_LIMITS))
    # FastF1's cache configuration is class state too: snapshot it, restored by monkeypatch.
    original_session = fastf1.Cache._requests_session_cached
    for name in ("_CACHE_DIR", "_IGNORE_VERSION", "_FORCE_RENEW", "_requests_session_cached"):
        monkeypatch.setattr(fastf1.Cache, name, getattr(fastf1.Cache, name))
    fastf1_source._configured = None  # make the source under test configure FastF1 for itself
    yield fake
    if fastf1.Cache._requests_session_cached not in (None, original_session):
        fastf1.Cache._requests_session_cached.close()  # the sqlite cache in tmp_path
    # Whatever the next source is, it configures FastF1 again.
    fastf1_source._configured = None


@pytest.fixture
def source(tmp_path, internet):
    return FastF1Source(
        tmp_path / "fastf1",
        [2021, 2023, 2026],
        http_cache=None,
        retries=RETRIES,
        backoff_seconds=BACKOFF,
        clock=lambda: NOW,
    )


def _ref(source: FastF1Source, key: str):
    season = int(key.split("-", 1)[0])
    refs = {ref.key: ref for ref in source.catalog([season])}
    assert key in refs, f"{key} not in the {season} catalogue"
    return refs[key]


def _retry_warnings(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "f1_core.sources.fastf1_source" and "failed" in record.getMessage()
    ]


def test_online_load_is_served_over_the_network(source, internet, tmp_path):
    ref = _ref(source, MONZA_FP2)
    assert ref.locator == "2021/14/Practice 2"
    assert internet.requests == [SCHEDULE_URL.format(2021)]
    internet.reset()

    raw = source.load(ref)

    assert internet.served == MONZA_FP2_REQUESTS
    assert internet.refused == []
    assert raw.ref == ref
    assert raw.laps.height == MONZA_FP2_LAPS
    assert set(LAP_COLUMNS) <= set(raw.laps.columns)
    assert raw.laps["Driver"].n_unique() == 20
    assert raw.weather is not None and raw.weather.height == MONZA_FP2_WEATHER_ROWS
    assert set(WEATHER_COLUMNS) <= set(raw.weather.columns)
    assert raw.laps_path == f"fastf1:{MONZA_FP2_PATH}laps"
    assert raw.weather_path == f"fastf1:{MONZA_FP2_PATH}weather"
    # FastF1 kept what it downloaded: its http cache sits in the source's cache_dir.
    assert (tmp_path / "fastf1" / "fastf1_http_cache.sqlite").is_file()

    # Online and over the frozen cache is one code path: the same responses, the same table.
    offline = FastF1Source(tmp_path / "offline", [2021], http_cache=HTTP_CACHE, retries=1)
    internet.reset()
    assert offline.load(ref).data_version == raw.data_version
    assert internet.requests == []  # offline mode never reaches the transport


def test_transient_network_failure_is_retried(source, internet, caplog):
    ref = _ref(source, MONZA_FP2)
    internet.reset()
    # Down for the whole first attempt: FastF1 swallows each failure and returns no laps.
    internet.fail_next(len(MONZA_FP2_REQUESTS) - 1)  # TimingAppData is not asked for without timing data

    with caplog.at_level(logging.WARNING, logger="f1_core.sources.fastf1_source"):
        raw = source.load(ref)

    assert raw.laps.height == MONZA_FP2_LAPS
    assert TIMING_DATA in internet.refused
    assert internet.requests.count(TIMING_DATA) == 2  # refused in attempt 1, served in attempt 2
    warnings = _retry_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"session {MONZA_FP2}: attempt 1 failed")
    assert "Failed to load timing data!" in warnings[0]


def test_network_down_gives_up_after_every_retry(source, internet, caplog):
    ref = _ref(source, MONZA_FP2)
    internet.reset()
    internet.fail_next(10_000)

    with caplog.at_level(logging.WARNING, logger="f1_core.sources.fastf1_source"):
        with pytest.raises(SourceUnavailableError) as failure:
            source.load(ref)

    message = str(failure.value)
    assert message.startswith(f"session {MONZA_FP2}: no lap data after {RETRIES} attempts")
    assert "Failed to load timing data!" in message
    assert internet.served == []
    assert internet.refused.count(TIMING_DATA) == RETRIES  # one try per attempt, no more
    warnings = _retry_warnings(caplog)
    assert [w.split(" (")[0] for w in warnings] == [
        f"session {MONZA_FP2}: attempt {n} failed" for n in range(1, RETRIES)
    ]


def test_network_down_before_the_schedule_is_source_unavailable(source, internet):
    internet.fail_next(10_000)

    with pytest.raises(SourceUnavailableError, match=r"^season 2021: FastF1 could not load the 2021 event schedule"):
        source.catalog([2021])
    refused = len(internet.refused)
    assert refused == 3  # FastF1's three schedule backends, each tried once

    # As the catalogue would list it; no schedule has been downloaded in this test.
    ref = SessionRef(
        season=2021,
        round=14,
        event_name="Italian Grand Prix",
        session_name="Practice 2",
        event_date=date(2021, 9, 12),
        location="Monza",
        country="Italy",
        circuit_ref="monza",
        source="fastf1",
        locator="2021/14/Practice 2",
    )
    assert ref.key == MONZA_FP2
    with pytest.raises(SourceUnavailableError, match=rf"^session {MONZA_FP2}: FastF1 could not load"):
        source.load(ref)
    assert len(internet.refused) == 2 * refused
    assert internet.served == []


@pytest.mark.parametrize(
    ("key", "now", "starts"),
    [
        # Qatar 2026: the race is four days after the clock.
        ("2026-22-qatar-grand-prix-race", NOW, "2026-11-29 16:00"),
        # Las Vegas 2026: the race ended, but its data is not published three hours after the start.
        ("2026-21-las-vegas-grand-prix-race", datetime(2026, 11, 22, 6, 30), "2026-11-22 04:00"),
    ],
)
def test_session_not_available_yet(tmp_path, internet, key, now, starts):
    clock = [datetime(2027, 1, 1)]  # lists the whole season
    source = FastF1Source(
        tmp_path / "fastf1", [2026], http_cache=None, retries=RETRIES, backoff_seconds=BACKOFF, clock=lambda: clock[0]
    )
    ref = _ref(source, key)
    internet.reset()
    clock[0] = now

    with pytest.raises(SessionNotAvailableError) as failure:
        source.load(ref)

    assert failure.value.session_key == key
    assert str(failure.value).startswith(f"session {key} is not available yet: it starts {starts} UTC")
    assert internet.requests == []  # the schedule was cached; no timing data was asked for
    assert key not in {r.key for r in source.catalog([2026])}


def test_catalog_lists_only_published_sessions(tmp_path, internet):
    clock = [datetime(2023, 5, 1)]
    source = FastF1Source(tmp_path / "fastf1", [2023], http_cache=None, clock=lambda: clock[0])

    keys = [ref.key for ref in source.catalog([2023])]

    assert internet.requests == [SCHEDULE_URL.format(2023)]
    assert len(keys) == 20  # rounds 1-4, five sessions each
    assert {int(key.split("-")[1]) for key in keys} == {1, 2, 3, 4}
    assert [key for key in keys if "azerbaijan" in key] == [
        "2023-04-azerbaijan-grand-prix-practice-1",
        "2023-04-azerbaijan-grand-prix-qualifying",
        "2023-04-azerbaijan-grand-prix-sprint-shootout",
        "2023-04-azerbaijan-grand-prix-sprint",
        "2023-04-azerbaijan-grand-prix-race",
    ]
    assert not any("miami" in key for key in keys)

    # The Baku race started 11:00 UTC on April 30: listed three hours later, not before.
    clock[0] = datetime(2023, 4, 30, 13, 59)
    assert "2023-04-azerbaijan-grand-prix-race" not in {r.key for r in source.catalog([2023])}
    clock[0] = datetime(2023, 4, 30, 14, 1)
    assert "2023-04-azerbaijan-grand-prix-race" in {r.key for r in source.catalog([2023])}


def _strict_rate_limit(monkeypatch, info: str):
    """FastF1's own hard limiter, set so the next request to any API exceeds it."""
    from fastf1.req import _CallsPerIntervalLimitRaise, _SessionWithRateLimiting

    monkeypatch.setattr(
        _SessionWithRateLimiting,
        "_RATE_LIMITS",
        {re.compile(r"^https?://.+\..+"): [_CallsPerIntervalLimitRaise(1, 60 * 60, info)]},
    )


def test_rate_limit_is_source_unavailable_without_retries(source, internet, monkeypatch, caplog):
    ref = _ref(source, MONZA_FP2)
    internet.reset()
    _strict_rate_limit(monkeypatch, "any API: 1 call/h (test)")

    with caplog.at_level(logging.WARNING, logger="f1_core.sources.fastf1_source"):
        with pytest.raises(SourceUnavailableError) as failure:
            source.load(ref)

    assert str(failure.value) == (
        f"session {MONZA_FP2}: FastF1's API rate limit reached (any API: 1 call/h (test)); try again in an hour"
    )
    assert internet.requests == []  # FastF1 stopped the request before it left
    assert _retry_warnings(caplog) == []


def test_rate_limit_on_the_schedule_is_source_unavailable(source, internet, monkeypatch):
    _strict_rate_limit(monkeypatch, "any API: 1 call/h (test)")

    with pytest.raises(SourceUnavailableError, match=r"^season 2023: FastF1's API rate limit reached"):
        source.catalog([2023])
    assert internet.requests == []


def test_missing_timing_data_soon_after_the_session_is_not_published_yet(tmp_path, internet):
    """Monza FP2 2021 starts 10:00 UTC on 11 September: due from 12:00 (an hour's session, an
    hour's publication delay). No timing data until 18:00 is "try later"; after that, a failure."""
    clock = [datetime(2021, 9, 11, 12, 30)]
    source = FastF1Source(
        tmp_path / "fastf1", [2021], http_cache=None, retries=RETRIES, backoff_seconds=BACKOFF, clock=lambda: clock[0]
    )
    ref = _ref(source, MONZA_FP2)
    internet.fail_next(10_000)
    with pytest.raises(SessionNotAvailableError, match="due from 2021-09-11 12:00 UTC, is not published yet"):
        source.load(ref)
    assert internet.refused.count(TIMING_DATA) == 1  # no backoff retries: the schedule tries later

    clock[0] = datetime(2021, 9, 11, 18, 1)
    internet.reset()
    internet.fail_next(10_000)
    with pytest.raises(SourceUnavailableError, match=f"no lap data after {RETRIES} attempts"):
        source.load(ref)


def test_a_session_not_published_yet_is_tried_again_by_its_run_not_failed(tmp_path, internet, monkeypatch):
    """The ingestion job meets "not published yet" (Monza FP2, half an hour after it was due, the
    network refusing its first attempt): raw_session asks Dagster to retry instead of failing, and
    the retry ingests the session."""
    import dagster as dg

    from f1_assets.definitions import defs as load_defs
    from f1_assets.defs.ingestion import resources

    source = FastF1Source(
        tmp_path / "fastf1",
        [2021],
        http_cache=None,
        retries=RETRIES,
        backoff_seconds=BACKOFF,
        clock=lambda: datetime(2021, 9, 11, 12, 30),
    )
    _ref(source, MONZA_FP2)  # the schedule, now in FastF1's cache
    # the resource builds its sources by name; this one carries the test's clock
    monkeypatch.setattr(resources, "build_source", lambda name: source)
    internet.reset()
    internet.fail_next(len(MONZA_FP2_REQUESTS) - 1)
    run_config = {"resources": {"session_source": {"config": {"sources": ["fastf1"], "unpublished_retry_seconds": 0}}}}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("sessions", [MONZA_FP2])
        job = load_defs().resolve_job_def("ingest_session_job")
        result = job.execute_in_process(
            partition_key=MONZA_FP2, instance=instance, run_config=run_config, raise_on_error=False
        )
    assert result.success
    raw_events = [e.event_type_value for e in result.events_for_node("raw_session")]
    assert raw_events.count("STEP_UP_FOR_RETRY") == 1 and "STEP_FAILURE" not in raw_events
    assert raw_events.count("STEP_RESTARTED") == 1
    assert result.output_for_node("raw_session").laps.height == MONZA_FP2_LAPS
