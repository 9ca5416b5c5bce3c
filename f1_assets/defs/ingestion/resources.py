import dagster as dg
from pydantic import Field

from f1_core import settings
from f1_core.sources import SessionCatalog, build_source


class SessionSourceResource(dg.ConfigurableResource):
    """The sources sessions are read from, in order of preference (see `f1_core.settings`)."""

    sources: list[str] = Field(default_factory=settings.source_names)

    def catalog(self) -> SessionCatalog:
        return SessionCatalog([build_source(name) for name in self.sources])


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"session_source": SessionSourceResource()})
