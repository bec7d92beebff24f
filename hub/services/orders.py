"""The order service: turns a channel's canonical ``Order`` into the hub's stored order.

Upsert by (platform, shop, external id) on a unique constraint — never check-then-insert; the
canonical state machine applied monotonically (a stale or repeated report is recorded in the
history but never moves the state backwards); a channel cancellation after fulfilment started
becomes a ``cancel_requested`` hold for a person; every change written to ``order_events`` with
its cause; follow-up work written to the outbox in the same transaction. Not for fetching orders
from partners (the pipeline does that) nor for stock (``hub.services.stock``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.fulfilment import Hold
from contracts.orders import (
    FulfilmentStatus,
    Order,
    OrderStatus,
    TransitionVerdict,
    fulfilment_after,
    fulfilment_reported_by,
    judge_transition,
)
from hub.db import bindings, outbox
from hub.db.tables import OrderEventRow, OrderHoldRow, OrderLineRow, OrderRow
from hub.db.upsert import insert_ignore

#: Fulfilment states after which a channel cancellation can no longer simply be applied.
FULFILMENT_STARTED = frozenset({"routed", "sent_to_warehouse", "partially_shipped", "shipped"})
CANCEL_STATUSES = frozenset({OrderStatus.CANCELLED, OrderStatus.CLOSED})


class Change(StrEnum):
    CREATED = "created"
    STATUS_CHANGED = "status_changed"
    REPEATED = "repeated"
    STALE = "stale"
    CANCEL_REQUESTED = "cancel_requested"
    DETAILS_UPDATED = "details_updated"


@dataclass(frozen=True)
class ApplyResult:
    order_id: int
    change: Change
    old_status: OrderStatus | None
    new_status: OrderStatus


def _order_values(order: Order) -> dict[str, Any]:
    return {
        "platform": order.ref.platform,
        "shop": order.ref.shop,
        "external_id": order.ref.external_id,
        "status": order.status.value,
        "raw_status": order.raw_status,
        "channel_created_at": order.created_at.astimezone(UTC),
        "channel_updated_at": order.updated_at.astimezone(UTC),
        "paid_at": order.paid_at.astimezone(UTC) if order.paid_at else None,
        "total_amount": order.total.amount,
        "currency": order.total.currency,
        "buyer_nick": order.buyer.nick,
        "data": order.model_dump(mode="json"),
        "tags": list(order.tags),
    }


async def _write_lines(session: AsyncSession, order_id: int, order: Order) -> None:
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    rows = [
        {
            "order_id": order_id,
            "external_id": line.external_id,
            "merchant_sku": line.merchant_sku,
            "channel_item_id": line.channel_item_id,
            "channel_sku_id": line.channel_sku_id,
            "title": line.title,
            "quantity": line.quantity,
            "unit_price": line.unit_price.amount,
            "status": line.status.value if line.status else None,
        }
        for line in order.lines
    ]
    await session.execute(insert_ignore(OrderLineRow, dialect).values(rows))


def _event(
    order_id: int,
    kind: Change | str,
    *,
    old: OrderStatus | None,
    new: OrderStatus | None,
    cause: str,
    inbox_id: int | None,
    actor: str | None,
    detail: dict[str, Any] | None = None,
) -> OrderEventRow:
    return OrderEventRow(
        order_id=order_id,
        at=datetime.now(UTC),
        kind=str(kind),
        old_status=old.value if old else None,
        new_status=new.value if new else None,
        cause=cause,
        actor=actor,
        inbox_id=inbox_id,
        detail=detail or {},
    )


async def add_hold(
    session: AsyncSession, order_id: int, hold: Hold, *, cause: str, actor: str | None = None
) -> bool:
    """Put a hold on an order (idempotent per hold code); returns True when it is new or re-opened."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    inserted = await session.execute(
        insert_ignore(OrderHoldRow, dialect)
        .values(order_id=order_id, code=hold.code, reason=hold.reason, created_at=datetime.now(UTC))
        .returning(OrderHoldRow.id)
    )
    is_new = inserted.scalar_one_or_none() is not None
    if not is_new:
        reopened = await session.execute(
            update(OrderHoldRow)
            .where(
                OrderHoldRow.order_id == order_id,
                OrderHoldRow.code == hold.code,
                OrderHoldRow.released_at.is_not(None),
            )
            .values(released_at=None, released_by=None, reason=hold.reason)
        )
        is_new = bool(getattr(reopened, "rowcount", 0))
    if is_new:
        await session.execute(update(OrderRow).where(OrderRow.id == order_id).values(on_hold=True))
        session.add(
            _event(order_id, "hold_added", old=None, new=None, cause=cause, inbox_id=None, actor=actor,
                   detail={"code": hold.code, "reason": hold.reason})
        )
    return is_new


