"""Console sign-in: an API key (the service's keys and roles) exchanged for an httpOnly, SameSite
session cookie, so a key never sits in the browser (EventSource cannot send headers anyway).

Sessions live in this process: a random token maps to the key's id and role. Each request checks
the key still exists, so a key revoked with `f1 api-key revoke` locks its console sessions out
at their next request.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from f1_core.api_keys import KeyStore, allows

COOKIE = "f1_console"
SESSION_SECONDS = 12 * 3600  # a race weekend day


@dataclass(frozen=True)
class Signed:
    key_id: str
    role: str
    expires: float
    # kept in this process only, to call the service as this user (the service checks roles)
    api_key: str = field(repr=False, default="")

    def allows(self, needed: str) -> bool:
        return allows(self.role, needed)


class Sessions:
    def __init__(self, keys: KeyStore, seconds: float = SESSION_SECONDS):
        self.keys = keys
        self.seconds = seconds
        self._signed: dict[str, Signed] = {}
        self._lock = threading.Lock()

    def sign_in(self, api_key: str) -> tuple[str, Signed] | None:
        record = self.keys.lookup(api_key)
        if record is None:
            return None
        token = secrets.token_urlsafe(32)
        signed = Signed(record.key_id, record.role, time.time() + self.seconds, api_key)
        with self._lock:
            self._signed[token] = signed
        return token, signed

    def who(self, token: str | None) -> Signed | None:
        """The signed-in key of a cookie, while it is unexpired and the key not revoked."""
        if not token:
            return None
        with self._lock:
            signed = self._signed.get(token)
        if signed is None or signed.expires < time.time():
            return None
        if not self.keys.has_id(signed.key_id):
            self.sign_out(token)
            return None
        return signed

    def sign_out(self, token: str | None) -> None:
        with self._lock:
            self._signed.pop(token or "", None)
