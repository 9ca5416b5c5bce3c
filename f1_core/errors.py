"""Errors a user can act on: each names the session and, where it applies, the file and column."""


class IngestionError(Exception):
    """Base class for every failure to ingest a session."""


class SessionReadError(IngestionError):
    """A session's source exists but cannot be read as FastF1 lap data."""

    def __init__(self, session_key: str, path: str, reason: str, column: str | None = None):
        self.session_key = session_key
        self.path = path
        self.column = column
        self.reason = reason
        where = f"{path}, column {column!r}" if column else path
        super().__init__(f"session {session_key}: cannot read {where}: {reason}")


class SessionNotAvailableError(IngestionError):
    """The session has not happened yet, or its timing data is not published yet."""

    def __init__(self, session_key: str, reason: str):
        self.session_key = session_key
        self.reason = reason
        super().__init__(f"session {session_key} is not available yet: {reason}")


class SourceUnavailableError(IngestionError):
    """The source could not be reached after every retry (network down, server errors)."""


class UnknownSessionError(IngestionError):
    """A partition key that no configured source lists in its catalogue."""
