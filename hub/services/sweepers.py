"""Sweepers: find committed work whose follow-up never happened, and enqueue it again.

The outbox relay marks a message published once the broker has it; a broker that then forgets
it (a Redis restart without persistence, a failover, a lost AOF tail) would lose the follow-up
silently. Each sweeper re-derives what is still owed from the business tables — paid orders
with no reservation or still short with their stock hold lifted, cancelled or shipped orders
still holding stock, pending shipments the channel was never told about, inbox rows pending or
failed and due — and re-enqueues it. Plugin notifications (``orders_changed``,
``shipment_changed``, ``aftersale_changed``) leave no trace in the business tables, so their outbox
rows stay owed until the actor has run (``hub.db.outbox.ACKED_ACTORS``): the outbox sweep makes a
row published longer than ``sweep_after_s`` ago and not done unpublished again, and the relays send
it again. The
actors are idempotent on business keys (reservations per order line, the confirmation's
idempotency key, inbox row status), so a sweep that races a slow message does no harm.

One set-based query per sweeper run, oldest first, at most ``[queue] sweep_batch`` items.
"In flight" is time-based: an item changed less than ``sweep_after_s`` ago, or re-enqueued by a
sweeper less than that ago (``swept_at``), is left alone. So work the broker lost is enqueued
again within ``sweep_interval_s + sweep_after_s``. Not for the dirty stock sweep
(``hub.services.stock.scheduling.dirty_shops``, which has its own pending-push flag) nor for retries
of a failing job (the queue's retry policy).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.orders import OrderStatus
from hub.context import Hub
from hub.db import outbox
from hub.db.tables import (
    InboxRow,
    OrderHoldRow,
    OrderLineRow,
    OrderRow,
    OutboxRow,
    ReservationRow,
    ShipmentRow,
    Shop,
)
from hub.services.backlog import processing_actor
from hub.services.fulfilment import shipments as fulfilment
from hub.services.order_flow import CONSUME_STATUSES, HOLDING_STATUSES, RELEASE_STATUSES
from hub.services.stock import effects as stock_effects
from hub.services.stock.effects import SKU_UNKNOWN, STOCK_SHORT
from hub.services.stock.reservations import ACTIVE, SHORT

log = structlog.get_logger(__name__)

ORDERS_CHANGED_ACTOR = "orders_changed"
SETTLE_STOCK_ACTOR = "settle_order_stock"
#: Inbox rows per re-enqueued ``process_inbox_batch`` message.
INBOX_CHUNK = 100
#: The outbox purge deletes at most this many batches per run (the next run takes the rest).
PURGE_MAX_BATCHES = 20


@dataclass(frozen=True)
class SweepWindow:
    """The sweep's notion of time: ``cutoff`` separates in-flight work from lost work."""

    now: datetime
    cutoff: datetime
    horizon: datetime
    batch: int

    @classmethod
    def of(cls, hub: Hub, now: datetime | None = None) -> SweepWindow:
        queue = hub.config.queue
        at = now or datetime.now(UTC)
        return cls(now=at, cutoff=at - timedelta(seconds=queue.sweep_after_s),
                   horizon=at - timedelta(days=queue.sweep_horizon_days), batch=queue.sweep_batch)


def _postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def _not_swept_since(column: Any, window: SweepWindow) -> ColumnElement[bool]:
    return or_(column.is_(None), column < window.cutoff)


def _shop_paused(shop_column: Any, window: SweepWindow) -> ColumnElement[bool]:
    """The shop is paused (its work would only fail again; it is swept once the shop resumes)."""
    return exists().where(Shop.name == shop_column, Shop.status == "paused",
                          or_(Shop.paused_until.is_(None), Shop.paused_until > window.now))


# --------------------------------------------------------------------------- orders


@dataclass(frozen=True)
class OwedOrder:
    order_id: int
    status: str
    untouched: bool  # no reservation and no hold at all: the whole order_changed follow-up was lost


def _reserves(hub: Hub) -> ColumnElement[bool]:
    """Statuses in which the order should hold (or have consumed) stock, per shop's ``reserve_on``."""
    statuses = sorted(s.value for s in HOLDING_STATUSES | CONSUME_STATUSES)
    on_created = sorted(name for name, shop in hub.config.shops.items() if shop.reserve_on == "created")
    taken: ColumnElement[bool] = OrderRow.status.in_(statuses)
    if on_created:
        taken = or_(taken, and_(OrderRow.status == OrderStatus.PENDING_PAYMENT.value, OrderRow.shop.in_(on_created)))
    return taken


