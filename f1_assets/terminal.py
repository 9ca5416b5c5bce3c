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
    def __init__(self, stream: TextIO):
        super().__init__(logging.INFO)
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        progress = getattr(record, "progress", None)
        if progress is None:
            return
        step, done, total, detail = progress
        width = shutil.get_terminal_size().columns - 1
        self.stream.write(CLEAR + f"{step} [{done}/{total}] {detail}"[:width])
        self.stream.flush()


@contextlib.contextmanager
def progress_line(stream: TextIO | None = None):
    """Draws the progress of what runs inside on `stream` (stderr) if it is a terminal, and
    erases it before the caller prints the step's summary."""
    stream = stream or sys.stderr
    if not stream.isatty():
        yield
        return
    handler = ProgressLine(stream)
    level = progress_logger.level
    progress_logger.addHandler(handler)
    progress_logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        progress_logger.removeHandler(handler)
        progress_logger.setLevel(level)
        stream.write(CLEAR)
        stream.flush()


def _not_an_alert_line(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("ALERT ")


def quiet_alerts() -> None:
    """The per-session alert lines of a drift run: its summary counts them, and the alert log and
    the webhook still get each one. Other warnings and errors still show."""
    alerts = logging.getLogger("f1.alerts")
    if _not_an_alert_line not in alerts.filters:
        alerts.addFilter(_not_an_alert_line)
