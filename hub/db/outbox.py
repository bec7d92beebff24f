"""The outbox: queue messages written in the same transaction as the change that causes them.

A service calls ``add`` inside its transaction; the relay (``hub.queue``) later takes unpublished
rows, sends them to the broker and marks them published. A rolled-back change therefore never
sends its event, and a committed one always reaches the broker (at least once). "Published" means
the broker took it, not that the job ran: a broker that forgets it (a restart without
persistence) is covered by the sweepers (``hub.services.sweepers``), which re-derive the owed
follow-up from the business tables. Plugin notifications cannot be re-derived, so the rows of
``ACKED_ACTORS`` stay owed until their actor has finished: the relay sends them with the row's id
(keyword ``outbox_id``), the actor marks the row done (``mark_done``), and the outbox sweep makes a
row published long ago and still not done unpublished again. Every other row is done once
published. Rows published and done are purged after ``[queue] outbox_retention_days``; rows still
owed only once they were created that long ago.

Consecutive rows of one batch-processing actor (``MERGEABLE_ACTORS``) go out as one message
(``merged_messages``), up to that actor's cap (``merge_cap``): ``INGEST_MERGED_IDS`` (1,000) for
``process_inbox_batch`` — message channels and polls, whose batches the connectors fetch with list
calls that read each page for every order of the batch — and ``MERGED_IDS`` (200) for
``process_push_batch``. The workers' relay paces ingest rows so that several TMC consumes meet in
one message (``hub.queue.relay``). Not for sending: the relays do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, event, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from hub.db.tables import OutboxRow, utcnow

_PENDING_KEY = "hub.outbox_pending"
#: Actors whose rows stay owed until the actor has run (their follow-up is a plugin notification,
#: which no business table shows as missing): ``hub.pipeline.orders.orders_changed``,
#: ``hub.pipeline.fulfilment_actors.shipment_changed``, ``hub.pipeline.actors.aftersale_changed``;
#: ``hub.pipeline.fulfilment_actors.hand_shipped``, whose follow-up (closing delivery orders of an
#: order shipped by hand) no sweeper re-derives either; and
#: ``hub.pipeline.aftersales_writeback.aftersale_replacement_shipped`` (an exchange's replacement left:
#: its write-back to the platform, which nothing else would send).
#: Each takes the keyword ``outbox_id`` and calls ``mark_done`` when its work is complete.
ACKED_ACTORS = ("orders_changed", "shipment_changed", "aftersale_changed", "hand_shipped",
                "aftersale_replacement_shipped", "service_order_changed", "service_order_write",
                "service_order_alerted", "service_order_reassign")
#: The keyword that carries the row's id to an acknowledging actor.
OUTBOX_ID = "outbox_id"
#: Actors whose one argument is a list of inbox ids (``hub.services.backlog.PROCESS_ACTOR`` and
#: ``PUSH_PROCESS_ACTOR``): consecutive rows of one of them go out as one message of up to
#: ``merge_cap(actor)`` ids (``merged_messages``), not one per group commit.
MERGEABLE_ACTORS = ("process_inbox_batch", "process_push_batch")
#: The ingest actor (``hub.services.backlog.PROCESS_ACTOR``: message channels, polls, sweeps).
INGEST_ACTOR = "process_inbox_batch"
#: The push actor (``hub.services.backlog.PUSH_PROCESS_ACTOR``: what webhooks stored).
PUSH_ACTOR = "process_push_batch"
#: The most ids one merged message carries (``hub.services.backlog.MAX_BATCH_IDS``): webhook pushes.
MERGED_IDS = 200
#: The most ids one merged ``process_inbox_batch`` message carries: five TMC consumes of 200. A
#: burst's batches all list the same ``trades.sold.increment.get`` pages (every batch's time window
#: holds the whole burst), so a batch of 1,000 reads each page for ~5x the orders one of 200 does.
#: Safe for the database (``hub.services.ingest``, ``hub.services.orders.apply_orders``): its
#: statements are executemany or ``IN`` lists of at most 3 values per id, but for the orders' one
#: multi-row ``INSERT … RETURNING``, 24 values an order — 24,000 for 1,000, below SQLite's 32,766
#: and asyncpg's 32,767, and SQLAlchemy pages it at 32,700 should the columns grow
#: (``tests/integration/test_ingest_batches.py`` measures a 1,000-id batch and its follow-up).
INGEST_MERGED_IDS = 1000


def merge_cap(actor: str) -> int:
    """The most ids a merged message of ``actor`` (one of ``MERGEABLE_ACTORS``) carries."""
    return INGEST_MERGED_IDS if actor == INGEST_ACTOR else MERGED_IDS


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


async def take_unpublished(session: AsyncSession, limit: int = 500, *,
                           pushes_after: datetime | None = None) -> list[OutboxRow]:
    """Up to ``limit`` unpublished rows, oldest first.

    On PostgreSQL the rows are locked (``FOR UPDATE SKIP LOCKED``) until the caller's transaction
    ends, so several relays share the work without sending a row twice; mark them published in
    that same transaction. SQLite serialises writers, so a plain read suffices there.

    ``pushes_after``: push batch rows (``PUSH_ACTOR``) created after it are not taken (the API's
    relay sends them: a worker leaves fresh ones to it, ``hub.queue.relay``).
    """
    stmt = select(OutboxRow).where(OutboxRow.published_at.is_(None)).order_by(OutboxRow.id).limit(limit)
    if pushes_after is not None:
        stmt = stmt.where(or_(OutboxRow.actor != PUSH_ACTOR, OutboxRow.created_at <= pushes_after))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list((await session.execute(stmt)).scalars().all())


async def count_unpublished(session: AsyncSession) -> int:
    """How many committed rows the relay has not sent yet."""
    return int(await session.scalar(select(func.count()).select_from(OutboxRow).where(
        OutboxRow.published_at.is_(None))) or 0)


def message_kwargs(actor: str, row_id: int, kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """The keyword arguments to send row ``row_id`` with: its own, plus ``outbox_id`` for an
    acknowledging actor."""
    out = dict(kwargs or {})
    if actor in ACKED_ACTORS:
        out[OUTBOX_ID] = row_id
    return out


def merged_messages(rows: list[tuple[int, str, list[Any], dict[str, Any]]]
                    ) -> list[tuple[str, list[Any], dict[str, Any], list[int]]]:
    """The messages to send for ``rows`` (id, actor, args, kwargs), in id order, each with the
    ids of the rows it carries: runs of rows of one ``MERGEABLE_ACTORS`` actor whose only argument
    is a list of ids are merged up to ``merge_cap(actor)`` ids (a row that would overflow starts the
    next message; a row already over the cap goes out alone, as it is); rows of the acknowledging
    actors carry their id (``message_kwargs``)."""
    out: list[tuple[str, list[Any], dict[str, Any], list[int]]] = []
    for row_id, actor, args, kwargs in sorted(rows, key=lambda row: row[0]):
        kwargs = message_kwargs(actor, row_id, kwargs)
        mergeable = actor in MERGEABLE_ACTORS and not kwargs and len(args) == 1 and isinstance(args[0], list)
        if mergeable and out:
            last_actor, last_args, last_kwargs, last_rows = out[-1]
            if (last_actor == actor and not last_kwargs and len(last_args) == 1 and isinstance(last_args[0], list)
                    and len(last_args[0]) + len(args[0]) <= merge_cap(actor)):
                last_args[0].extend(args[0])
                last_rows.append(row_id)
                continue
        out.append((actor, [list(args[0])] if mergeable else list(args), kwargs, [row_id]))
    return out


async def mark_published(session: AsyncSession, ids: list[int]) -> None:
    """Mark rows handed to the broker: published, and done unless their actor acknowledges."""
    if ids:
        now = utcnow()
        await session.execute(update(OutboxRow).where(OutboxRow.id.in_(ids)).values(
            published_at=now, done_at=case((OutboxRow.actor.in_(ACKED_ACTORS), OutboxRow.done_at), else_=now)))


async def mark_done(session: AsyncSession, outbox_id: int) -> bool:
    """Row ``outbox_id``'s job is complete (or dead-lettered): no sweep sends it again. One UPDATE,
    idempotent; False if it was done already or is gone (purged)."""
    now = utcnow()
    result = await session.execute(
        update(OutboxRow).where(OutboxRow.id == outbox_id, OutboxRow.done_at.is_(None))
        .values(done_at=now, published_at=func.coalesce(OutboxRow.published_at, now))
        .execution_options(synchronize_session=False))
    return bool(getattr(result, "rowcount", 0))


async def mark_owed(session: AsyncSession, outbox_id: int) -> None:
    """Row ``outbox_id`` is owed again, as sent now (a dead letter replayed with it): the outbox
    sweep sends it again if the broker loses the replay too."""
    await session.execute(update(OutboxRow).where(OutboxRow.id == outbox_id)
                          .values(done_at=None, published_at=utcnow()).execution_options(synchronize_session=False))


def outbox_id_of(kwargs: dict[str, Any] | None) -> int | None:
    """The ``outbox_id`` a message carries, if any."""
    value = (kwargs or {}).get(OUTBOX_ID)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def purge_published(session: AsyncSession, older_than: timedelta | None = None, *,
                          before: datetime | None = None, limit: int | None = None) -> int:
    """Delete rows published and done more than ``older_than`` ago (or before ``before``), the
    oldest ``limit`` of them if given; returns how many. Unpublished rows and rows still owed are
    never deleted here (``purge_expired_owed`` gives up on the latter)."""
    if before is None:
        if older_than is None:
            raise TypeError("purge_published needs older_than or before")
        before = utcnow() - older_than
    done = or_(OutboxRow.done_at.is_not(None), OutboxRow.actor.not_in(ACKED_ACTORS))
    old = and_(OutboxRow.published_at.is_not(None), OutboxRow.published_at < before, done)
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


async def purge_expired_owed(session: AsyncSession, *, before: datetime, limit: int) -> list[tuple[int, str]]:
    """Delete up to ``limit`` rows still owed (published, not done) that were created before
    ``before`` — kept past the retention, their job is given up on; returns their (id, actor)
    for the caller to log."""
    stmt = (select(OutboxRow.id, OutboxRow.actor)
            .where(OutboxRow.done_at.is_(None), OutboxRow.published_at.is_not(None),
                   OutboxRow.actor.in_(ACKED_ACTORS), OutboxRow.created_at < before)
            .order_by(OutboxRow.published_at, OutboxRow.id).limit(limit))
    rows = [(int(i), str(a)) for i, a in (await session.execute(stmt)).all()]
    if rows:
        await session.execute(delete(OutboxRow).where(OutboxRow.id.in_([i for i, _ in rows])))
    return rows


def notify_outbox_commit() -> None:
    """What a session's commit does when it wrote outbox rows: wake the listeners (the relays)."""
    for listener in list(_commit_listeners):
        listener()
