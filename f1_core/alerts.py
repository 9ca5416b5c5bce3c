"""Alerts: a log line always, and a JSON POST to a webhook when one is configured
(F1_ALERT_WEBHOOK_URL: Slack, Teams, PagerDuty or any HTTP endpoint that takes JSON)."""

from __future__ import annotations

import json
import logging
import urllib.request

logger = logging.getLogger("f1.alerts")


def send(kind: str, text: str, details: dict, webhook_url: str | None) -> bool:
    """Logs the alert and posts `{"kind", "text", "details"}` to the webhook. Returns whether the
    webhook took it (True with no webhook). A webhook that is down never fails the caller: the
    alert is in the log either way."""
    logger.warning("ALERT %s: %s", kind, text)
    if not webhook_url:
        return True
    body = json.dumps({"kind": kind, "text": text, "details": details}, default=str).encode()
    request = urllib.request.Request(webhook_url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return 200 <= answer.status < 300
    except OSError as exc:
        logger.error("alert webhook %s failed: %s", webhook_url, exc)
        return False
