"""What happens after orders change: plugin notifications, the review (审单) and stock effects.

Runs in a worker after the changes committed (the outbox delivered them), at least once: every
step is idempotent (holds are unique per code, an order is reviewed once, reservations unique per
order line). A batch of changes (``after_orders_change``: one message per applied inbox batch) is
loaded in one query and its review and stock written in ONE transaction
(``stock.effects.apply_steps``), in a number of statements that does not grow with the batch; a
single change is the batch of one. An order cancelled or closed gives back what it holds and its
interception holds (refund requested, cancel requested, intercept requested) are lifted: nothing
of it ships any more. Not for deciding the order's status: that is ``hub.services.orders``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from sqlalchemy import select

from contracts.orders import OrderStatus
from hub.context import Hub
from hub.db.tables import OrderRow
from hub.services import orders
from hub.services.fulfilment import interception, review
from hub.services.stock import effects as stock_effects
from hub.services.stock.effects import StockStep

log = structlog.get_logger(__name__)

#: Statuses in which an order holds stock (reserved or on its way out of the warehouse).
HOLDING_STATUSES = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED})
RELEASE_STATUSES = frozenset({OrderStatus.CANCELLED, OrderStatus.CLOSED})
CONSUME_STATUSES = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED})

#: Holds that stop a shipment (a refund, the channel's cancellation, a person's interception):
#: lifted once the order is cancelled or closed, since nothing of it will ship any more.
INTERCEPTION_HOLDS = interception.HOLDS
#: One order change as the follow-up message carries it: [order id, old status or None, new
#: status, cause].
Change = Sequence[Any]


async def _load(hub: Hub, order_ids: Iterable[int]) -> dict[int, OrderRow]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(OrderRow).where(OrderRow.id.in_(set(order_ids))))).scalars().all()
        return {row.id: row for row in rows}


def _reserve_trigger(hub: Hub, row: OrderRow, old: str | None, new: OrderStatus) -> bool:
    shop = hub.config.shops.get(row.shop)
    reserve_on = shop.reserve_on if shop else "paid"
    if reserve_on == "created":
        return old is None and new not in RELEASE_STATUSES
    first_paid = old is None or OrderStatus(old) is OrderStatus.PENDING_PAYMENT
    return new in HOLDING_STATUSES | CONSUME_STATUSES and first_paid


def _steps(hub: Hub, row: OrderRow, old: str | None, new: OrderStatus) -> list[StockStep]:
    steps: list[StockStep] = []
    if _reserve_trigger(hub, row, old, new):
        steps.append((row.id, "reserve"))
    if new in RELEASE_STATUSES:
        steps.append((row.id, "release"))
    elif new in CONSUME_STATUSES:
        steps.append((row.id, "consume"))
    return steps


async def after_orders_change(hub: Hub, changes: Sequence[Change]) -> None:
    """After a batch of order changes committed: notify plugins (each change; a failing plugin
    blocks no other), then the review of newly paid orders (``fulfilment.review``) and the stock
    of the whole batch in one transaction."""
    parsed = [(int(c[0]), c[1], OrderStatus(c[2]), str(c[3])) for c in changes]
    rows = await _load(hub, {oid for oid, _, _, _ in parsed})
    to_review: list[OrderRow] = []
    steps: list[StockStep] = []
    for order_id, old_status, new, cause in parsed:
        row = rows.get(order_id)
        if row is None:
            continue
        try:
            hub.plugins.hook.order_changed(order_id=order_id, order=orders.stored_order(row), old_status=old_status,
                                           new_status=new.value, cause=cause)
        except Exception:  # a notification plugin must not undo or block the change
            log.exception("plugin.notification_failed", hook="order_changed", order_id=order_id)
        if (new in HOLDING_STATUSES and (old_status is None or OrderStatus(old_status) is OrderStatus.PENDING_PAYMENT)
                and row.review_status is None and review.reviewable(row)):
            to_review.append(row)
        steps += _steps(hub, row, old_status, new)
    if not to_review and not steps:
        return
    ended = sorted({order_id for order_id, _, new, _ in parsed if new in RELEASE_STATUSES and order_id in rows})
    async with hub.database().transaction() as session:
        await review.review_orders(session, hub, to_review)  # the review (审单): holds, outcome, hand-over
        effect = await stock_effects.apply_steps(session, hub, steps)
        for code in INTERCEPTION_HOLDS:  # what they wait for (the shipment stopped) is moot now
            await orders.release_holds(session, code, ended, actor="system", cause="system")
    await stock_effects.after_commit(hub, effect)


async def after_order_change(hub: Hub, order_id: int, old_status: str | None, new: OrderStatus, cause: str) -> None:
    """One order change: ``after_orders_change`` for a batch of one."""
    await after_orders_change(hub, [[order_id, old_status, new.value, cause]])


async def after_hold_released(hub: Hub, order_id: int) -> None:
    """A person lifted a hold: if none remain, the order may proceed to fulfilment."""
    await review.after_release(hub, order_id)  # the last review hold gone: approved
    row = (await _load(hub, [order_id])).get(order_id)
    if row is None or row.on_hold:
        return
    # A stock-short hold lifted by a person: try the short lines again (a no-op for the rest).
    if OrderStatus(row.status) in HOLDING_STATUSES:
        await stock_effects.reserve_order(hub, order_id)
    log.info("order.released", order_id=order_id)
