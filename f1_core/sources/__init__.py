"""Where sessions come from. Every source lists a catalogue and loads a `RawSession`."""

from __future__ import annotations

from typing import Protocol

from f1_core import settings
from f1_core.catalog import SessionRef
from f1_core.errors import UnknownSessionError
from f1_core.raw import RawSession


class SessionSource(Protocol):
    name: str

    def catalog(self, seasons: list[int] | None = None) -> list[SessionRef]: ...

    def load(self, ref: SessionRef) -> RawSession: ...


def build_source(name: str) -> SessionSource:
    """The configured source called `name` (see `f1_core.settings`)."""
    if name == "archive":
        from f1_core.sources.archive import ArchiveSource

        return ArchiveSource(settings.archive_dir())
    if name == "live":
        from f1_core.sources.archive import LiveSource

        return LiveSource(settings.live_dir())
    from f1_core.sources.fastf1_source import FastF1Source

    if name == "fastf1-cache":
        return FastF1Source(
            settings.fastf1_cache_dir(), settings.seasons(name), http_cache=settings.http_cache_dir(), retries=1
        )
    if name == "fastf1":
        return FastF1Source(settings.fastf1_cache_dir(), settings.seasons(name))
    raise ValueError(f"unknown source {name!r}; expected one of {settings.SOURCE_NAMES}")


class SessionCatalog:
    """Every session the configured sources offer, by partition key. The first source listing a
    session wins, so a session in the archive is not loaded again from FastF1."""

    def __init__(self, sources: list[SessionSource]):
        self.sources = sources

    def sessions(self, seasons: list[int] | None = None) -> dict[str, tuple[SessionSource, SessionRef]]:
        found: dict[str, tuple[SessionSource, SessionRef]] = {}
        for source in self.sources:
            for ref in source.catalog(seasons):
                found.setdefault(ref.key, (source, ref))
        return found

    def find(self, key: str) -> tuple[SessionSource, SessionRef]:
        season = key.split("-", 1)[0]
        sessions = self.sessions([int(season)] if season.isdigit() else None)
        if key not in sessions:
            names = ", ".join(source.name for source in self.sources)
            raise UnknownSessionError(f"session {key} is in no configured source's catalogue ({names})")
        return sessions[key]

    def load(self, key: str) -> RawSession:
        source, ref = self.find(key)
        return source.load(ref)
