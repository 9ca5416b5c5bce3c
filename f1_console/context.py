"""What every route of the console shares: the signed-in user (a dependency that refuses with a
reason), the live hub and the client of the prediction service."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from f1_console.auth import COOKIE, Sessions, Signed
from f1_console.hub import LiveHub
from f1_core.api_keys import KeyStore
from f1_core.player import Replays


@dataclass
class Console:
    keys: KeyStore
    sessions: Sessions
    service_url: str
    hub: LiveHub | None = None
    service: httpx.AsyncClient | None = None
    replays: Replays | None = None  # the Replay page's (f1_console.replay)


def json_object(body: object, allowed: set[str], example: str) -> dict:
    """`body` (a request's parsed JSON) as an object of `allowed` fields, or a 422 saying what
    was expected."""
    if not isinstance(body, dict):
        raise Refused(422, f"expected a JSON object: {example}")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Refused(422, f"unknown field(s) {', '.join(map(repr, unknown))}; expected {example}")
    return body


class Refused(Exception):
    """Answered as `{"error": message}` with `status` (see `refusal`)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def refusal(request: Request, exc: Refused) -> JSONResponse:
    return JSONResponse({"error": exc.message}, status_code=exc.status)


def console(request: Request) -> Console:
    return request.app.state.console


def signed_in(needed: str = "viewer"):
    """A dependency: the signed-in user if their role allows `needed`, else 401/403 saying why."""

    def check(request: Request, shared: Console = Depends(console)) -> Signed:
        who = shared.sessions.who(request.cookies.get(COOKIE))
        if who is None:
            raise Refused(401, "sign in with an API key first")
        if not who.allows(needed):
            raise Refused(403, f"role {who.role!r} may not see this; it needs {needed!r}")
        return who

    return check


def as_user(who: Signed) -> dict:
    """Headers that call the service as the signed-in user (the service decides their role)."""
    return {"Authorization": f"Bearer {who.api_key}"}


async def call_service(shared: Console, method: str, path: str, who: Signed, **kwargs) -> httpx.Response:
    """The service's answer to a call made as `who`; 502 saying so when it does not answer."""
    try:
        return await shared.service.request(method, path, headers=as_user(who), **kwargs)
    except httpx.HTTPError as exc:
        raise Refused(
            502, f"the prediction service at {shared.service_url} did not answer: {str(exc) or type(exc).__name__}"
        ) from None


def passed_on(answer: httpx.Response) -> JSONResponse:
    """The service's answer as the console's: its status and JSON body (or why there is none)."""
    try:
        body = answer.json()
    except ValueError:
        body = {"error": f"the service answered {answer.status_code} without JSON: {answer.text[:200]}"}
    return JSONResponse(body, status_code=answer.status_code)
