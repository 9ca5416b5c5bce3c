"""API keys of the prediction service: each key has a role, and only its SHA-256 hash is stored.

Keys are 256 random bits, so a fast hash is enough (a slow, salted one protects guessable
passwords, not random tokens) and lets every request be checked in microseconds. The file is
rewritten atomically, readable by its owner only, and re-read when it changes, so a key created
or revoked while the service runs takes effect on the next request. Writers (the CLI, the
console's Admin page) take an exclusive lock on `<file>.lock` beside it for the whole
read-modify-write, so two at once lose neither's change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from f1_core.file_lock import locked

# Each role can do what the roles before it can.
ROLES = ("viewer", "engineer", "admin")
PREFIX = "f1k_"


def allows(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    role: str
    name: str
    created: str
    sha256: str


class KeyStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._by_digest: dict[str, KeyRecord] = {}

    def records(self) -> list[KeyRecord]:
        if not self.path.exists():
            return []
        try:
            rows = json.loads(self.path.read_text())["keys"]
            return [KeyRecord(**row) for row in rows]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{self.path}: not an API key file ({exc})") from None

    def create(self, role: str, name: str = "") -> tuple[KeyRecord, str]:
        """A new key for `role`; returns its record and the key itself (shown once, never stored)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        key = PREFIX + secrets.token_urlsafe(32)
        record = KeyRecord(
            key_id=secrets.token_hex(4),
            role=role,
            name=name,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            sha256=_digest(key),
        )
        with self._locked():
            self._write([*self.records(), record])
        return record, key

    def revoke(self, key_id: str) -> KeyRecord:
        with self._locked():
            records = self.records()
            gone = [r for r in records if r.key_id == key_id]
            if not gone:
                raise KeyError(f"no API key with id {key_id!r} in {self.path}")
            self._write([r for r in records if r.key_id != key_id])
        return gone[0]

    def has_id(self, key_id: str) -> bool:
        """Whether a key with this id exists (read again only when the file changed)."""
        self._refresh()
        return any(record.key_id == key_id for record in self._by_digest.values())

    def lookup(self, key: str) -> KeyRecord | None:
        """The record of a presented key, None when it is unknown."""
        self._refresh()
        digest = _digest(key)
        for known, record in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return record
        return None

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
            # each write is a new file (os.replace): its inode tells a revoke-then-create of the
            # same size within one mtime tick apart from no change
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._by_digest = {r.sha256: r for r in self.records()}
            self._stamp = stamp

    def _locked(self):
        """Held by every read-modify-write of the file (`_write`'s callers)."""
        return locked(self.path)

    def _write(self, records: list[KeyRecord]) -> None:
        """Replaces the file atomically; call it inside `_locked` with records read there."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"keys": [r.__dict__ for r in records]}, indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".api_keys.")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(body)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
