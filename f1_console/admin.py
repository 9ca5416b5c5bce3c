"""The Admin page's API (admin only): the service's API keys (list, create, revoke) and reloading
the champion.

Keys are the same file as the service's and the CLI's (`f1_core.api_keys.KeyStore`, writers
locked against each other); the service re-reads it when it changes, so a key created or revoked
here takes effect at its next request, and the console's own sessions check it at each request.
A new key is answered once, in the response to its creation; no answer carries a hash.
"""

from __future__ import annotations

import unicodedata

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from f1_console.auth import Signed
from f1_console.context import Console, Refused, call_service, console, json_object, passed_on, signed_in
from f1_core.api_keys import ROLES, KeyRecord

NAME_MAX = 80

router = APIRouter(prefix="/api/admin")
admin = signed_in("admin")


def public(record: KeyRecord, who: Signed, console_key_id: str | None) -> dict:
    """What the console shows of a key: never its hash. `yours`: the key this admin is signed in
    with; `console`: the one the console itself asks the service with for live predictions."""
    return {
        "key_id": record.key_id,
        "role": record.role,
        "name": record.name,
        "created": record.created,
        "yours": record.key_id == who.key_id,
        "console": record.key_id == console_key_id,
    }


def console_key_id(shared: Console) -> str | None:
    if shared.hub is None:
        return None
    record = shared.keys.lookup(shared.hub.service_key)
    return record.key_id if record else None


def new_key(body: object) -> tuple[str, str]:
    """The role and name of a key to create, or a 422 saying what is wrong with them."""
    body = json_object(body, {"role", "name"}, '{"role": "viewer|engineer|admin", "name": "who it is for"}')
    role, name = body.get("role"), body.get("name")
    if role not in ROLES:
        raise Refused(422, f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if not isinstance(name, str) or not name.strip():
        raise Refused(422, "name is required: who or what the key is for (e.g. 'pit wall laptop 2')")
    name = name.strip()
    if len(name) > NAME_MAX:
        raise Refused(422, f"name is {len(name)} characters long; at most {NAME_MAX}")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise Refused(422, "name may not hold control characters (tabs, line breaks)")
    return role, name


@router.get("/keys")
def list_keys(who: Signed = Depends(admin), shared: Console = Depends(console)):
    """Every key: id, role, name, creation time (oldest first)."""
    own = console_key_id(shared)
    return {"keys": [public(record, who, own) for record in shared.keys.records()]}


@router.post("/keys", status_code=201)
async def create_key(request: Request, who: Signed = Depends(admin), shared: Console = Depends(console)):
    """A new key: its record and, this once only, the key itself."""
    try:
        body = await request.json()
    except ValueError:
        raise Refused(400, 'the body is not JSON; send {"role": "viewer|engineer|admin", "name": "..."}') from None
    role, name = new_key(body)
    record, key = await run_in_threadpool(shared.keys.create, role, name)  # waits for other writers
    return {**public(record, who, None), "key": key}


@router.delete("/keys/{key_id}")
async def revoke_key(key_id: str, who: Signed = Depends(admin), shared: Console = Depends(console)):
    """Revokes a key: the service refuses it from its next request, and console sessions signed
    in with it are signed out at theirs. Not the key you are signed in with (you would lock
    yourself out mid-action), nor the console's own (live predictions would stop)."""
    if key_id == who.key_id:
        raise Refused(
            409,
            f"key {key_id} is the one you are signed in with: revoking it would lock you out; "
            "sign in with another admin key to revoke it",
        )
    if key_id == console_key_id(shared):
        raise Refused(
            409,
            f"key {key_id} is the one this console asks the service with for live predictions; "
            "give the console another key (F1_CONSOLE_API_KEY) and restart it first, "
            "or revoke it with `f1 api-key revoke`",
        )
    try:
        record = await run_in_threadpool(shared.keys.revoke, key_id)
    except KeyError:
        raise Refused(404, f"no API key with id {key_id!r} (already revoked?)") from None
    return public(record, who, None)


@router.post("/reload")
async def reload_champion(who: Signed = Depends(admin), shared: Console = Depends(console)):
    """The service's POST /reload as this admin (the service decides the role): its status and
    body, the model info it then serves."""
    return passed_on(await call_service(shared, "POST", "/reload", who, json={}))
