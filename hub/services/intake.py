"""The one entry of every event source: store messages in the inbox, then hand them to workers.

Pushes (webhooks), message channels (TMC), polls and manual imports all call
``accept_messages``. Concurrent calls on one event loop are committed together (group commit):
calls queue while a group transaction runs, and the next transaction takes all that waits (up
to ``MAX_GROUP_MESSAGES``) — one ``INSERT … ON CONFLICT DO NOTHING`` (unique per platform, shop
and message id, so a redelivered message is dropped here), one outbox row
``process_inbox_batch(ids)`` per ``BATCH_IDS`` new rows, one commit (on PostgreSQL all of it is
one statement on the asyncpg connection, an implicit transaction: ``inbox.record_many_driver``).
Every caller returns only after its group committed, and every caller of a group that failed gets
its error, so nothing is acknowledged that is not stored. There is no timer: a call that finds no transaction running
starts one at once, so a lone call waits for nothing but its own commit; more transactions run at
once only while full groups wait (``MAX_FLUSHES``, ``FULL_GROUP``). What waits is bounded
(``MAX_QUEUED_MESSAGES``, then ``IntakeBusy``). The queue message is never sent on the caller's
loop: an outbox relay sends it after the commit (``hub.queue.relay`` in workers and embedded hubs,
``hub.api.outbox_relay`` in ``hub serve``; both wake on the commit), so a broker outage delays the
processing, never the acknowledgement. Queue messages carry inbox ids, never payloads; what the
worker does with them is ``hub.services.ingest``. Not for parsing partner formats (connectors do
that) nor for order rules (``hub.services.orders``).
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from contracts.events import InboundMessage, MessageKind
from hub import metrics
from hub.context import Hub
from hub.db import inbox, outbox
from hub.db.engine import Database
from hub.db.tables import utcnow
from hub.services.backlog import PROCESS_ACTOR, processing_actor

__all__ = ["PROCESS_ACTOR", "accept_messages", "poll_message_id"]

log = structlog.get_logger(__name__)

#: Most messages one group transaction stores (more calls wait for the next group).
MAX_GROUP_MESSAGES = 1_000
#: Most messages waiting for a group on one loop; a call that would go beyond is refused with
#: ``IntakeBusy`` (a push answers 503 with Retry-After) rather than growing the queue without bound.
MAX_QUEUED_MESSAGES = 10_000
#: Group transactions in flight at once on one loop (PostgreSQL; SQLite has one writer, so one).
#: One runs whenever calls wait; another starts, or goes on, only for ``FULL_GROUP`` waiting calls:
#: while commits are quick, one transaction at a time takes what gathered meanwhile (large groups,
#: least CPU); when commits are slow (a busy disk), calls pile up and more transactions run at once.
MAX_FLUSHES = 8
FULL_GROUP = 8
#: Most inbox ids in one ``process_inbox_batch`` message.
BATCH_IDS = 200
#: Shop names listed in a group's log line (the count is always there).
LOGGED_SHOPS = 10


class IntakeBusy(Exception):
    """More messages are waiting to be stored on this loop than ``MAX_QUEUED_MESSAGES``: try later."""

    retry_after_s = 1


@dataclass(slots=True)
class _Call:
    platform: str
    shop: str
    source: str
    messages: list[InboundMessage]
    done: asyncio.Future[list[int]]
    ids: list[int] = field(default_factory=list)


class GroupCommit:
    """The calls waiting to be stored on one event loop for one database, and the task storing them."""

    def __init__(self, database: Database) -> None:
        # No reference to ``database``: it is this object's key in a weak mapping.
        self.waiting: deque[_Call] = deque()
        self.queued = 0  # messages in ``waiting``
        self.running = 0  # ``_drain`` tasks running
        self.tasks: set[asyncio.Task[None]] = set()  # the same tasks, held (the loop keeps weak references)
        self.max_flushes = MAX_FLUSHES if database.dialect == "postgresql" else 1
        self.commits = 0  # group transactions committed (tests count them)

    async def submit(self, database: Database, platform: str, shop: str, source: str,
                     messages: list[InboundMessage]) -> list[int]:
        if self.queued and self.queued + len(messages) > MAX_QUEUED_MESSAGES:
            raise IntakeBusy(f"{self.queued} messages are waiting to be stored; retry shortly")
        loop = asyncio.get_running_loop()
        call = _Call(platform, shop, source, messages, loop.create_future())
        self.waiting.append(call)
        self.queued += len(messages)
        if not self.running or (self.running < self.max_flushes and len(self.waiting) >= FULL_GROUP):
            self.running += 1
            # A fresh context: the group's log line must not carry the first caller's request id.
            task = loop.create_task(self._drain(database), context=contextvars.Context())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await call.done

    async def _drain(self, database: Database) -> None:
        # One connection for a run of groups: one pool checkout (and its pre-ping round trip)
        # per burst rather than per group; a group that fails gives it up for a fresh one.
        connection: AsyncConnection | None = None
        try:
            while self.waiting:
                if self.running > 1 and len(self.waiting) < FULL_GROUP:
                    break  # another transaction is in flight and takes these when it is done
                group = self._take()
                try:
                    if connection is None:
                        connection = await database.engine.connect()
                    await self._commit(database, connection, group)
                except Exception as exc:
                    for call in group:  # nothing of the group is stored: nobody may acknowledge
                        if not call.done.done():
                            call.done.set_exception(exc)
                    if connection is not None:
                        await _release(connection)
                        connection = None
                    continue
                except BaseException:
                    for call in group:
                        call.done.cancel()
                    raise
                for call in group:
                    if not call.done.done():
                        call.done.set_result(call.ids)
        finally:
            self.running -= 1  # in the same step as the loop's last check: no call is left behind
            if not self.running:
                while self.waiting:  # cancelled (the loop is stopping): nobody will store these
                    self.waiting.popleft().done.cancel()
                self.queued = 0
            if connection is not None:
                await _release(connection)

    def _take(self) -> list[_Call]:
        group: list[_Call] = []
        size = 0
        while self.waiting and (not group or size + len(self.waiting[0].messages) <= MAX_GROUP_MESSAGES):
            call = self.waiting.popleft()
            group.append(call)
            size += len(call.messages)
        self.queued -= size
        return group

    async def _commit(self, database: Database, connection: AsyncConnection, group: list[_Call]) -> None:
        batch = [(call.platform, call.shop, call.source, message) for call in group for message in call.messages]
        if database.dialect == "postgresql":
            inserted = await _commit_driver(connection, group, batch)
        else:
            inserted = await _commit_session(database, connection, group, batch)
        self.commits += 1
        owner = {(call.platform, call.shop): call for call in group}
        if len(owner) < len(group):  # several calls for one shop: the message id tells them apart
            by_message = {(call.platform, call.shop, m.message_id): call for call in reversed(group)
                          for m in call.messages}
            for row_id, platform, shop, message_id in inserted:
                by_message[(platform, shop, message_id)].ids.append(row_id)
        else:
            for row_id, platform, shop, _ in inserted:
                owner[(platform, shop)].ids.append(row_id)
        for call in group:
            call.ids.sort()
        _count(group, len(inserted))


async def _commit_session(database: Database, connection: AsyncConnection, group: list[_Call],
                          batch: list[tuple[str, str, str, InboundMessage]]) -> list[tuple[int, str, str, str]]:
    """The group's transaction through SQLAlchemy (SQLite, and any dialect but PostgreSQL)."""
    # As ``Database.transaction()`` does, on the drain's connection: commit, or roll back on any error.
    async with AsyncSession(bind=connection, expire_on_commit=False) as session:
        if database.dialect == "sqlite":
            await session.execute(text("BEGIN IMMEDIATE"))
        try:
            inserted = await inbox.record_many(session, batch, received_at=utcnow())
            for actor, ids in _owed(group, inserted).items():
                for start in range(0, len(ids), BATCH_IDS):
                    outbox.add(session, actor, ids[start : start + BATCH_IDS])
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
    return inserted


