import dagster as dg
from pydantic import Field

from f1_core import alerts, settings


class AlertResource(dg.ConfigurableResource):
    """Where alerts go: always the log, and the webhook when F1_ALERT_WEBHOOK_URL is set."""

    webhook_url: str | None = Field(default_factory=settings.alert_webhook_url)

    def send(self, kind: str, text: str, details: dict) -> bool:
        return alerts.send(kind, text, details, self.webhook_url)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"alerts": AlertResource()})
