"""Live sessions: the list, the stream of each (Server-Sent Events: one snapshot, then laps and the
service's predictions, resumable with `Last-Event-ID`), why a driver's next lap is predicted as it
is, and the model being served."""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from f1_console.auth import COOKIE, Signed
from f1_console.context import Console, Refused, call_service, console, passed_on, signed_in
from f1_console.hub import next_lap_request
from f1_core.online_store import StoreUnavailable

KEEP_ALIVE_S = 15.0

router = APIRouter(prefix="/api")
viewer = signed_in()
engineer = signed_in("engineer")


@router.get("/sessions")
def live_sessions(who: Signed = Depends(viewer), shared: Console = Depends(console)):
    try:
        states = shared.hub.store.sessions()
    except StoreUnavailable as exc:
        raise Refused(503, str(exc)) from exc
    return {
        "sessions": [live.summary() for live in states],
        "updated_at": shared.hub.updated_at,
        "error": shared.hub.last_error,
    }


@router.get("/model")
async def model(who: Signed = Depends(viewer), shared: Console = Depends(console)):
    return passed_on(await call_service(shared, "GET", "/model", who))


@router.get("/live/{session_key}/explain/{driver}")
async def explain(session_key: str, driver: str, who: Signed = Depends(engineer), shared: Console = Depends(console)):
    """Why the service predicts what it does for the driver's next lap (engineer): the service's
    /explain of the request the console asks it with."""
    try:  # Redis is read off the event loop, which the streams share
        live = await run_in_threadpool(shared.hub.store.get, session_key)
    except StoreUnavailable as exc:
        raise Refused(503, str(exc)) from exc
    laps = [lap for lap in (live.laps if live else []) if lap["driver"] == driver]
    if not laps:
        raise Refused(404, f"{driver} has no lap in {session_key} yet")
    asked = next_lap_request(live.meta, max(laps, key=lambda lap: lap["lap_number"]))
    answer = await call_service(shared, "POST", "/explain", who, json={"lap": asked, "top": 12})
    if answer.status_code != 200:
        return passed_on(answer)
    return {"lap_number": asked["lap_number"], **answer.json()}


@router.get("/live/{session_key}/events")
async def events(
    session_key: str,
    request: Request,
    last_event_id: str | None = None,
    who: Signed = Depends(viewer),
    shared: Console = Depends(console),
):
    """The session's events. A browser resumes with the `Last-Event-ID` header, or the
    `last_event_id` parameter when the app reconnects itself (EventSource sends no headers)."""
    hub = shared.hub
    resumed = request.headers.get("last-event-id") or last_event_id
    snapshot = hub.snapshot(session_key)
    if snapshot is None:
        raise Refused(404, f"no live session {session_key!r}")

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
                if await run_in_threadpool(shared.sessions.who, request.cookies.get(COOKIE)) is None:
                    return
            for number, kind, data in hub.since(session_key, sent):
                yield _event(hub.epoch, number, kind, data)
                sent, quiet = number, 0.0
            await asyncio.sleep(0.1)
            quiet += 0.1
            if quiet >= KEEP_ALIVE_S:
                yield ": keep-alive\n\n"
                quiet = 0.0

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def _event(epoch: str, number: int, kind: str, data: dict) -> str:
    return f"id: {epoch}:{number}\nevent: {kind}\ndata: {json.dumps(data, default=str)}\n\n"