async def _commit_driver(connection: AsyncConnection, group: list[_Call],
                         batch: list[tuple[str, str, str, InboundMessage]]) -> list[tuple[int, str, str, str]]:
    """The group's transaction on PostgreSQL: one statement on the asyncpg connection under
    ``connection`` stores the rows and the ``process_*_batch`` rows owed for them
    (``inbox.record_many_driver``), committed when it returns (an implicit transaction: all or
    nothing) — no BEGIN and COMMIT round trips, none of SQLAlchemy's session, result and adapter
    layers, which cost several times the statement at a group per few pushes."""
    fairy = await connection.get_raw_connection()
    driver: Any = fairy.driver_connection
    actor_of = {call.source: processing_actor(call.source) for call in group}
    try:
        inserted = await inbox.record_many_driver(driver, batch, received_at=utcnow(), actor_of=actor_of,
                                                  batch_ids=BATCH_IDS)
    except BaseException:
        # SQLAlchemy's pool does not know what this statement left behind (cancelled mid-way, a
        # broken socket): never hand the connection back; the pool opens a fresh one.
        await connection.invalidate()
        raise
    if inserted:
        outbox.notify_outbox_commit()
    return inserted

async def _release(connection: AsyncConnection) -> None:
    try:
        await connection.close()
    except Exception:  # already broken: the pool drops it
        log.debug("intake.connection_close_failed", exc_info=True)


