"""Replaying a dead letter: send its original input to its actor again, and note that it was and
who asked (``dead_letters.replayed_by`` and the audit log). A replayed notification that carries
its outbox row's id makes that row owed again (``hub.db.outbox.mark_owed``).

Called by ``hub dlq replay``, the dead-letters API and the console once the cause is fixed (the
console also replays every open letter of one actor at once). Not for listing or showing dead
letters (``hub.db.dead_letters``).
"""

from __future__ import annotations

from typing import Any

import structlog

from hub.errors import NotFoundError

log = structlog.get_logger(__name__)


async def replay_dead_letter(database: Any, runtime: Any, dl_id: int, *, actor: str) -> None:
    """Re-send dead letter ``dl_id`` to its actor (fresh retry budget) and mark it replayed by ``actor``.

    Sends before marking, in the same transaction: if marking fails the letter stays unreplayed
    and may be replayed again, which idempotent actors tolerate.
    """
    from hub.db import audit, dead_letters

    async with database.transaction() as session:
        row = await dead_letters.get(session, dl_id)
        if row is None:
            raise NotFoundError(f"dead letter {dl_id} does not exist; list them with `hub dlq list`")
        runtime.send(row.actor, *(row.args or []), **(row.kwargs or {}))
        await _owed_again(session, row.kwargs)
        await dead_letters.mark_replayed(session, dl_id, actor=actor)
        await audit.record(session, actor=actor, action="dead_letter.replayed", subject=f"dead_letter:{dl_id}",
                           details={"actor": row.actor, "error_class": row.error_class,
                                    "replay_count": row.replay_count + 1})
    log.info("dead_letter.replayed", dead_letter_id=dl_id, actor=row.actor, by=actor)


async def _owed_again(session: Any, kwargs: dict[str, Any] | None) -> None:
    """A replayed notification (it carries its outbox row's id) is owed again until its actor
    finishes, so the outbox sweep covers the replay too should the broker lose it."""
    from hub.db import outbox

    outbox_id = outbox.outbox_id_of(kwargs)
    if outbox_id is not None:
        await outbox.mark_owed(session, outbox_id)


#: How many dead letters one "replay all of this actor" sends at most (the rest wait for the next).
MAX_BATCH_REPLAY = 200


async def replay_dead_letters_of(
    database: Any, runtime: Any, actor_name: str, *, up_to_id: int, actor: str, limit: int = MAX_BATCH_REPLAY,
) -> list[int]:
    """Re-send every not-yet-replayed dead letter of ``actor_name`` with an id up to ``up_to_id`` (the
    newest the operator saw: letters that died since are left for them to look at), at most
    ``limit``, oldest first; marked and audited together. Returns the ids sent.

    As ``replay_dead_letter``: sent before marking, in one transaction, so a failure part-way leaves
    them all unreplayed and replayable, and a letter sent twice is tolerated by idempotent actors.
    """
    from hub.db import audit, dead_letters

    async with database.transaction() as session:
        rows = await dead_letters.lock_open_of_actor(session, actor_name, up_to_id=up_to_id, limit=limit)
        for row in rows:
            runtime.send(row.actor, *(row.args or []), **(row.kwargs or {}))
            await _owed_again(session, row.kwargs)
        ids = [row.id for row in rows]
        await dead_letters.mark_many_replayed(session, ids, actor=actor)
        audit.record_many(session, actor=actor, action="dead_letter.replayed", entries=[
            (f"dead_letter:{row.id}", {"actor": row.actor, "error_class": row.error_class,
                                       "replay_count": row.replay_count + 1, "batch": True})
            for row in rows])
    log.info("dead_letter.batch_replayed", actor=actor_name, count=len(ids), up_to_id=up_to_id, by=actor)
    return ids
