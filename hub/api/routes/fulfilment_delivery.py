"""API routes for routing and delivery orders: to a WMS or the own warehouse.

``GET /api/v1/delivery-orders`` (filtered, cursor pages, newest first) and
``GET /api/v1/delivery-orders/{id}`` (lines, parcels, history) for anyone who reads orders;
``POST /api/v1/delivery-orders/{id}/cancel`` and ``POST /api/v1/orders/{id}/route`` (route now,
or again after a hold was released) for keys that may write shipments, attributed to the caller.
Not for the rules (``hub.services.fulfilment.flow`` / ``delivery_orders``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError, ErrorBody
from hub.api.params import INT64_MAX, RowId, text_query
from hub.db.tables import DeliveryOrderRow
from hub.errors import HubError, NotFoundError, describe_error
from hub.services.access.owners import ensure_owned
from hub.services.fulfilment import delivery_orders as dos
from hub.services.fulfilment import flow

router = APIRouter(prefix="/api/v1", tags=["delivery orders"])

MAX_LIMIT = 200
DeliveryStatus = Literal["pending", "sent", "picking", "packed", "shipped", "cancelling", "cancelled", "failed"]


class DeliveryLineOut(BaseModel):
    order_id: int
    line_external_id: str
    merchant_sku: str | None
    quantity: int


class DeliveryParcelOut(BaseModel):
    id: int
    key: str = Field(description="The waybill idempotency key.")
    seq: int
    courier_code: str
    courier_account: str | None
    waybill_number: str | None
    status: str
    last_error: str | None


class DeliveryOrderOut(BaseModel):
    id: int
    code: str = Field(description="The hub's code, sent to a WMS as its delivery order code.")
    order_id: int = Field(description="The order it was made for (the first, when merged).")
    order_ids: list[int] = Field(description="Every order with lines in it.")
    warehouse: str
    kind: str = Field(description="wms (a connected WMS) or own (the hub's own warehouse).")
    status: str = Field(description="pending, sent, picking, packed, shipped, cancelling, cancelled or failed.")
    courier_code: str | None
    warehouse_order_id: str | None = Field(description="What the WMS answered for it.")
    reason: str = Field(description="Why routing chose this warehouse.")
    attempts: int
    last_error: str | None
    created_by: str | None
    created_at: datetime
    sent_at: datetime | None
    shipped_at: datetime | None
    cancelled_at: datetime | None


class DeliveryOrderDetail(DeliveryOrderOut):
    lines: list[DeliveryLineOut]
    parcels: list[DeliveryParcelOut]
    history: list[dict[str, Any]] = Field(description="What happened to it, oldest first (event, at, actor...).")


class DeliveryOrderList(BaseModel):
    items: list[DeliveryOrderOut]
    next_cursor: str | None


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="cancelled by a person", min_length=1, max_length=500)


class RouteResult(BaseModel):
    order_id: int
    outcome: Literal["routed", "held"]
    reason: str
    hold: str | None = Field(description="The hold code when the order was held (no_warehouse, no_courier).")
    delivery_orders: list[DeliveryOrderOut]


def _out(row: DeliveryOrderRow, order_ids: list[int] | None = None) -> dict[str, Any]:
    data = row.data or {}
    return {
        "id": row.id, "code": row.code, "order_id": row.order_id,
        "order_ids": order_ids or [int(o) for o in data.get("order_ids", [row.order_id])],
        "warehouse": row.warehouse, "kind": row.kind, "status": row.status, "courier_code": row.courier_code,
        "warehouse_order_id": row.warehouse_order_id, "reason": str(data.get("reason", "")),
        "attempts": row.attempts, "last_error": row.last_error, "created_by": row.created_by,
        "created_at": row.created_at, "sent_at": row.sent_at, "shipped_at": row.shipped_at,
        "cancelled_at": row.cancelled_at,
    }


def detail_out(found: dos.DeliveryDetail) -> DeliveryOrderDetail:
    return DeliveryOrderDetail(
        **_out(found.row, sorted({line.order_id for line in found.lines}) or None),
        lines=[DeliveryLineOut(order_id=line.order_id, line_external_id=line.line_external_id,
                               merchant_sku=line.merchant_sku, quantity=line.quantity) for line in found.lines],
        parcels=[DeliveryParcelOut(id=p.id, key=p.key, seq=p.seq, courier_code=p.courier_code,
                                   courier_account=p.courier_account, waybill_number=p.waybill_number,
                                   status=p.status, last_error=p.last_error) for p in found.parcels],
        history=list((found.row.data or {}).get("history", [])),
    )


@router.get("/delivery-orders", response_model=DeliveryOrderList,
            summary="Delivery orders, newest first, filtered and cursor-paginated")
async def list_delivery_orders(
    request: Request,
    status: list[DeliveryStatus] | None = Query(None, description="Repeat to match any of several statuses."),
    warehouse: str | None = text_query("A configured warehouse name."),
    kind: Literal["wms", "own"] | None = None,
    order_id: int | None = Query(None, ge=1, le=INT64_MAX, description="Delivery orders with lines of this order."),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    cursor: str | None = text_query("next_cursor from the previous page."),
    principal: Principal = Depends(require(Permission.ORDERS_READ)),
) -> DeliveryOrderList:
    filters = dos.DeliveryFilters(status=tuple(status or ()), warehouse=warehouse, kind=kind, order_id=order_id,
                                  shops=principal.shops)
    async with get_hub(request).database().session() as session:
        page = await dos.list_delivery_orders(session, filters, limit=limit, cursor=cursor)
    return DeliveryOrderList(items=[DeliveryOrderOut(**_out(r)) for r in page.rows], next_cursor=page.next_cursor)


@router.get("/delivery-orders/{do_id}", response_model=DeliveryOrderDetail,
            summary="One delivery order: lines, parcels and history",
            responses={404: {"model": ErrorBody, "description": "No such delivery order."}})
async def get_delivery_order(
    request: Request, do_id: RowId, principal: Principal = Depends(require(Permission.ORDERS_READ))
) -> DeliveryOrderDetail:
    async with get_hub(request).database().session() as session:
        found = await dos.delivery_detail(session, do_id)
    if found is None:
        raise ApiError(404, "not_found", f"delivery order {do_id} does not exist")
    await ensure_owned(get_hub(request), principal, "delivery_order", [do_id])
    return detail_out(found)


@router.post(
    "/delivery-orders/{do_id}/cancel", response_model=DeliveryOrderDetail,
    summary="Cancel a delivery order: locally if no warehouse has it yet, else at its WMS",
    responses={
        404: {"model": ErrorBody, "description": "No such delivery order."},
        409: {"model": ErrorBody, "description": "Too late: shipped, packed by the own warehouse, or the WMS "
                                                 "refused (too_late)."},
        503: {"model": ErrorBody, "description": "The WMS could not be reached; nothing changed, try again."},
    })
async def cancel_delivery_order(
    request: Request, do_id: RowId, body: CancelIn | None = None,
    principal: Principal = Depends(require(Permission.SHIPMENTS_WRITE)),
) -> DeliveryOrderDetail:
    """Attributed to the caller in the delivery order's and its orders' history. Cancelling one
    already cancelled answers 200 with it."""
    await ensure_owned(get_hub(request), principal, "delivery_order", [do_id])
    hub = get_hub(request)
    reason = (body or CancelIn()).reason
    try:
        ok = await dos.cancel_delivery_order(hub, do_id, reason=reason, actor=principal.actor)
    except NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    except HubError as exc:
        raise ApiError(503, "warehouse_unavailable", f"delivery order {do_id}: the warehouse could not be asked to "
                                                     f"cancel it ({describe_error(exc)}); nothing changed, try again"
                       ) from exc
    async with hub.database().session() as session:
        found = await dos.delivery_detail(session, do_id)
    assert found is not None
    if not ok:
        raise ApiError(409, "too_late", f"delivery order {do_id} ({found.row.code}) cannot be cancelled: it is "
                                        f"{found.row.status}, or its warehouse refused")
    return detail_out(found)


@router.post(
    "/orders/{order_id}/route", response_model=RouteResult,
    summary="Route an order now (or again, after a hold was released) and create its delivery orders",
    responses={
        404: {"model": ErrorBody, "description": "No such order."},
        409: {"model": ErrorBody, "description": "The order cannot be routed now: not paid, not approved, on "
                                                 "hold, shipped, or in an open delivery order (the reason says)."},
    })
async def route_order(
    request: Request, order_id: RowId, principal: Principal = Depends(require(Permission.SHIPMENTS_WRITE)),
) -> RouteResult:
    """Works with ``[fulfilment.routing] auto = false`` too. A warehouse or courier that matches
    nothing holds the order (200, ``outcome: held``, with the reason)."""
    await ensure_owned(get_hub(request), principal, "order", [order_id])
    hub = get_hub(request)
    why = await flow.why_not_routable(hub, order_id)
    if why is not None:
        raise ApiError(409, "conflict", why)
    result = await flow.fulfil_orders(hub, [order_id], actor=principal.actor, manual=True)
    if order_id in result.held:
        return RouteResult(order_id=order_id, outcome="held", reason=result.reasons.get(order_id, ""),
                           hold=result.held[order_id], delivery_orders=[])
    if order_id not in result.routed:  # changed between the check and the transaction
        raise ApiError(409, "conflict", await flow.why_not_routable(hub, order_id) or
                       f"order {order_id} was routed meanwhile")
    async with hub.database().session() as session:
        made = [d for d in await dos.for_order(session, order_id) if d.row.id in result.routed[order_id]]
    return RouteResult(order_id=order_id, outcome="routed", reason=result.reasons.get(order_id, ""), hold=None,
                       delivery_orders=[DeliveryOrderOut(**_out(d.row)) for d in made])
