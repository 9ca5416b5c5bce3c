"""History (engineer): how the served predictions fared, from what the pipeline publishes for
readers (`f1_core.published`: the console never opens the warehouse file the pipeline writes)."""

from __future__ import annotations

import polars as pl
from fastapi import APIRouter, Depends, Query

from f1_console.context import Refused, signed_in
from f1_core import history, published

router = APIRouter(prefix="/api/history", dependencies=[Depends(signed_in("engineer"))])
CONTEXTS = ("session", "request")


def _context(context: str) -> str:
    if context not in CONTEXTS:
        raise Refused(400, f"unknown context {context!r}; expected one of {', '.join(CONTEXTS)}")
    return context


@router.get("")
def overview():
    """The predicted sessions (laps, versions per context) and when the data was published."""
    live = published.read_published("live_predictions")
    if live.frame is None:
        return {
            "published_at": None,
            "sessions": [],
            "note": "nothing published yet: play a session (the Replay "
            "page or `f1 replay`) while `make ui` runs; its daemon ingests the laps and the live_accuracy asset "
            "publishes the service's predictions beside them",
        }
    sessions = (
        live.frame.group_by("session_key", "circuit_ref", "session_type", "context")
        .agg(
            pl.len().alias("laps"),
            pl.col("clean").sum().alias("clean_laps"),
            pl.col("model_version").unique().sort().alias("versions"),
        )
        .sort("session_key", "context")
    )
    return {"published_at": live.published_at, "sessions": sessions.to_dicts()}


@router.get("/errors")
def errors(
    context: str = "session",
    session_key: str | None = None,
    model_version: str | None = None,
    worst: int = Query(20, ge=1, le=200),
):
    """Clean-lap error by circuit, compound, tyre age and lap, and the worst-predicted laps."""
    live = published.read_published("live_predictions")
    if live.frame is None:
        return {"published_at": None, "laps": 0, "breakdowns": {}, "worst": []}
    rows = history.select(live.frame, _context(context), session_key, model_version)
    return {
        "published_at": live.published_at,
        "laps": rows.height,
        "clean_laps": int(rows["clean"].sum()),
        "breakdowns": {by: history.breakdown(rows, by).to_dicts() for by in history.BREAKDOWNS},
        "worst": history.worst_laps(rows, worst).to_dicts(),
    }


@router.get("/compare")
def compare(session_key: str, a: str | None = None, b: str | None = None, context: str = "session"):
    """Two model versions on the laps of one session both predicted (served, or in the shadow of
    the served champion). Without `a` and `b`: the versions there are to choose from."""
    live = published.read_published("live_predictions")
    if live.frame is None:
        raise Refused(404, "nothing published yet")
    known = history.versions(live.frame, session_key, _context(context))
    if a is None or b is None:
        return {"published_at": live.published_at, "versions": known, "laps": []}
    try:
        laps = history.compare(live.frame, session_key, a, b, context)
    except KeyError as exc:
        raise Refused(404, exc.args[0]) from exc
    clean = laps.filter(pl.col("clean"))
    return {
        "published_at": live.published_at,
        "versions": known,
        "a": a,
        "b": b,
        "laps": laps.to_dicts(),
        "clean_laps": clean.height,
        "mae_clean_a": clean["abs_error_a"].mean() if clean.height else None,
        "mae_clean_b": clean["abs_error_b"].mean() if clean.height else None,
    }
