from datetime import UTC, datetime

import dagster as dg

from f1_assets.defs.ingestion.resources import SessionSourceResource
from f1_core.calendar import Weekend, weekend_at


class CalendarClock(dg.Config):
    """The moment a race-weekend run judges (UTC, ISO 8601, e.g. 2023-09-24T08:00); empty: now.
    The schedules pass their tick's time, so a run judges the minute it was asked for."""

    at: str = ""

    def now(self) -> datetime:
        if not self.at:
            return datetime.now(UTC).replace(tzinfo=None)
        moment = datetime.fromisoformat(self.at)
        return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def weekend_now(clock: CalendarClock, session_source: SessionSourceResource) -> tuple[datetime, Weekend | None]:
    now = clock.now()
    return now, weekend_at(session_source.weekends(now.year), now)
