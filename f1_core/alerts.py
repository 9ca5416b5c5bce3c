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


class AlertReceiver:
    """A webhook on a free local port that keeps what it receives, to try the hook locally (the
    tests and benchmarks use it): `with AlertReceiver() as hook:` then point F1_ALERT_WEBHOOK_URL
    at `hook.url`. `received` holds (arrival time, perf_counter seconds; JSON body)."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict]] = []
        self.url = ""
        self._server = None

    def start(self) -> "AlertReceiver":
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, HTTPServer

        received = self.received

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append((time.perf_counter(), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = HTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/alerts"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "AlertReceiver":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def bodies(self) -> list[dict]:
        return [body for _, body in self.received]

    def arrival(self, session_key: str) -> float | None:
        """When the first alert about `session_key` arrived, None if none has."""
        return next((t for t, body in self.received if body["details"].get("session_key") == session_key), None)
