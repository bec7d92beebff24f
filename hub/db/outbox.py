"""The outbox: queue messages written in the same transaction as the change that causes them.

A service calls ``add`` inside its transaction; the relay (``hub.queue``) later takes unpublished
rows, sends them to the broker and marks them published. A rolled-back change therefore never
sends its event, and a committed one always reaches the broker (at least once). "Published" means
the broker took it, not that the job ran: a broker that forgets it (a restart without
persistence) is covered by the sweepers (``hub.services.sweepers``), which re-derive the owed
follow-up from the business tables. Published rows are purged after ``[queue]
outbox_retention_days``. Not for sending: the relay does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, event, func, select, update
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


async def count_unpublished(session: AsyncSession) -> int:
    """How many committed rows the relay has not sent yet."""
    return int(await session.scalar(select(func.count()).select_from(OutboxRow).where(
        OutboxRow.published_at.is_(None))) or 0)


async def mark_published(session: AsyncSession, ids: list[int]) -> None:
    if ids:
        await session.execute(update(OutboxRow).where(OutboxRow.id.in_(ids)).values(published_at=utcnow()))


async def purge_published(session: AsyncSession, older_than: timedelta | None = None, *,
                          before: datetime | None = None, limit: int | None = None) -> int:
    """Delete rows published more than ``older_than`` ago (or before ``before``), the oldest
    ``limit`` of them if given; returns how many. Unpublished rows are never deleted."""
    if before is None:
        if older_than is None:
            raise TypeError("purge_published needs older_than or before")
        before = utcnow() - older_than
    old = and_(OutboxRow.published_at.is_not(None), OutboxRow.published_at < before)
    if limit is None:
        result = await session.execute(delete(OutboxRow).where(old))
    else:
        # ix_outbox_unpublished (published_at, id) serves both the filter and the order.
        oldest = select(OutboxRow.id).where(old).order_by(OutboxRow.published_at, OutboxRow.id).limit(limit)
        ids = list((await session.execute(oldest)).scalars())
        if not ids:
            return 0
        result = await session.execute(delete(OutboxRow).where(OutboxRow.id.in_(ids)))
    return int(getattr(result, "rowcount", 0) or 0)


def notify_outbox_commit() -> None:
    """What a session's commit does when it wrote outbox rows: wake the listeners (the relays)."""
    for listener in list(_commit_listeners):
        listener()