async def claim_owed_orders(hub: Hub, now: datetime | None = None) -> list[OwedOrder]:
    """Orders whose stock follow-up is owed and not in flight, marked swept (oldest change first).

    Owed: a status that takes stock but no reservation at all (unless an open ``sku_unknown``
    hold explains it); such a status with lines still short but no open ``stock_short`` hold (a
    person lifted it and the retry it owes, ``order_hold_released``, was lost); cancelled or
    closed but still holding reservations; shipped (by the channel, or every unit recorded by a
    warehouse) but still holding them.
    """
    window = SweepWindow.of(hub, now)
    order = OrderRow.id
    any_reservation = exists().where(ReservationRow.order_id == order)
    holding = exists().where(ReservationRow.order_id == order,
                             ReservationRow.state.in_([ACTIVE, SHORT]))
    any_hold = exists().where(OrderHoldRow.order_id == order)
    unknown_sku = exists().where(OrderHoldRow.order_id == order, OrderHoldRow.code == SKU_UNKNOWN,
                                 OrderHoldRow.released_at.is_(None))
    has_lines = exists().where(OrderLineRow.order_id == order)
    never_reserved = and_(_reserves(hub), ~any_reservation, ~unknown_sku, has_lines)
    short = exists().where(ReservationRow.order_id == order, ReservationRow.state == SHORT)
    short_hold = exists().where(OrderHoldRow.order_id == order, OrderHoldRow.code == STOCK_SHORT,
                                OrderHoldRow.released_at.is_(None))
    short_unheld = and_(OrderRow.status.in_(sorted(s.value for s in HOLDING_STATUSES)), short, ~short_hold)
    not_released = and_(OrderRow.status.in_(sorted(s.value for s in RELEASE_STATUSES)), holding)
    not_consumed = and_(or_(OrderRow.status.in_(sorted(s.value for s in CONSUME_STATUSES)),
                            OrderRow.fulfilment_status == "shipped"), holding)
    stmt = (select(OrderRow.id, OrderRow.status, and_(~any_reservation, ~any_hold).label("untouched"))
            .where(OrderRow.updated_at < window.cutoff, OrderRow.updated_at >= window.horizon,
                   _not_swept_since(OrderRow.swept_at, window),
                   or_(never_reserved, short_unheld, not_released, not_consumed))
            .order_by(OrderRow.updated_at, OrderRow.id).limit(window.batch))
    async with hub.database().transaction() as session:
        if _postgres(session):
            stmt = stmt.with_for_update(of=OrderRow, skip_locked=True)
        owed = [OwedOrder(int(i), str(s), bool(u)) for i, s, u in (await session.execute(stmt)).all()]
        if owed:
            # updated_at kept as it was: being swept is not a change of the order.
            await session.execute(update(OrderRow).where(OrderRow.id.in_([o.order_id for o in owed]))
                                  .values(swept_at=window.now, updated_at=OrderRow.updated_at)
                                  .execution_options(synchronize_session=False))
    return owed


async def sweep_orders(hub: Hub, now: datetime | None = None) -> int:
    """Re-enqueue the stock follow-up of every owed order; returns how many. The orders none of
    whose follow-up happened go as one ``orders_changed`` batch (notification, audit, stock, all
    in one transaction), the others each as ``settle_order_stock``."""
    owed = await claim_owed_orders(hub, now)
    untouched = [[item.order_id, None, item.status, "sweep"] for item in owed if item.untouched]
    if untouched:
        await asyncio.to_thread(hub.send, ORDERS_CHANGED_ACTOR, untouched)
    for item in owed:
        if not item.untouched:
            await asyncio.to_thread(hub.send, SETTLE_STOCK_ACTOR, item.order_id)
    if owed:
        log.warning("order.swept", count=len(owed), order_ids=[o.order_id for o in owed[:20]])
    return len(owed)


async def settle_order_stock(hub: Hub, order_id: int) -> None:
    """Bring the order's stock in line with its status now: reserve what it should hold, give back
    what a cancelled order holds, consume what a shipped one holds. Each step is idempotent
    (``hub.services.stock.effects``); audit rules are not re-run (a person may have released
    their holds)."""
    async with hub.database().session() as session:
        row = (await session.execute(select(OrderRow).where(OrderRow.id == order_id))).scalar_one_or_none()
    if row is None:
        return
    status = OrderStatus(row.status)
    if status in RELEASE_STATUSES:
        await stock_effects.release_order(hub, order_id)
        return
    shop = hub.config.shops.get(row.shop)
    if status in HOLDING_STATUSES | CONSUME_STATUSES or (shop is not None and shop.reserve_on == "created"):
        await stock_effects.reserve_order(hub, order_id)
    if status in CONSUME_STATUSES or row.fulfilment_status == "shipped":
        await stock_effects.consume_order(hub, order_id)


