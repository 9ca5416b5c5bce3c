import dagster as dg
from pydantic import Field

from f1_core import settings
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


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"session_source": SessionSourceResource()})
