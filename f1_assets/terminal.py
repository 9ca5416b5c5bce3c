"""What `f1 run` shows besides its own lines: a long step's progress as one line redrawn in place
(on a terminal only: a log file keeps just the step's summary), and not the alert lines a
summary already counts."""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
from typing import TextIO

from f1_core.progress import logger as progress_logger

CLEAR = "\r\x1b[K"  # back to the line's start, then erase it


class ProgressLine(logging.Handler):
    def __init__(self, stream: TextIO, width: int):
        super().__init__(logging.INFO)
        self.stream, self.width = stream, width

    def emit(self, record: logging.LogRecord) -> None:
        progress = getattr(record, "progress", None)
        if progress is None:
            return
        step, done, total, detail = progress
        try:
            self.stream.write(CLEAR + f"{step} [{done}/{total}] {detail}"[: self.width - 1])
            self.stream.flush()
        except Exception:  # a terminal gone away must not fail the step it reports on
            self.handleError(record)


@contextlib.contextmanager
def progress_line(stream: TextIO | None = None):
    """Draws the progress of what runs inside on `stream` (stderr) if it is a terminal, and
    erases it before the caller prints the step's summary. Steps the celery executor runs on its
    workers (the production profile) report in the workers' logs, not here."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield
        return
    # measured now: a run's log capture may stand in for the stream's descriptor while it runs
    handler = ProgressLine(stream, shutil.get_terminal_size().columns)
    level, propagate = progress_logger.level, progress_logger.propagate
    progress_logger.addHandler(handler)
    progress_logger.setLevel(logging.INFO)
    progress_logger.propagate = False  # a root handler would print each step as a line of its own
    try:
        yield
    finally:
        progress_logger.removeHandler(handler)
        progress_logger.setLevel(level)
        progress_logger.propagate = propagate
        with contextlib.suppress(OSError):
            stream.write(CLEAR)
            stream.flush()


def _not_an_alert_line(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("ALERT ")


@contextlib.contextmanager
def quiet_alerts():
    """Without the per-session alert lines of a drift run inside: its summary counts them, and the
    alert log and the webhook still get each one. Other warnings and errors still show."""
    alerts = logging.getLogger("f1.alerts")
    alerts.addFilter(_not_an_alert_line)
    try:
        yield
    finally:
        alerts.removeFilter(_not_an_alert_line)
