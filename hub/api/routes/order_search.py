"""Triage of one order over HTTP: its priority (``orders.triage``). Search itself is
``GET /api/v1/orders`` (``hub.api.routes.orders``); tags on an order are ``hub.api.routes.tags``; a
hold by hand is review's ``POST /api/v1/orders/{id}/hold`` (``hub.api.routes.fulfilment_review``)
and is released the ordinary way (``POST /api/v1/orders/{id}/holds/manual/release``).

An order of a shop the caller may not see answers 404. The logic is ``hub.services.search.triage``;
every change is written to the order's history, attributed to the caller.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.params import RowId
from hub.db.tables import OrderRow
from hub.errors import NotFoundError
from hub.services.search import triage

router = APIRouter(tags=["orders"])


class PriorityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: int = Field(ge=triage.MIN_PRIORITY, le=triage.MAX_PRIORITY,
                          description="Higher first in the work queues; 0 is normal.")
    reason: str | None = Field(default=None, max_length=500)


class TriageOut(BaseModel):
    order_id: int
    priority: int
    on_hold: bool
    changed: bool = Field(description="False when the order already was so.")


async def _visible(session: AsyncSession, order_id: int, principal: Principal) -> None:
    if not await triage.visible_orders(session, [order_id], principal):
        raise NotFoundError(f"order {order_id} does not exist")


async def _out(session: AsyncSession, order_id: int, changed: bool) -> TriageOut:
    row = await session.get(OrderRow, order_id, populate_existing=True)
    assert row is not None
    return TriageOut(order_id=order_id, priority=row.priority, on_hold=row.on_hold, changed=changed)


@router.post("/api/v1/orders/{order_id}/priority", response_model=TriageOut, summary="Set an order's priority")
async def post_priority(request: Request, order_id: RowId, body: PriorityIn,
                        principal: Principal = Depends(require(Permission.ORDERS_TRIAGE))) -> TriageOut:
    async with get_hub(request).database().transaction() as session:
        await _visible(session, order_id, principal)
        changed = await triage.set_priority(session, [order_id], body.priority, actor=principal.actor,
                                            reason=body.reason)
        return await _out(session, order_id, bool(changed))
