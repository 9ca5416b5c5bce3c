import time

import dagster as dg
from pydantic import Field

from f1_core import settings
from f1_core.calendar import Weekend
from f1_core.sources import SessionCatalog, build_source


class SessionSourceResource(dg.ConfigurableResource):
    """The sources sessions are read from, in order of preference (see `f1_core.settings`)."""

    sources: list[str] = Field(default_factory=settings.source_names)
    # A session whose timing data is not published yet is tried again later, not failed: every
    # 10 minutes, for as long as f1_core.calendar.PUBLISHED_WITHIN lets it be "try later".
    unpublished_retry_seconds: int = 600
    unpublished_retries: int = 36

    def catalog(self) -> SessionCatalog:
        return SessionCatalog([build_source(name) for name in self.sources])

    def weekends(self, season: int) -> list[Weekend]:
        """The season's race weekends, from FastF1's event schedule: the configured FastF1 source's
        (online, or the frozen one offline), else the frozen one when it is there, else online."""
        name = next((n for n in self.sources if n.startswith("fastf1")), None)
        if name is None:
            name = "fastf1-cache" if settings.http_cache_dir().is_dir() else "fastf1"
        fetched_at, weekends = _calendars.get((name, season), (None, None))
        if fetched_at is None or time.monotonic() - fetched_at > CALENDAR_TTL_S:
            weekends = build_source(name).weekends(season)
            _calendars[(name, season)] = (time.monotonic(), weekends)
        return weekends


# The schedules tick every few minutes in one code-server process: a calendar read this recently
# is used again (FastF1 changes its schedule rarely, and never within minutes).
CALENDAR_TTL_S = 600
_calendars: dict[tuple[str, int], tuple[float, list[Weekend]]] = {}


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"session_source": SessionSourceResource()})
