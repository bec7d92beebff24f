"""Which orders and lines go out together: merging orders of one buyer to one address into one
delivery, and splitting an order (presale lines wait, or by hand) before routing.

``plan_groups`` is what the flow asks before routing; the default is one group per order with all
its lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.fulfilment import Hold
from hub.context import Hub
from hub.db.tables import OrderRow


@dataclass(frozen=True)
class GroupLine:
    order_id: int
    line_external_id: str
    merchant_sku: str | None
    quantity: int


@dataclass(frozen=True)
class DeliveryGroup:
    """Lines that ship together from one warehouse (routing may still split them by stock)."""

    order_ids: list[int]
    lines: list[GroupLine]
    reason: str = ""
    data: dict[str, str] = field(default_factory=dict)


async def plan_groups(hub: Hub, session: AsyncSession, orders: list[OrderRow]
                      ) -> tuple[list[DeliveryGroup], list[tuple[int, Hold]]]:
    """The delivery groups for ``orders`` (approved, unrouted) and the holds for orders that must
    wait; in the caller's transaction. Default: one group per order, every line."""
    groups = []
    for row in orders:
        lines = [GroupLine(row.id, str(line["external_id"]), line.get("merchant_sku"), int(line["quantity"]))
                 for line in row.data.get("lines", [])]
        groups.append(DeliveryGroup(order_ids=[row.id], lines=lines, reason="one order"))
    return groups, []
