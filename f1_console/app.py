"""The race engineers' console: a small FastAPI app beside the prediction service (kept out of the
BentoML process, which is tuned for prediction latency). It serves the built web app, signs users
in with their API key (an httpOnly cookie), streams live sessions by Server-Sent Events and
passes model calls to the service with the user's own key, so the service decides every role.

    make console    # http://127.0.0.1:3002 (uvicorn --factory f1_console.app:create_app)
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from f1_console.auth import COOKIE, Sessions
from f1_console.hub import LiveHub, next_lap_request
from f1_core import settings
from f1_core.api_keys import KeyStore
from f1_core.online_store import StoreUnavailable

DIST = settings.PROJECT_ROOT / "console" / "dist"
KEEP_ALIVE_S = 15.0


class Login(BaseModel):
    api_key: str


def console_key(keys: KeyStore) -> str:
    """The key the console asks the service with: F1_CONSOLE_API_KEY, else a viewer key it made
    for itself once (kept in $F1_DATA_DIR/console_key, readable by its owner only)."""
    given = os.environ.get("F1_CONSOLE_API_KEY")
    if given:
        return given
    path = settings.data_dir() / "console_key"
    if path.is_file() and keys.lookup(path.read_text().strip()) is not None:
        return path.read_text().strip()
    _, key = keys.create("viewer", "console (live predictions)")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(key)
    path.chmod(0o600)
    return key


def create_app(service_url: str | None = None, dist: Path = DIST) -> FastAPI:
    service_url = service_url or os.environ.get("F1_CONSOLE_SERVICE_URL", "http://127.0.0.1:3001")
    keys = KeyStore(settings.api_keys_path())
    sessions = Sessions(keys)
    state: dict = {}

    @asynccontextmanager
    async def lifespan(app):
        state["hub"] = LiveHub(settings.open_online_store(), settings.live_dir(), service_url,
                               console_key(keys), feed=settings.live_feed_enabled(),
                               ttl_s=settings.live_state_ttl_s()).start()
        state["service"] = httpx.AsyncClient(base_url=service_url, timeout=30)
        yield
        state["hub"].stop()
        state["hub"].store.close()
        await state["service"].aclose()

    app = FastAPI(title="f1-lap-prediction console", lifespan=lifespan, docs_url=None, redoc_url=None)

    def signed_in(request: Request, needed: str = "viewer"):
        who = sessions.who(request.cookies.get(COOKIE))
        if who is None:
            return None, JSONResponse({"error": "sign in with an API key first"}, status_code=401)
        if not who.allows(needed):
            return None, JSONResponse({"error": f"role {who.role!r} may not see this; it needs {needed!r}"},
                                      status_code=403)
        return who, None

    @app.post("/api/login")
    def login(body: Login, request: Request):
        signed = sessions.sign_in(body.api_key.strip())
        if signed is None:
            return JSONResponse({"error": "unknown or revoked API key"}, status_code=401)
        token, who = signed
        answer = JSONResponse({"role": who.role, "key_id": who.key_id})
        answer.set_cookie(COOKIE, token, httponly=True, samesite="strict", max_age=int(sessions.seconds),
                          secure=request.url.scheme == "https", path="/")
        return answer

    @app.post("/api/logout")
    def logout(request: Request):
        sessions.sign_out(request.cookies.get(COOKIE))
        answer = Response(status_code=204)
        answer.delete_cookie(COOKIE, path="/")
        return answer

    @app.get("/api/me")
    def me(request: Request):
        """Who is signed in: `role` null when nobody is (not an error: the app asks first)."""
        who = sessions.who(request.cookies.get(COOKIE))
        return {"role": who.role if who else None, "key_id": who.key_id if who else None}

    @app.get("/api/sessions")
    def live_sessions(request: Request):
        who, refused = signed_in(request)
        if refused:
            return refused
        try:
            states = state["hub"].store.sessions()
        except StoreUnavailable as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        return {"sessions": [live.summary() for live in states], "updated_at": state["hub"].updated_at,
                "error": state["hub"].last_error}

    @app.get("/api/model")
    async def model(request: Request):
        who, refused = signed_in(request)
        if refused:
            return refused
        answer = await state["service"].get("/model", headers={"Authorization": f"Bearer {who.api_key}"})
        return JSONResponse(answer.json(), status_code=answer.status_code)

    @app.get("/api/live/{session_key}/explain/{driver}")
    async def explain(session_key: str, driver: str, request: Request):
        """Why the service predicts what it does for the driver's next lap (engineer): the
        service's /explain of the request the console asks it with."""
        who, refused = signed_in(request, "engineer")
        if refused:
            return refused
        try:  # Redis is read off the event loop, which the streams share
            live = await run_in_threadpool(state["hub"].store.get, session_key)
        except StoreUnavailable as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        laps = [lap for lap in (live.laps if live else []) if lap["driver"] == driver]
        if not laps:
            return JSONResponse({"error": f"{driver} has no lap in {session_key} yet"}, status_code=404)
        asked = next_lap_request(live.meta, max(laps, key=lambda lap: lap["lap_number"]))
        answer = await state["service"].post("/explain", json={"lap": asked, "top": 12},
                                             headers={"Authorization": f"Bearer {who.api_key}"})
        if answer.status_code != 200:
            return JSONResponse(answer.json(), status_code=answer.status_code)
        return {"lap_number": asked["lap_number"], **answer.json()}

    @app.get("/api/live/{session_key}/events")
    async def events(session_key: str, request: Request):
        who, refused = signed_in(request)
        if refused:
            return refused
        hub = state["hub"]
        resumed = request.headers.get("last-event-id")
        snapshot = hub.snapshot(session_key)
        if snapshot is None:
            return JSONResponse({"error": f"no live session {session_key!r}"}, status_code=404)

        async def stream():
            yield "retry: 1000\n\n"
            epoch, _, number = (resumed or "").partition(":")
            if epoch == hub.epoch and number.isdigit():
                sent = int(number)  # only what the browser missed: no second snapshot
            else:  # a new stream, or ids of a console process that has restarted since
                sent, body = snapshot
                yield _event(hub.epoch, sent, "snapshot", body)
            quiet, checked = 0.0, time.monotonic()
            while not await request.is_disconnected():
                if time.monotonic() - checked > 5:  # a revoked key or an expired cookie ends the stream
                    checked = time.monotonic()
                    if sessions.who(request.cookies.get(COOKIE)) is None:
                        return
                for number, kind, data in hub.since(session_key, sent):
                    yield _event(hub.epoch, number, kind, data)
                    sent, quiet = number, 0.0
                await asyncio.sleep(0.1)
                quiet += 0.1
                if quiet >= KEEP_ALIVE_S:
                    yield ": keep-alive\n\n"
                    quiet = 0.0

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    if (dist / "index.html").is_file():
        app.mount("/assets", StaticFiles(directory=dist / "assets"), name="assets")

        @app.get("/{path:path}")
        def index(path: str):
            if path.startswith("api/"):
                return JSONResponse({"error": f"no such API: /{path}"}, status_code=404)
            return FileResponse(dist / "index.html")

    return app


def _event(epoch: str, number: int, kind: str, data: dict) -> str:
    return f"id: {epoch}:{number}\nevent: {kind}\ndata: {json.dumps(data, default=str)}\n\n"
