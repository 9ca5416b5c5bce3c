"""Signing in and out: an API key exchanged for the console's httpOnly, SameSite cookie."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from f1_console.auth import COOKIE
from f1_console.context import Console, console

router = APIRouter(prefix="/api")


class Login(BaseModel):
    api_key: str


@router.post("/login")
def login(body: Login, request: Request, shared: Console = Depends(console)):
    signed = shared.sessions.sign_in(body.api_key.strip())
    if signed is None:
        return JSONResponse({"error": "unknown or revoked API key"}, status_code=401)
    token, who = signed
    answer = JSONResponse({"role": who.role, "key_id": who.key_id})
    answer.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        max_age=int(shared.sessions.seconds),
        secure=request.url.scheme == "https",
        path="/",
    )
    return answer


@router.post("/logout")
def logout(request: Request, shared: Console = Depends(console)):
    shared.sessions.sign_out(request.cookies.get(COOKIE))
    answer = Response(status_code=204)
    answer.delete_cookie(COOKIE, path="/")
    return answer


@router.get("/me")
def me(request: Request, shared: Console = Depends(console)):
    """Who is signed in: `role` null when nobody is (not an error: the app asks first)."""
    who = shared.sessions.who(request.cookies.get(COOKIE))
    return {"role": who.role if who else None, "key_id": who.key_id if who else None}
