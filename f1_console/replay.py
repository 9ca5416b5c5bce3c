"""The Replay page's API (engineer): archived sessions played through the service into the live
folder at a chosen speed, paused, resumed, sped up or slowed down, sought by lap or session time,
stopped (`f1_core.player`). The replayed session is a live session like any other: the live page's
views show it from its stream, as of the point sought.

Predictions during a replay are asked with the signed-in engineer's own key, so the service logs
them like any live client's. One replay per session at a time; every refusal says why.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from f1_console.auth import Signed
from f1_console.context import Console, Refused, console, json_object, signed_in
from f1_core.player import InvalidControl, ReplayBusy, Replays, UnknownReplay

router = APIRouter(prefix="/api/replay")
engineer = signed_in("engineer")


def replays(shared: Console = Depends(console)) -> Replays:
    if shared.replays is None:
        raise Refused(503, "replays are not available: the console is starting or stopping")
    return shared.replays


def _refusing(action, *args, **kwargs):
    """`action(...)`, its errors answered as what they mean: 404, 422, 409."""
    try:
        return action(*args, **kwargs)
    except UnknownReplay as exc:
        raise Refused(404, str(exc.args[0])) from exc
    except InvalidControl as exc:
        raise Refused(422, str(exc)) from exc
    except ReplayBusy as exc:
        raise Refused(409, str(exc)) from exc


async def _body(request: Request, allowed: set[str], example: str) -> dict:
    """The request's JSON object, or a 422 saying what was expected."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    return json_object(body, allowed, example)


def _with_live(shared: Console, status: dict) -> dict:
    """The status, and whether the console's live stream has the session yet (the page opens
    the live views when it does)."""
    hub = shared.hub
    return {**status, "live": hub is not None and status["session_key"] in hub.logs}


@router.get("/sessions")
def archived_sessions(who: Signed = Depends(engineer), players: Replays = Depends(replays)):
    """The archive's sessions, each with whether it is being replayed."""
    try:
        sessions = players.sessions()
    except (OSError, ValueError) as exc:
        raise Refused(503, f"the archive {players.archive} cannot be read: {exc}") from exc
    playing = {status["session_key"]: status["state"] for status in players.statuses()}
    return {"sessions": [{**session, "replay": playing.get(session["session_key"])} for session in sessions]}


@router.get("/")
@router.get("", include_in_schema=False)
def current(who: Signed = Depends(engineer), players: Replays = Depends(replays), shared: Console = Depends(console)):
    return {"replays": [_with_live(shared, status) for status in players.statuses()]}


@router.post("/")
@router.post("", include_in_schema=False)
async def start(
    request: Request,
    who: Signed = Depends(engineer),
    players: Replays = Depends(replays),
    shared: Console = Depends(console),
):
    body = await _body(
        request, {"session_key", "speed"}, '{"session_key": "2023-09-austrian-grand-prix-race", "speed": 60}'
    )
    key = body.get("session_key")
    if not isinstance(key, str) or not key.strip():
        raise Refused(422, "session_key must name an archived session (GET /api/replay/sessions lists them)")
    speed = body.get("speed", 60.0)
    # loading and standardizing the session takes a moment: off the event loop, which the streams share
    status = await run_in_threadpool(_refusing, players.start, key.strip(), speed, who.api_key, who.key_id)
    return _with_live(shared, status)


@router.post("/{session_key}/pause")
def pause(
    session_key: str,
    who: Signed = Depends(engineer),
    players: Replays = Depends(replays),
    shared: Console = Depends(console),
):
    return _with_live(shared, _refusing(lambda: players.get(session_key).pause()))


@router.post("/{session_key}/resume")
def resume(
    session_key: str,
    who: Signed = Depends(engineer),
    players: Replays = Depends(replays),
    shared: Console = Depends(console),
):
    return _with_live(shared, _refusing(lambda: players.get(session_key).resume()))


@router.post("/{session_key}/seek")
async def seek(
    session_key: str,
    request: Request,
    who: Signed = Depends(engineer),
    players: Replays = Depends(replays),
    shared: Console = Depends(console),
):
    body = await _body(request, {"lap", "session_time_s"}, '{"lap": 20} or {"session_time_s": 4200.5}')
    status = await run_in_threadpool(
        _refusing, lambda: players.get(session_key).seek(lap=body.get("lap"), session_time_s=body.get("session_time_s"))
    )
    return _with_live(shared, status)


@router.post("/{session_key}/speed")
async def speed(
    session_key: str,
    request: Request,
    who: Signed = Depends(engineer),
    players: Replays = Depends(replays),
    shared: Console = Depends(console),
):
    body = await _body(request, {"speed"}, '{"speed": 120}')
    if "speed" not in body:
        raise Refused(422, 'expected a JSON object: {"speed": 120}')
    return _with_live(shared, _refusing(lambda: players.get(session_key).set_speed(body["speed"])))


@router.delete("/{session_key}")
def stop(
    session_key: str,
    who: Signed = Depends(engineer),
    players: Replays = Depends(replays),
    shared: Console = Depends(console),
):
    """Stops the replay; what landed stays in the live folder (the session stays live until its
    state expires)."""
    return _with_live(shared, _refusing(players.stop, session_key))
