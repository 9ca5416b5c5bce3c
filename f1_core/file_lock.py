"""An exclusive lock for a file's read-modify-write, across threads and processes."""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def locked(path: Path):
    """Held around every read-modify-write of `path`: an exclusive `flock` on `<path>.lock`,
    which other processes and threads (each opens it anew, so each has its own lock) wait for."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
