"""Alerts: a log line always, a line in the alert log (F1_ALERT_LOG, JSON lines, append-only: what
the console's alert timeline reads), and a JSON POST to a webhook when one is configured
(F1_ALERT_WEBHOOK_URL: Slack, Teams, PagerDuty or any HTTP endpoint that takes JSON)."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from f1_core import settings

logger = logging.getLogger("f1.alerts")


def send(kind: str, text: str, details: dict, webhook_url: str | None, log_path: Path | None = None) -> bool:
    """Logs the alert, appends it to the alert log (`log_path`, default F1_ALERT_LOG) and posts
    `{"kind", "text", "details"}` to the webhook. Returns whether the webhook took it (True with
    no webhook). Neither a webhook that is down nor an alert log that cannot be written fails the
    caller: the alert is in the process's log either way."""
    logger.warning("ALERT %s: %s", kind, text)
    at = datetime.now(UTC).isoformat()
    try:
        append_log(log_path, {"at": at, "kind": kind, "text": text, "details": details})
    except (OSError, TypeError, ValueError) as exc:
        logger.error("alert log %s could not be written: %s", log_path or "(F1_ALERT_LOG)", exc)
    if not webhook_url:
        return True
    body = json.dumps({"kind": kind, "text": text, "details": details}, default=str).encode()
    request = urllib.request.Request(
        webhook_url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return 200 <= answer.status < 300
    except OSError as exc:
        logger.error("alert webhook %s failed: %s", webhook_url, exc)
        return False


def append_log(path: Path | None, record: dict) -> None:
    """Appends one JSON line. Several processes send alerts (Dagster runs, sensors): each line goes
    in one write to a file opened O_APPEND, under an exclusive flock, so lines never interleave;
    a line torn by a writer that died mid-write is ended first, so the next one stays whole."""
    path = Path(path) if path is not None else settings.alert_log_path()
    line = (json.dumps(record, default=str, ensure_ascii=False) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)  # read: the last byte
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line
        while line:
            line = line[os.write(fd, line) :]
    finally:
        os.close(fd)  # releases the lock


@dataclass
class AlertLog:
    alerts: list[dict] = field(default_factory=list)  # oldest first, each {"at", "kind", "text", "details"}
    skipped: int = 0  # lines that were not an alert (torn by a writer that died, or edited by hand)


def read_log(path: Path) -> AlertLog:
    """The alerts in the log, in the order they were sent; a missing log is an empty one. A line
    that is not a whole alert is skipped and counted."""
    log = AlertLog()
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return log
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            datetime.fromisoformat(record["at"])
            if not isinstance(record["kind"], str) or not isinstance(record.get("details", {}), dict):
                raise TypeError("kind must be a string and details an object")
        except (ValueError, TypeError, KeyError, UnicodeDecodeError):
            log.skipped += 1
            continue
        log.alerts.append(
            {
                "at": record["at"],
                "kind": record["kind"],
                "text": str(record.get("text", "")),
                "details": record.get("details") or {},
            }
        )
    return log


class AlertReceiver:
    """A webhook on a free local port that keeps what it receives, to try the hook locally (the
    tests and benchmarks use it): `with AlertReceiver() as hook:` then point F1_ALERT_WEBHOOK_URL
    at `hook.url`. `received` holds (arrival time, perf_counter seconds; JSON body)."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict]] = []
        self.url = ""
        self._server = None

    def start(self) -> AlertReceiver:
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

    def __enter__(self) -> AlertReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def bodies(self) -> list[dict]:
        return [body for _, body in self.received]

    def arrival(self, session_key: str) -> float | None:
        """When the first alert about `session_key` arrived, None if none has."""
        return next((t for t, body in self.received if body["details"].get("session_key") == session_key), None)