def _owed(group: list[_Call], inserted: list[tuple[int, str, str, str]]) -> dict[str, list[int]]:
    """The new rows' ids by the actor that processes them: the queue follows the source (pushes
    have their own, ``hub.services.backlog.processing_actor``)."""
    owed: dict[str, list[int]] = {}
    sources = {call.source for call in group}
    if len(sources) == 1:
        owed[processing_actor(sources.pop())] = [row_id for row_id, _, _, _ in inserted]
    else:
        source_of = {(call.platform, call.shop, m.message_id): call.source for call in group for m in call.messages}
        for row_id, platform, shop, message_id in inserted:
            owed.setdefault(processing_actor(source_of[(platform, shop, message_id)]), []).append(row_id)
    return {actor: sorted(ids) for actor, ids in sorted(owed.items())}


def _count(group: list[_Call], new: int) -> None:
    kinds: Counter[tuple[str, str, str]] = Counter()
    for call in group:
        for message in call.messages:
            kinds[(call.platform, call.source, message.kind.value)] += 1
    for (platform, source, kind), count in kinds.items():
        metrics.MESSAGES_INGESTED.labels(platform, source, kind).inc(count)
    shops = sorted({call.shop for call in group})
    log.info("inbox.recorded", calls=len(group), messages=sum(kinds.values()), new=new,
             sources=sorted({call.source for call in group}), shops=shops[:LOGGED_SHOPS], shop_count=len(shops))


_groups: weakref.WeakKeyDictionary[Database, GroupCommit] = weakref.WeakKeyDictionary()


def group_commit(database: Database) -> GroupCommit:
    """The group committer of ``database`` (one per database and loop, as ``Database`` is)."""
    group = _groups.get(database)
    if group is None:
        group = _groups[database] = GroupCommit(database)
    return group


async def accept_messages(
    hub: Hub, *, platform: str, shop: str, source: str, messages: list[InboundMessage]
) -> list[int]:
    """Record ``messages`` durably with their ``process_inbox_batch`` owed; returns the ids of the
    new inbox rows.

    Messages already in the inbox (same platform, shop and message id) are skipped silently: that is
    how at-least-once delivery from partners becomes exactly-once processing. Pings are never
    stored, nor a message the inbox cannot hold (``inbox.unstorable``: logged as
    ``intake.message_rejected``), so a caller's other messages, and the other callers of its
    group, are stored without it; the push route checks first, to list those it refuses.
    Returns only after the transaction committed, so a caller may acknowledge the partner
    (TMC confirm, HTTP 200) as soon as this returns; raises ``IntakeBusy`` when too much is already
    waiting on this loop.
    """
    storable = [m for m in messages if m.kind is not MessageKind.PING and _storable(m, platform, shop, source)]
    if not storable:
        return []
    database = hub.database()
    return await group_commit(database).submit(database, platform, shop, source, storable)


def _storable(message: InboundMessage, platform: str, shop: str, source: str) -> bool:
    """Whether the inbox can hold ``message``; one it cannot (an id over its column, a NUL) is
    logged and left out, so it fails neither its own batch nor the others in its group."""
    reason = inbox.unstorable(message)
    if reason is None:
        return True
    log.warning("intake.message_rejected", platform=platform, shop=shop, source=source,
                message_id=ascii(message.message_id[:64]), reason=reason)
    return False


def poll_message_id(shop: str, external_id: str, updated_at: datetime, raw_status: str = "") -> str:
    """Inbox key for an object seen by a poll: one row per (object, modification time, status).

    The status is part of the key because platform modification times can be coarse (TOP gives
    whole seconds): a trade paid in the second it was created is a second observation, not a
    repeat of the first, or a shop that only polls would never see the payment.
    """
    stamp = int(updated_at.astimezone(UTC).timestamp() * 1000)
    return f"poll:{shop}:{external_id}:{stamp}:{raw_status}" if raw_status else f"poll:{shop}:{external_id}:{stamp}"