# --------------------------------------------------------------------------- shipments


def _confirmation_overdue(attempts: Any, stamp: Any, cutoff: datetime) -> ColumnElement[bool]:
    """True for a shipment whose next confirmation is overdue: never attempted and older than the
    cutoff, or last attempted longer ago than the retry the queue would have made by now (the
    ``confirm_shipment`` actor's exponential backoff after that many attempts, at its ceiling), on
    top of the cutoff. One clause per attempt count until the backoff reaches its maximum."""
    clauses = [and_(attempts == 0, stamp < cutoff)]
    n = 1
    while True:
        wait_ms = min(fulfilment.CONFIRM_MAX_BACKOFF_MS, fulfilment.CONFIRM_MIN_BACKOFF_MS * 2 ** n)
        late = stamp < cutoff - timedelta(milliseconds=wait_ms)
        if wait_ms >= fulfilment.CONFIRM_MAX_BACKOFF_MS:
            clauses.append(and_(attempts >= n, late))
            return or_(*clauses)
        clauses.append(and_(attempts == n, late))
        n += 1


async def claim_owed_shipments(hub: Hub, now: datetime | None = None) -> list[int]:
    """Pending shipments the channel was not told about and no confirmation is in flight for:
    never attempted and older than ``sweep_after_s``, or last attempted longer ago than the
    confirmation's retry backoff for its attempt count on top. Shops that are paused wait."""
    window = SweepWindow.of(hub, now)
    stamp = func.coalesce(ShipmentRow.updated_at, ShipmentRow.created_at)
    stmt = (select(ShipmentRow.id).join(OrderRow, OrderRow.id == ShipmentRow.order_id)
            .where(ShipmentRow.status == fulfilment.PENDING, _not_swept_since(ShipmentRow.swept_at, window),
                   _confirmation_overdue(ShipmentRow.attempts, stamp, window.cutoff),
                   ~_shop_paused(OrderRow.shop, window))
            .order_by(ShipmentRow.id).limit(window.batch))
    async with hub.database().transaction() as session:
        if _postgres(session):
            stmt = stmt.with_for_update(of=ShipmentRow, skip_locked=True)
        ids = [int(i) for i in (await session.execute(stmt)).scalars()]
        if ids:
            await session.execute(update(ShipmentRow).where(ShipmentRow.id.in_(ids))
                                  .values(swept_at=window.now, updated_at=ShipmentRow.updated_at)
                                  .execution_options(synchronize_session=False))
    return ids


async def sweep_shipments(hub: Hub, now: datetime | None = None) -> int:
    """Re-enqueue the channel confirmation of every owed shipment; returns how many."""
    ids = await claim_owed_shipments(hub, now)
    for shipment_id in ids:
        await asyncio.to_thread(hub.send, fulfilment.CONFIRM_ACTOR, shipment_id)
    if ids:
        log.warning("shipment.swept", count=len(ids), shipment_ids=ids[:20])
    return len(ids)


# --------------------------------------------------------------------------- inbox


async def claim_owed_inbox(hub: Hub, now: datetime | None = None) -> list[int]:
    """Inbox rows still pending, or failed and due for their retry, older than ``sweep_after_s``
    and not swept since; rows of paused shops wait for the shop."""
    return [row_id for row_id, _ in await _claim_owed_inbox(hub, now)]


async def _claim_owed_inbox(hub: Hub, now: datetime | None) -> list[tuple[int, str]]:
    """``claim_owed_inbox`` with each row's source, which decides its queue."""
    window = SweepWindow.of(hub, now)
    owed = or_(and_(InboxRow.status == "pending", InboxRow.received_at < window.cutoff),
               and_(InboxRow.status == "failed", InboxRow.processed_at < window.cutoff))
    stmt = (select(InboxRow.id, InboxRow.source)
            .where(owed, _not_swept_since(InboxRow.swept_at, window), ~_shop_paused(InboxRow.shop, window))
            .order_by(InboxRow.id).limit(window.batch))
    async with hub.database().transaction() as session:
        if _postgres(session):
            stmt = stmt.with_for_update(of=InboxRow, skip_locked=True)
        rows = [(int(i), str(source)) for i, source in (await session.execute(stmt)).all()]
        if rows:
            await session.execute(update(InboxRow).where(InboxRow.id.in_([i for i, _ in rows]))
                                  .values(swept_at=window.now).execution_options(synchronize_session=False))
    return rows


