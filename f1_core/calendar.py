"""The F1 calendar: each race weekend's sessions, when they start and end, and from when their
timing data can be ingested. The schedules of a race weekend and the FastF1 source's catalogue
both read it, so a session is due at the same minute everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from f1_core.catalog import SessionRef, slugify

# How long each kind of session runs (FastF1's schedule gives start times only); a red flag can
# make it longer, which the ingestion's retries absorb.
SESSION_LENGTH = {
    "practice": timedelta(minutes=60),
    "qualifying": timedelta(minutes=60),
    "sprint_qualifying": timedelta(minutes=45),
    "sprint": timedelta(minutes=60),
    "race": timedelta(minutes=120),
}
# F1 publishes a session's timing data, which FastF1 reads, some time after the session ends.
PUBLICATION_DELAY = timedelta(minutes=60)
# Data still missing this long after it was due is a failure, no longer "try later".
PUBLISHED_WITHIN = timedelta(hours=6)
# A weekend opens half a day before its first session (the nightly health run of its first
# day) and closes a day after its race is due (retraining, the weekend report, the last health run).
OPENS_BEFORE = timedelta(hours=12)
CLOSES_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class ScheduledSession:
    ref: SessionRef
    start: datetime  # UTC, without a time zone (as FastF1's `Session<n>DateUtc`)

    @property
    def end(self) -> datetime:
        return self.start + SESSION_LENGTH[self.ref.session_type]

    @property
    def due(self) -> datetime:
        """From when its timing data should be published."""
        return self.end + PUBLICATION_DELAY


@dataclass(frozen=True)
class Weekend:
    season: int
    round: int
    event_name: str
    sessions: tuple[ScheduledSession, ...]  # in the order they run

    @property
    def key(self) -> str:
        """`2023-16-japanese-grand-prix`: the prefix of its sessions' partition keys."""
        return f"{self.season}-{self.round:02d}-{slugify(self.event_name)}"

    @property
    def race(self) -> ScheduledSession:
        return next((s for s in self.sessions if s.ref.session_type == "race"), self.sessions[-1])

    @property
    def opens(self) -> datetime:
        return self.sessions[0].start - OPENS_BEFORE

    @property
    def closes(self) -> datetime:
        return self.race.due + CLOSES_AFTER

    def due_sessions(self, now: datetime) -> list[ScheduledSession]:
        return [s for s in self.sessions if s.due <= now]


def weekend_at(weekends: list[Weekend], now: datetime) -> Weekend | None:
    """The weekend under way at `now`, if any."""
    return next((w for w in weekends if w.opens <= now < w.closes), None)


def next_weekend(weekends: list[Weekend], now: datetime) -> Weekend | None:
    return min((w for w in weekends if w.opens > now), key=lambda w: w.opens, default=None)


def describe_next(weekends: list[Weekend], now: datetime) -> str:
    """Why nothing runs now, for a schedule's skip reason."""
    upcoming = next_weekend(weekends, now)
    if upcoming is None:
        return f"no race weekend at {now:%Y-%m-%d %H:%M} UTC and none later in the calendar"
    return (
        f"no race weekend at {now:%Y-%m-%d %H:%M} UTC; next: the {upcoming.season} {upcoming.event_name}, "
        f"first session {upcoming.sessions[0].start:%Y-%m-%d %H:%M} UTC"
    )
