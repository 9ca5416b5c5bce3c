"""The race engineers' console: a small FastAPI app beside the prediction service (kept out of the
BentoML process, which is tuned for prediction latency). It serves the built web app, signs users
in with their API key (an httpOnly cookie), streams live sessions by Server-Sent Events and
passes model calls to the service with the user's own key, so the service decides every role.

    make console    # http://127.0.0.1:3002 (uvicorn --factory f1_console.app:create_app)
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from f1_console import admin, drift, history, live, replay, signin
from f1_console.auth import Sessions
from f1_console.context import Console, Refused, refusal
from f1_console.hub import LiveHub
from f1_core import settings
from f1_core.api_keys import KeyStore
from f1_core.player import Replays

DIST = settings.PROJECT_ROOT / "console" / "dist"
ROUTERS = (signin.router, live.router, admin.router, history.router, replay.router, drift.router)


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
    shared = Console(keys, Sessions(keys), service_url)

    @asynccontextmanager
    async def lifespan(app):
        shared.hub = LiveHub(
            settings.open_online_store(),
            settings.live_dir(),
            service_url,
            console_key(keys),
            feed=settings.live_feed_enabled(),
            ttl_s=settings.live_state_ttl_s(),
        ).start()
        shared.service = httpx.AsyncClient(base_url=service_url, timeout=30)
        shared.replays = Replays(settings.archive_dir(), settings.live_dir(), service_url)
        yield
        shared.replays.stop_all()  # before the hub: a replay's last step may still be landing
        shared.hub.stop()
        shared.hub.store.close()
        await shared.service.aclose()

    app = FastAPI(title="f1-lap-prediction console", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.console = shared
    app.add_exception_handler(Refused, refusal)
    for router in ROUTERS:
        app.include_router(router)

    if (dist / "index.html").is_file():
        app.mount("/assets", StaticFiles(directory=dist / "assets"), name="assets")

        @app.get("/{path:path}")
        def index(path: str):
            if path.startswith("api/"):
                return JSONResponse({"error": f"no such API: /{path}"}, status_code=404)
            return FileResponse(dist / "index.html")

    return app
