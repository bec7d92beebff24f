"""Replaying a dead letter: send its original input to its actor again, and note that it was and
who asked (``dead_letters.replayed_by`` and the audit log).

Called by ``hub dlq replay`` and the dead-letters API once the cause is fixed. Not for listing or
showing dead letters (``hub.db.dead_letters``).
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
        await dead_letters.mark_replayed(session, dl_id, actor=actor)
        await audit.record(session, actor=actor, action="dead_letter.replayed", subject=f"dead_letter:{dl_id}",
                           details={"actor": row.actor, "error_class": row.error_class,
                                    "replay_count": row.replay_count + 1})
    log.info("dead_letter.replayed", dead_letter_id=dl_id, actor=row.actor, by=actor)
