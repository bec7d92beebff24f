"""Shared helpers for the review's tests (service, API and console): orders placed and paid
through the order flow's follow-up (so the review runs as in production), and what the review
handed to the fulfilment flow. Not a test module."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from contracts import OrderStatus
from hub.context import Hub
from hub.db.tables import OutboxRow
from hub.services import order_flow
from hub.services.fulfilment.flow import FULFIL_ACTOR
from tests.integration.inventory_support import place_order

PAID = OrderStatus.PAID.value


def paid_changes(order_ids: list[int]) -> list[list[Any]]:
    """The follow-up's changes saying each of ``order_ids`` became paid."""
    return [[oid, None, PAID, "test"] for oid in order_ids]


async def paid_orders(hub: Hub, *lines: list[tuple[str, int]], shop: str = "shop-a") -> list[int]:
    """One order per ``lines`` in ``shop``, then the follow-up of their payment (the review runs)."""
    ids = [await place_order(hub, line, shop=shop) for line in lines]
    await order_flow.after_orders_change(hub, paid_changes(ids))
    return ids


async def handed_to_flow(hub: Hub) -> list[list[int]]:
    """The order ids of each message to the fulfilment flow's actor, oldest first."""
    async with hub.database().session() as session:
        rows = (await session.execute(select(OutboxRow.args).where(OutboxRow.actor == FULFIL_ACTOR)
                                      .order_by(OutboxRow.id))).scalars()
        return [sorted(args[0]) for args in rows]
