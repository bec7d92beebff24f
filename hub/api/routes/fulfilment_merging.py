"""API routes for merging deliveries of one buyer, splitting orders, stopping shipments a refund overtook.

Merges and splits are a person's decisions on unrouted orders (``hub.services.fulfilment.merging``;
409 once an order is routed); the next plan (``planning.plan_groups``) honours them. Interception
(``hub.services.fulfilment.interception``): a manual stop, and the state the order panel shows.
Every write needs ``orders.write`` and is attributed to the caller in the orders' history.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.params import INT64_MAX, RowId
from hub.db.tables import OrderRow
from hub.services.access.owners import ensure_owned
from hub.services.fulfilment import interception, merging

router = APIRouter(tags=["fulfilment"])

OrderId = Annotated[int, Field(ge=1, le=INT64_MAX)]
LineRef = Annotated[str, Field(min_length=1, max_length=200)]


class MergeIn(BaseModel):
    order_ids: list[OrderId] = Field(min_length=2, max_length=100, description="The unrouted orders to ship together.")
    force: bool = Field(default=False, description="Merge although buyer, address or shop differ.")


class MergeOut(BaseModel):
    merge_id: str
    order_ids: list[int]


class DeclineIn(BaseModel):
    order_ids: list[OrderId] = Field(min_length=1, max_length=100, description="Orders that ship alone.")


class SplitIn(BaseModel):
    groups: list[Annotated[list[LineRef], Field(min_length=1, max_length=500)]] = Field(
        min_length=1, max_length=50,
        description="Line groups, each a delivery of its own: line external ids (or line ids); every line once.")


class ProposalOut(BaseModel):
    key: str = Field(description="The merge key: a digest of platform, shop, buyer and address (no personal data).")
    order_ids: list[int]
    shops: list[str]
    certain: bool = Field(description="False when an address compared is masked: check before merging.")
    held: list[int] = Field(description="Orders waiting on the merge_proposed hold.")


class MergingOut(BaseModel):
    order_id: int
    decision: str | None = Field(description="merge | split | separate, or null")
    merge_id: str | None
    merged_with: list[int]
    line_groups: list[list[str]]
    forced: bool
    decided_by: str | None
    delivered_with: list[int] = Field(description="Orders sharing a delivery order with this one, once routed.")
    interception: dict[str, Any]


class InterceptIn(BaseModel):
    reason: str = Field(default="", max_length=500)


def _conflict(exc: merging.PlanConflict) -> ApiError:
    code = {404: "not_found", 409: "conflict"}.get(exc.status, "invalid_request")
    return ApiError(exc.status, code, str(exc), field=exc.field)


@router.post("/api/v1/fulfilment/merges", response_model=MergeOut, status_code=201,
             summary="Merge unrouted orders into one delivery")
async def merge(request: Request, body: MergeIn,
                principal: Principal = Depends(require(Permission.ORDERS_WRITE))) -> MergeOut:
    """Refused (422) when their buyer, address or shop differ unless ``force``; 409 once any is
    routed or already merged or split. Each order keeps its own channel confirmation."""
    await ensure_owned(get_hub(request), principal, "order", body.order_ids)
    hub = get_hub(request)
    try:
        async with hub.database().transaction() as session:
            merge_id = await merging.merge_orders(session, hub.config.fulfilment.merge, body.order_ids,
                                                  actor=principal.actor, force=body.force)
    except merging.PlanConflict as exc:
        raise _conflict(exc) from None
    return MergeOut(merge_id=merge_id, order_ids=sorted(set(body.order_ids)))


@router.delete("/api/v1/fulfilment/merges/{merge_id}", response_model=MergeOut,
               summary="Undo a manual merge before routing")
async def undo(request: Request, merge_id: Annotated[str, Path(min_length=1, max_length=40)],
               principal: Principal = Depends(require(Permission.ORDERS_WRITE))) -> MergeOut:
    await ensure_owned(get_hub(request), principal, "merge", [merge_id])
    try:
        async with get_hub(request).database().transaction() as session:
            order_ids = await merging.undo_merge(session, merge_id, actor=principal.actor)
    except merging.PlanConflict as exc:
        raise _conflict(exc) from None
    return MergeOut(merge_id=merge_id, order_ids=order_ids)


@router.get("/api/v1/fulfilment/merge-proposals", response_model=list[ProposalOut],
            summary="Approved, unrouted orders that could ship together")
async def proposals(request: Request,
                    principal: Principal = Depends(require(Permission.ORDERS_READ))) -> list[ProposalOut]:
    hub = get_hub(request)
    async with hub.database().session() as session:
        found = [p for p in await merging.proposals(session, hub.config.fulfilment.merge)
                 if all(principal.sees_shop(shop) for shop in p.shops)]
    return [ProposalOut(key=p.key, order_ids=p.order_ids, shops=p.shops, certain=p.certain, held=p.held)
            for p in found]


@router.post("/api/v1/fulfilment/merge-proposals/decline", response_model=DeclineIn,
             summary="Ship these orders alone: never merged automatically")
async def decline(request: Request, body: DeclineIn,
                  principal: Principal = Depends(require(Permission.ORDERS_WRITE))) -> DeclineIn:
    await ensure_owned(get_hub(request), principal, "order", body.order_ids)
    try:
        async with get_hub(request).database().transaction() as session:
            await merging.ship_alone(session, body.order_ids, actor=principal.actor)
    except merging.PlanConflict as exc:
        raise _conflict(exc) from None
    return DeclineIn(order_ids=sorted(set(body.order_ids)))


@router.post("/api/v1/orders/{order_id}/split", response_model=MergingOut,
             summary="Split an unrouted order into deliveries by line")
async def split(request: Request, order_id: RowId, body: SplitIn,
                principal: Principal = Depends(require(Permission.ORDERS_WRITE))) -> MergingOut:
    await ensure_owned(get_hub(request), principal, "order", [order_id])
    hub = get_hub(request)
    try:
        async with hub.database().transaction() as session:
            await merging.split_order(session, order_id, [list(g) for g in body.groups], actor=principal.actor)
    except merging.PlanConflict as exc:
        raise _conflict(exc) from None
    return await _state(request, order_id)


async def _state(request: Request, order_id: int) -> MergingOut:
    async with get_hub(request).database().session() as session:
        if await session.get(OrderRow, order_id) is None:
            raise ApiError(404, "not_found", f"order {order_id} does not exist")
        plan = await merging.plan_view(session, order_id)
        stop = await interception.view(session, order_id)
    return MergingOut(order_id=order_id, decision=plan.decision, merge_id=plan.merge_id,
                      merged_with=plan.merged_with, line_groups=plan.line_groups, forced=plan.forced,
                      decided_by=plan.decided_by, delivered_with=plan.delivered_with,
                      interception={"holds": stop.holds, "delivery_orders": stop.delivery_orders,
                                    "parcels": stop.parcels, "exceptions": stop.exceptions, "events": stop.events})


@router.get("/api/v1/orders/{order_id}/merging", response_model=MergingOut,
            summary="An order's merge and split decisions and its interception state")
async def order_state(request: Request, order_id: RowId,
                      principal: Principal = Depends(require(Permission.ORDERS_READ))) -> MergingOut:
    await ensure_owned(get_hub(request), principal, "order", [order_id])
    return await _state(request, order_id)


@router.post("/api/v1/orders/{order_id}/intercept", response_model=MergingOut, status_code=202,
             summary="Stop an order's shipment: hold it and cancel its delivery orders and unused waybills")
async def intercept(request: Request, order_id: RowId, body: InterceptIn | None = None,
                    principal: Principal = Depends(require(Permission.ORDERS_WRITE))) -> MergingOut:
    """Accepted: the hold is on at once, the cancellations follow (``intercept_orders``); 409 when
    the goods already all left (a return, not an interception)."""
    await ensure_owned(get_hub(request), principal, "order", [order_id])
    async with get_hub(request).database().transaction() as session:
        if await session.get(OrderRow, order_id) is None:
            raise ApiError(404, "not_found", f"order {order_id} does not exist")
        if not await interception.request(session, order_id, actor=principal.actor,
                                          reason=body.reason if body else ""):
            raise ApiError(409, "conflict", f"order {order_id} shipped already: handle it as a return")
    return await _state(request, order_id)