async def release_hold(session: AsyncSession, order_id: int, code: str, *, actor: str, cause: str = "api") -> bool:
    """Release an open hold; the order stays on hold while any other hold is open."""
    result = await session.execute(
        update(OrderHoldRow)
        .where(OrderHoldRow.order_id == order_id, OrderHoldRow.code == code, OrderHoldRow.released_at.is_(None))
        .values(released_at=datetime.now(UTC), released_by=actor)
    )
    if not getattr(result, "rowcount", 0):
        return False
    still_open = await session.scalar(
        select(OrderHoldRow.id).where(OrderHoldRow.order_id == order_id, OrderHoldRow.released_at.is_(None)).limit(1)
    )
    await session.execute(update(OrderRow).where(OrderRow.id == order_id).values(on_hold=still_open is not None))
    session.add(_event(order_id, "hold_released", old=None, new=None, cause=cause, inbox_id=None, actor=actor,
                       detail={"code": code}))
    outbox.add(session, "order_hold_released", order_id)
    return True


async def release_holds(
    session: AsyncSession, code: str, order_ids: list[int], *, actor: str, cause: str = "api"
) -> list[int]:
    """Release the open ``code`` hold of each of ``order_ids`` at once, as ``release_hold`` would one
    by one: set-based (one UPDATE per table, the history and outbox rows inserted together), in the
    caller's transaction. Returns the orders whose hold this released (others had none open)."""
    if not order_ids:
        return []
    released = sorted((await session.execute(
        update(OrderHoldRow)
        .where(OrderHoldRow.code == code, OrderHoldRow.order_id.in_(order_ids), OrderHoldRow.released_at.is_(None))
        .values(released_at=datetime.now(UTC), released_by=actor)
        .returning(OrderHoldRow.order_id)
        .execution_options(synchronize_session=False)
    )).scalars().all())
    if not released:
        return []
    still_open = select(OrderHoldRow.id).where(
        OrderHoldRow.order_id == OrderRow.id, OrderHoldRow.released_at.is_(None)).exists()
    await session.execute(update(OrderRow).where(OrderRow.id.in_(released)).values(on_hold=still_open)
                          .execution_options(synchronize_session=False))
    session.add_all([_event(order_id, "hold_released", old=None, new=None, cause=cause, inbox_id=None, actor=actor,
                            detail={"code": code}) for order_id in released])
    for order_id in released:
        outbox.add(session, "order_hold_released", order_id)
    return released