async def sweep_inbox(hub: Hub, now: datetime | None = None) -> int:
    """Re-enqueue owed inbox rows, ``INBOX_CHUNK`` to a message, each on the queue its source's
    rows are processed from (pushes on ``webhooks``, the rest on ``ingest``); returns how many rows."""
    rows = await _claim_owed_inbox(hub, now)
    by_actor: dict[str, list[int]] = {}
    for row_id, source in rows:
        by_actor.setdefault(processing_actor(source), []).append(row_id)
    for actor, ids in sorted(by_actor.items()):
        for start in range(0, len(ids), INBOX_CHUNK):
            await asyncio.to_thread(hub.send, actor, ids[start:start + INBOX_CHUNK])
    ids = [row_id for row_id, _ in rows]
    if ids:
        log.warning("inbox.swept", count=len(ids))
    return len(ids)


# --------------------------------------------------------------------------- notifications (outbox)


async def acknowledge(hub: Hub, outbox_id: int | None) -> None:
    """An acknowledging actor finished the job of outbox row ``outbox_id``: mark it done (one
    UPDATE; nothing when the message came without a row, from a test, the CLI or a sweeper)."""
    if outbox_id is None:
        return
    async with hub.database().transaction() as session:
        await outbox.mark_done(session, outbox_id)


async def claim_owed_outbox(hub: Hub, now: datetime | None = None) -> list[tuple[int, str]]:
    """Outbox rows of the acknowledging actors published longer than ``sweep_after_s`` ago and not
    done, oldest publication first, at most ``sweep_batch``: made unpublished again (the relays
    send them again, which stamps them published anew, so a row is swept at most once per window).
    Returns their (id, actor)."""
    window = SweepWindow.of(hub, now)
    # ix_outbox_owed (published_at, id) WHERE done_at IS NULL serves the filter and the order.
    stmt = (select(OutboxRow.id, OutboxRow.actor)
            .where(OutboxRow.done_at.is_(None), OutboxRow.published_at < window.cutoff,
                   OutboxRow.actor.in_(outbox.ACKED_ACTORS))
            .order_by(OutboxRow.published_at, OutboxRow.id).limit(window.batch))
    async with hub.database().transaction() as session:
        if _postgres(session):
            stmt = stmt.with_for_update(of=OutboxRow, skip_locked=True)
        rows = [(int(i), str(a)) for i, a in (await session.execute(stmt)).all()]
        if rows:
            await session.execute(update(OutboxRow).where(OutboxRow.id.in_([i for i, _ in rows]),
                                                          OutboxRow.done_at.is_(None))
                                  .values(published_at=None).execution_options(synchronize_session=False))
    return rows


async def sweep_outbox(hub: Hub, now: datetime | None = None) -> int:
    """Send again the plugin notifications whose actor never finished (the broker lost the
    message); returns how many rows were made owed again."""
    rows = await claim_owed_outbox(hub, now)
    if rows:
        outbox.notify_outbox_commit()  # wake this process's relays
        by_actor: dict[str, int] = {}
        for _, actor in rows:
            by_actor[actor] = by_actor.get(actor, 0) + 1
        log.warning("outbox.swept", count=len(rows), actors=by_actor, outbox_ids=[i for i, _ in rows[:20]])
    return len(rows)


# --------------------------------------------------------------------------- outbox housekeeping


async def purge_outbox(hub: Hub, now: datetime | None = None) -> int:
    """Delete outbox rows published and done longer than ``[queue] outbox_retention_days`` ago, in
    batches of ``sweep_batch`` (one short transaction each); returns how many. A notification
    still owed is kept until it was created that long ago, then deleted too and logged
    (``outbox.owed_expired``): its plugins never heard of it."""
    queue = hub.config.queue
    before = (now or datetime.now(UTC)) - timedelta(days=queue.outbox_retention_days)
    purged = 0
    for _ in range(PURGE_MAX_BATCHES):
        async with hub.database().transaction() as session:
            deleted = await outbox.purge_published(session, before=before, limit=queue.sweep_batch)
        purged += deleted
        if deleted < queue.sweep_batch:
            break
    expired: list[tuple[int, str]] = []
    for _ in range(PURGE_MAX_BATCHES):
        async with hub.database().transaction() as session:
            batch = await outbox.purge_expired_owed(session, before=before, limit=queue.sweep_batch)
        expired += batch
        if len(batch) < queue.sweep_batch:
            break
    if expired:
        log.error("outbox.owed_expired", count=len(expired), outbox_ids=[i for i, _ in expired[:20]],
                  actors=sorted({a for _, a in expired}), retention_days=queue.outbox_retention_days)
    purged += len(expired)
    if purged:
        log.info("outbox.purged", count=purged)
    return purged
