"""What happens after an order changes: plugin notifications, audit holds and stock effects.

Runs in a worker after the change committed (the outbox delivered it), at least once: every step
is idempotent (holds are unique per code, reservations unique per order line). Not for deciding
the order's status: that is ``hub.services.orders``.
"""

from __future__ import annotations

import structlog
from sqlalchemy import select

from contracts.fulfilment import Hold
from contracts.orders import OrderStatus
from hub.context import Hub
from hub.db.tables import OrderRow
from hub.services import orders
from hub.services.stock import effects as stock_effects

log = structlog.get_logger(__name__)

#: Statuses in which an order holds stock (reserved or on its way out of the warehouse).
HOLDING_STATUSES = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED})
RELEASE_STATUSES = frozenset({OrderStatus.CANCELLED, OrderStatus.CLOSED})
CONSUME_STATUSES = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED})


async def _load(hub: Hub, order_id: int) -> OrderRow | None:
    async with hub.database().session() as session:
        return (await session.execute(select(OrderRow).where(OrderRow.id == order_id))).scalar_one_or_none()


def _audit_holds(hub: Hub, row: OrderRow) -> list[Hold]:
    order = orders.stored_order(row)
    holds: list[Hold] = []
    for result in hub.plugins.hook.audit_order(order=order, order_id=row.id, shop=row.shop):
        holds.extend(result or [])
    limit = hub.config.rules.high_value_hold_amount
    if limit is not None and order.total.amount > limit:
        holds.append(Hold(code="high_value", reason=f"order total {order.total} is above {limit}"))
    return holds


def _reserve_trigger(hub: Hub, row: OrderRow, old: str | None, new: OrderStatus) -> bool:
    shop = hub.config.shops.get(row.shop)
    reserve_on = shop.reserve_on if shop else "paid"
    if reserve_on == "created":
        return old is None and new not in RELEASE_STATUSES
    first_paid = old is None or OrderStatus(old) is OrderStatus.PENDING_PAYMENT
    return new in HOLDING_STATUSES | CONSUME_STATUSES and first_paid


async def after_order_change(hub: Hub, order_id: int, old_status: str | None, new: OrderStatus, cause: str) -> None:
    row = await _load(hub, order_id)
    if row is None:
        return
    order = orders.stored_order(row)
    try:
        hub.plugins.hook.order_changed(order_id=order_id, order=order, old_status=old_status,
                                       new_status=new.value, cause=cause)
    except Exception:  # a notification plugin must not undo or block the change
        log.exception("plugin.notification_failed", hook="order_changed", order_id=order_id)

    if new in HOLDING_STATUSES and (old_status is None or OrderStatus(old_status) is OrderStatus.PENDING_PAYMENT):
        holds = _audit_holds(hub, row)
        if holds:
            async with hub.database().transaction() as session:
                for hold in holds:
                    await orders.add_hold(session, order_id, hold, cause="audit")

    if _reserve_trigger(hub, row, old_status, new):
        await stock_effects.reserve_order(hub, order_id)
    if new in RELEASE_STATUSES:
        await stock_effects.release_order(hub, order_id)
    elif new in CONSUME_STATUSES:
        await stock_effects.consume_order(hub, order_id)


async def after_hold_released(hub: Hub, order_id: int) -> None:
    """A person lifted a hold: if none remain, the order may proceed to fulfilment."""
    row = await _load(hub, order_id)
    if row is None or row.on_hold:
        return
    # A stock-short hold lifted by a person: try the short lines again (a no-op for the rest).
    if OrderStatus(row.status) in HOLDING_STATUSES:
        await stock_effects.reserve_order(hub, order_id)
    log.info("order.released", order_id=order_id)