async def _lock_order(session: AsyncSession, platform: str, shop: str, external_id: str) -> OrderRow:
    """Load the order row locked for update (PostgreSQL row lock; SQLite serialises writers)."""
    stmt = select(OrderRow).where(
        OrderRow.platform == platform, OrderRow.shop == shop, OrderRow.external_id == external_id
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one()
    await session.refresh(row)
    return row


async def apply_order(
    session: AsyncSession,
    order: Order,
    *,
    cause: str,
    inbox_id: int | None = None,
    actor: str | None = None,
) -> ApplyResult:
    """Create or update the stored order from a channel report, in the caller's transaction."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    values = _order_values(order)
    inserted = await session.execute(insert_ignore(OrderRow, dialect).values(**values).returning(OrderRow.id))
    new_id = inserted.scalar_one_or_none()
    if new_id is not None:
        await _write_lines(session, new_id, order)
        await bindings.bind(session, "order", order.ref.platform, order.ref.shop, order.ref.external_id, new_id)
        session.add(_event(new_id, Change.CREATED, old=None, new=order.status, cause=cause, inbox_id=inbox_id,
                           actor=actor, detail={"raw_status": order.raw_status}))
        await _follow_channel_fulfilment(session, new_id, order, cause=cause, actor=actor)
        outbox.add(session, "order_changed", new_id, None, order.status.value, cause)
        return ApplyResult(new_id, Change.CREATED, None, order.status)

    row = await _lock_order(session, order.ref.platform, order.ref.shop, order.ref.external_id)
    current = OrderStatus(row.status)
    verdict = judge_transition(current, order.status)
    newer = order.updated_at.astimezone(UTC) >= row.channel_updated_at
    detail = {"raw_status": order.raw_status, "reported_updated_at": order.updated_at.isoformat()}

    if verdict is TransitionVerdict.APPLY and order.status in CANCEL_STATUSES and (
        row.fulfilment_status in FULFILMENT_STARTED
    ):
        reason = (
            f"the channel reports the order {order.status.value} ({order.raw_status}) after fulfilment "
            f"started ({row.fulfilment_status}); stop the shipment or refuse the cancellation"
        )
        await add_hold(session, row.id, Hold(code="cancel_requested", reason=reason), cause=cause, actor=actor)
        session.add(_event(row.id, Change.CANCEL_REQUESTED, old=current, new=order.status, cause=cause,
                           inbox_id=inbox_id, actor=actor, detail=detail))
        return ApplyResult(row.id, Change.CANCEL_REQUESTED, current, current)

    if verdict is TransitionVerdict.APPLY:
        updates: dict[str, Any]
        if newer:
            updates = _order_values(order)
            for key in ("platform", "shop", "external_id"):
                updates.pop(key)
        else:
            # A forward move reported with an older timestamp (clock skew between platform
            # services): take the status, keep the fresher details already stored.
            updates = {
                "status": order.status.value,
                "raw_status": order.raw_status,
                "data": {**row.data, "status": order.status.value, "raw_status": order.raw_status},
            }
        await session.execute(
            update(OrderRow).where(OrderRow.id == row.id).values(**updates, version=OrderRow.version + 1)
        )
        if newer:
            await _write_lines(session, row.id, order)
        session.add(_event(row.id, Change.STATUS_CHANGED, old=current, new=order.status, cause=cause,
                           inbox_id=inbox_id, actor=actor, detail=detail))
        await _follow_channel_fulfilment(session, row.id, order, cause=cause, actor=actor)
        outbox.add(session, "order_changed", row.id, current.value, order.status.value, cause)
        return ApplyResult(row.id, Change.STATUS_CHANGED, current, order.status)

    kind = Change.REPEATED if verdict is TransitionVerdict.SAME else Change.STALE
    if verdict is TransitionVerdict.SAME and newer and order.updated_at.astimezone(UTC) > row.channel_updated_at:
        # Same status, newer details (address change, memo, fee change): keep the fresher copy.
        updates = _order_values(order)
        for key in ("platform", "shop", "external_id", "status"):
            updates.pop(key)
        await session.execute(
            update(OrderRow).where(OrderRow.id == row.id).values(**updates, version=OrderRow.version + 1)
        )
        kind = Change.DETAILS_UPDATED
    session.add(_event(row.id, kind, old=current, new=order.status, cause=cause, inbox_id=inbox_id,
                       actor=actor, detail=detail))
    if verdict is TransitionVerdict.SAME:
        # A repeat of the stored status still carries the channel's word on shipping (heals an
        # order stored shipped while fulfilment stayed behind).
        await _follow_channel_fulfilment(session, row.id, order, cause=cause, actor=actor)
    return ApplyResult(row.id, kind, current, current)


async def _follow_channel_fulfilment(session: AsyncSession, order_id: int, order: Order, *, cause: str,
                                     actor: str | None) -> None:
    """The channel says the goods left (the merchant shipped in the seller centre, or another
    system did): fulfilment follows, though the hub recorded no shipment. Forward only."""
    reached = fulfilment_reported_by(order.status)
    if reached is not None:
        await set_fulfilment_status(session, order_id, reached, cause=cause, actor=actor,
                                    detail={"reported_by_channel": order.raw_status})


async def set_fulfilment_status(session: AsyncSession, order_id: int, status: FulfilmentStatus | str, *,
                                cause: str, actor: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Record how far fulfilment got (routed, sent_to_warehouse, shipped...) with a history entry.
    Never backwards: a status behind the stored one (a partial shipment recorded after the channel
    said shipped) leaves it as it is."""
    old = await session.scalar(select(OrderRow.fulfilment_status).where(OrderRow.id == order_id))
    if old is None or fulfilment_after(old, FulfilmentStatus(status)) is None:
        return
    await session.execute(update(OrderRow).where(OrderRow.id == order_id)
                          .values(fulfilment_status=FulfilmentStatus(status).value))
    session.add(_event(order_id, "fulfilment_changed", old=None, new=None, cause=cause, inbox_id=None, actor=actor,
                       detail={"from": old, "to": FulfilmentStatus(status).value, **(detail or {})}))


def stored_order(row: OrderRow) -> Order:
    """The canonical order as stored (personal data included: mask before showing)."""
    return Order.model_validate(row.data)
