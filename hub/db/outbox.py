"""The outbox: queue messages written in the same transaction as the change that causes them.

A service calls ``add`` inside its transaction; the relay (``hub.queue``) later takes unpublished
rows, sends them to the broker and marks them published. A rolled-back change therefore never
sends its event, and a committed one always does (at least once). Not for sending: the relay does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from hub.db.tables import OutboxRow, utcnow

_PENDING_KEY = "hub.outbox_pending"
_commit_listeners: list[Callable[[], None]] = []


def on_outbox_commit(listener: Callable[[], None]) -> None:
    """Call ``listener()`` after every commit that wrote outbox rows (the relay wakes up on it,
    so follow-up work starts at once instead of at the next relay poll)."""
    if listener not in _commit_listeners:
        _commit_listeners.append(listener)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_PENDING_KEY, False):
        for listener in list(_commit_listeners):
            listener()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def add(session: AsyncSession, actor: str, *args: Any, **kwargs: Any) -> None:
    """Queue ``actor(*args, **kwargs)`` to be sent once the caller's transaction commits.

    Arguments must be JSON values (ids, strings, numbers, lists, dicts); anything else raises
    ``TypeError`` here rather than in the relay.
    """
    try:
        json.dumps([args, kwargs], allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"outbox message for actor {actor!r} has an argument that is not JSON: {exc}") from exc
    session.add(OutboxRow(actor=actor, args=list(args), kwargs=dict(kwargs), created_at=utcnow()))
    session.sync_session.info[_PENDING_KEY] = True


async def take_unpublished(session: AsyncSession, limit: int = 500) -> list[OutboxRow]:
    """Up to ``limit`` unpublished rows, oldest first.

    On PostgreSQL the rows are locked (``FOR UPDATE SKIP LOCKED``) until the caller's transaction
    ends, so several relays share the work without sending a row twice; mark them published in
    that same transaction. SQLite serialises writers, so a plain read suffices there.
    """
    stmt = select(OutboxRow).where(OutboxRow.published_at.is_(None)).order_by(OutboxRow.id).limit(limit)
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.execute(stmt)).scalars().all())


async def mark_published(session: AsyncSession, ids: list[int]) -> None:
    if ids:
        await session.execute(update(OutboxRow).where(OutboxRow.id.in_(ids)).values(published_at=utcnow()))


async def purge_published(session: AsyncSession, older_than: timedelta) -> int:
    """Delete rows published more than ``older_than`` ago; returns how many."""
    result = await session.execute(
        delete(OutboxRow).where(OutboxRow.published_at.is_not(None), OutboxRow.published_at < utcnow() - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
