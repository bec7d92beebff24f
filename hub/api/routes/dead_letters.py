"""Dead letters over HTTP: list, show and replay one, or every open one of an actor up to the newest
seen (admin only). Same operations as ``hub dlq`` and the console's exceptions queue; a replay
records the admin key that asked (``replayed_by``, the audit log).

Not for deciding what is dead: the queue's retry policy does that.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Depends, Query, Request

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.models import ActorReplayIn, ActorReplayResult, DeadLetterDetail, DeadLetterOut, ReplayResult
from hub.api.params import RowId
from hub.db import dead_letters

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/dead-letters", tags=["dead letters"])
admin = require(Permission.DEAD_LETTERS)


@router.get("", response_model=list[DeadLetterOut], summary="Dead letters, newest first",
            dependencies=[Depends(admin)])
async def list_dead_letters(
    request: Request,
    limit: int = Query(50, ge=1, le=500),
    include_replayed: bool = Query(False, description="Also list the ones already replayed."),
) -> list[DeadLetterOut]:
    async with get_hub(request).database().session() as session:
        rows = await dead_letters.list_dead_letters(session, limit=limit, include_replayed=include_replayed)
    return [DeadLetterOut.model_validate(row, from_attributes=True) for row in rows]


@router.post("/replay", response_model=ActorReplayResult,
             summary="Replay every open dead letter of one actor, up to the newest you saw")
async def replay_all_of_actor(request: Request, body: ActorReplayIn,
                             principal: Principal = Depends(admin)) -> ActorReplayResult:
    """Oldest first, at most 200 per call (``remaining`` says how many wait); sent and marked in one
    transaction, each in the audit log, as the console's "Replay all of this actor"."""
    from hub.queue.dead_letter_replay import replay_dead_letters_of

    hub = get_hub(request)
    actor = body.actor.strip()
    if not actor:
        raise ApiError(422, "invalid_request", [{"field": "body.actor", "message": "name the actor",
                                                 "type": "string_too_short"}], field="body.actor")
    if hub.runtime is None:
        raise ApiError(503, "unavailable", "the queue is not running in this process; replay with "
                                           "`hub dlq replay --actor NAME`")
    sent = await replay_dead_letters_of(hub.database(), hub.runtime, actor, up_to_id=body.up_to_id,
                                        actor=principal.actor)
    async with hub.database().session() as session:
        remaining = await dead_letters.count_open_of_actor(session, actor, up_to_id=body.up_to_id)
    return ActorReplayResult(actor=actor, replayed=sent, remaining=remaining)


@router.get("/{dead_letter_id}", response_model=DeadLetterDetail, summary="One dead letter with its input",
            dependencies=[Depends(admin)])
async def show_dead_letter(request: Request, dead_letter_id: RowId) -> DeadLetterDetail:
    async with get_hub(request).database().session() as session:
        row = await dead_letters.get(session, dead_letter_id)
    if row is None:
        raise ApiError(404, "not_found", f"dead letter {dead_letter_id} does not exist")
    summary = DeadLetterOut.model_validate(row, from_attributes=True)
    return DeadLetterDetail(**summary.model_dump(), args=list(row.args or []), keyword_args=dict(row.kwargs or {}))


@router.post("/{dead_letter_id}/replay", response_model=ReplayResult, summary="Send a dead letter to its actor again")
async def replay(request: Request, dead_letter_id: RowId, principal: Principal = Depends(admin)) -> ReplayResult:
    from hub.queue.dead_letter_replay import replay_dead_letter

    hub = get_hub(request)
    if hub.runtime is None:
        raise ApiError(503, "unavailable", "the queue is not running in this process; replay with `hub dlq replay`")
    await replay_dead_letter(hub.database(), hub.runtime, dead_letter_id, actor=principal.actor)  # NotFound → 404
    log.info("dead_letter.replay_requested", dead_letter_id=dead_letter_id, by=principal.actor)
    return ReplayResult(id=dead_letter_id, replayed=True, detail=f"re-sent by {principal.actor}")
