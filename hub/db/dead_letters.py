"""Dead letters: messages that failed for good, kept with their reason and original input.

An operator lists them, looks at one, and replays it (``hub dlq``, the API); replaying re-sends
the stored actor call and is counted here. Not for deciding what is permanent: the queue's retry
policy does that.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import DeadLetterRow, utcnow

MAX_REASON_CHARS = 4000


async def record(
    session: AsyncSession,
    *,
    actor: str,
    queue: str,
    args: list[Any],
    kwargs: dict[str, Any],
    reason: str,
    error_class: str,
    attempts: int,
    inbox_id: int | None = None,
) -> int:
    """Store a dead letter in the caller's transaction; returns its id."""
    row = DeadLetterRow(
        actor=actor,
        queue=queue,
        args=list(args),
        kwargs=dict(kwargs),
        reason=reason[:MAX_REASON_CHARS],
        error_class=error_class[:100],
        attempts=attempts,
        inbox_id=inbox_id,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row.id


async def list_dead_letters(
    session: AsyncSession, *, limit: int = 50, include_replayed: bool = False
) -> list[DeadLetterRow]:
    """The newest dead letters first; replayed ones only when asked for."""
    stmt = select(DeadLetterRow).order_by(DeadLetterRow.id.desc()).limit(limit)
    if not include_replayed:
        stmt = stmt.where(DeadLetterRow.replayed_at.is_(None))
    return list((await session.execute(stmt)).scalars().all())


async def get(session: AsyncSession, dl_id: int) -> DeadLetterRow | None:
    stmt = select(DeadLetterRow).where(DeadLetterRow.id == dl_id).execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def lock_open_of_actor(session: AsyncSession, actor: str, *, up_to_id: int, limit: int) -> list[DeadLetterRow]:
    """The not-yet-replayed dead letters of ``actor`` with ids up to ``up_to_id``, oldest first,
    locked for the caller's transaction (on PostgreSQL; rows another replay holds are skipped)."""
    stmt = (select(DeadLetterRow)
            .where(DeadLetterRow.actor == actor, DeadLetterRow.replayed_at.is_(None), DeadLetterRow.id <= up_to_id)
            .order_by(DeadLetterRow.id).limit(limit).execution_options(populate_existing=True))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.execute(stmt)).scalars())


async def count_open_of_actor(session: AsyncSession, actor: str, *, up_to_id: int) -> int:
    """How many not-yet-replayed dead letters ``actor`` has with ids up to ``up_to_id``."""
    return int(await session.scalar(
        select(func.count()).select_from(DeadLetterRow)
        .where(DeadLetterRow.actor == actor, DeadLetterRow.replayed_at.is_(None), DeadLetterRow.id <= up_to_id)) or 0)


async def mark_many_replayed(session: AsyncSession, dl_ids: list[int], *, actor: str) -> None:
    """``mark_replayed`` for several dead letters in one statement."""
    if dl_ids:
        await session.execute(
            update(DeadLetterRow).where(DeadLetterRow.id.in_(dl_ids))
            .values(replayed_at=utcnow(), replay_count=DeadLetterRow.replay_count + 1, replayed_by=actor[:100])
            .execution_options(synchronize_session=False)
        )


async def mark_replayed(session: AsyncSession, dl_id: int, *, actor: str) -> bool:
    """Note that ``actor`` sent the dead letter again; False when there is no such dead letter."""
    result = await session.execute(
        update(DeadLetterRow)
        .where(DeadLetterRow.id == dl_id)
        .values(replayed_at=utcnow(), replay_count=DeadLetterRow.replay_count + 1, replayed_by=actor[:100])
        .returning(DeadLetterRow.id)
    )
    return result.scalar_one_or_none() is not None
