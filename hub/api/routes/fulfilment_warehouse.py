"""API routes for the warehouse step: the WMS callback URL, and the own warehouse's pick list,
pick, pack and ship.

``POST /webhooks/warehouse/{warehouse}`` is the URL given to a WMS (``[warehouses.<name>]`` of a
connector with ``RECEIVE_WAREHOUSE_PUSH``, e.g. Qimen): the connector verifies the signature over
the query string and the raw body (``parse_warehouse_push``), then ``wms_callbacks`` records what it
says, and the WMS hears Qimen's reply XML (success, or failure with a reason: it retries a
failure). ``webhook_router`` is included before the channels' ``/webhooks/{platform}/{shop}``.
Not for the rules themselves (``hub.services.fulfilment.own_warehouse`` / ``wms_callbacks``).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from contracts.connectors import Capability, declared
from hub import metrics
from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError, ErrorBody
from hub.api.params import PathText, RowId
from hub.context import Hub
from hub.errors import BadInputError, ConfigError, NotFoundError, SignatureError
from hub.services.access.owners import ensure_owned
from hub.services.fulfilment import own_warehouse, shipments, wms_callbacks

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1", tags=["warehouse"])
webhook_router = APIRouter(tags=["webhooks"])

#: Qimen's reply envelope; used when the warehouse's connector has no reply of its own.
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
REPLY_CONTENT_TYPE = "text/xml;charset=utf-8"
SUCCESS_REPLY = XML_DECLARATION + "<response><flag>success</flag><code>0</code><message></message></response>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def failure_reply(code: str, message: str) -> str:
    """Qimen's failure envelope (as ``plugins.warehouse.push.failure_reply``): the WMS retries."""
    return XML_DECLARATION + (f"<response><flag>failure</flag><code>{_escape(code)}</code>"
                              f"<message>{_escape(message[:500])}</message></response>")


def _xml(status: int, body: str) -> Response:
    return Response(body, status_code=status, media_type=REPLY_CONTENT_TYPE)


def _refuse(warehouse: str, status: int, code: str, message: str, reason: str) -> Response:
    metrics.PUSH_REJECTED.labels("warehouse", reason).inc()
    log.warning("wms.callback_rejected", warehouse=warehouse[:100], reason=reason, status=status, error=message)
    return _xml(status, failure_reply(code, message))


async def warehouse_callback(hub: Hub, warehouse: str, headers: Mapping[str, str], body: bytes,
                             query: Mapping[str, str]) -> Response:
    """Verify, record and answer one WMS callback; every answer is Qimen's reply XML."""
    account = hub.config.warehouses.get(warehouse)
    enabled = account is not None and account.enabled
    cls = hub.plugins.connector_class("warehouse", account.platform) if account is not None and enabled else None
    if cls is None or not declared(cls, Capability.RECEIVE_WAREHOUSE_PUSH):
        return _refuse(warehouse, 404, "unknown-warehouse",
                       f"no enabled warehouse named {warehouse[:100]!r} receives callbacks here", "unknown_warehouse")
    try:
        connector = hub.accounts().warehouse(warehouse)
    except NotFoundError:
        return _refuse(warehouse, 404, "unknown-warehouse", f"no enabled warehouse named {warehouse!r}",
                       "unknown_warehouse")
    except ConfigError as exc:
        log.error("wms.callback_config_error", warehouse=warehouse, problems=exc.problems)
        return _xml(500, failure_reply("config-error", "the hub is misconfigured for this warehouse"))
    try:
        parsed = connector.parse_warehouse_push(headers, body, query)
        callback: Any = await parsed if inspect.isawaitable(parsed) else parsed
    except SignatureError as exc:
        return _refuse(warehouse, 401, "sign-check-failure", f"the callback failed verification: {exc}",
                       "bad_signature")
    except (BadInputError, RecursionError) as exc:
        return _refuse(warehouse, 400, "bad-request", str(exc) or "the callback nests too deep", "malformed")
    try:
        if callback.confirmation is not None:
            outcome = await wms_callbacks.apply_confirmation(hub, warehouse, callback.confirmation)
            log.info("wms.callback_accepted", warehouse=warehouse, method=callback.method,
                     delivery_order_id=outcome.delivery_order_id, repeated=outcome.repeated)
        elif callback.stock_changes:
            stock = await wms_callbacks.apply_stock_changes(hub, warehouse, callback.stock_changes)
            log.info("wms.callback_accepted", warehouse=warehouse, method=callback.method,
                     applied=stock.applied, repeated=stock.repeated)
    except NotFoundError as exc:
        return _refuse(warehouse, 404, "unknown-delivery-order", str(exc), "unknown_delivery_order")
    except shipments.ShipmentRefused as exc:
        return _refuse(warehouse, 409, "refused", str(exc), "refused")
    except BadInputError as exc:
        return _refuse(warehouse, 400, "bad-request", str(exc), "malformed")
    return _xml(200, SUCCESS_REPLY)


@webhook_router.post(
    "/webhooks/warehouse/{warehouse}",
    summary="Receive a WMS callback (Qimen deliveryorder.confirm, stockchange.report)",
    response_class=Response,
    responses={200: {"description": "Recorded (or a repeat, changing nothing): Qimen's success reply XML."},
               400: {"description": "Malformed callback: failure reply XML with the reason."},
               401: {"description": "The signature does not verify: failure reply XML, nothing stored."},
               404: {"description": "Unknown warehouse or delivery order: failure reply XML, nothing stored."},
               409: {"description": "The order cannot take the shipment (cancelled, on hold): failure reply XML."}})
async def receive_warehouse_callback(request: Request, warehouse: PathText) -> Response:
    body = await request.body()
    return await warehouse_callback(get_hub(request), warehouse, request.headers, body, dict(request.query_params))


# --------------------------------------------------------------------------- own warehouse


class PickLineOut(BaseModel):
    order_id: int
    line_external_id: str
    merchant_sku: str | None
    quantity: int


class PickParcelOut(BaseModel):
    id: int
    seq: int
    courier_code: str
    waybill_number: str | None
    status: str
    weight_grams: int | None


class DeliveryOrderOut(BaseModel):
    id: int
    code: str
    order_id: int
    warehouse: str
    status: str
    courier_code: str | None
    lines: list[PickLineOut]
    parcels: list[PickParcelOut]


class PickListOut(BaseModel):
    delivery_orders: list[DeliveryOrderOut]
    sku_totals: dict[str, int] = Field(description="Units to pick per SKU over the listed delivery orders.")


class PickIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    delivery_order_ids: list[int] = Field(min_length=1, max_length=500)


class PickOut(BaseModel):
    picking: list[int] = Field(description="Every listed delivery order, now picking.")
    changed: list[int] = Field(description="Those that were not picking before this call.")


class PackedItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_external_id: str = Field(min_length=1, max_length=200)
    quantity: int = Field(gt=0)


class PackedParcelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight_grams: int = Field(ge=1, le=1_000_000)
    items: list[PackedItemIn] = Field(default_factory=list, description="Required when there are several parcels.")


class PackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parcels: list[PackedParcelIn] = Field(min_length=1, max_length=50)


class ShipOut(BaseModel):
    delivery_order_id: int
    shipment_ids: list[int]
    repeated: bool


def entry_out(entry: own_warehouse.PickEntry) -> DeliveryOrderOut:
    return DeliveryOrderOut(
        id=entry.id, code=entry.code, order_id=entry.order_id, warehouse=entry.warehouse, status=entry.status,
        courier_code=entry.courier_code,
        lines=[PickLineOut(**vars(line)) for line in entry.lines],
        parcels=[PickParcelOut(**vars(parcel)) for parcel in entry.parcels])


def _conflict(exc: own_warehouse.StateConflict) -> ApiError:
    return ApiError(409, "conflict", str(exc))


_WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such delivery order."},
    409: {"model": ErrorBody, "description": "Its state does not allow this step (the current state is named)."},
}


@router.get("/warehouse/pick-list", response_model=PickListOut,
            summary="Own-warehouse delivery orders to pick (sent or picking), as JSON or CSV",
            responses={200: {"content": {"text/csv": {}}}})
async def get_pick_list(
    request: Request,
    warehouse: str | None = Query(None, max_length=100),
    format: str = Query("json", pattern="^(json|csv)$"),
    _: Principal = Depends(require(Permission.ORDERS_READ)),
) -> Any:
    pick_list = await own_warehouse.pick_list(get_hub(request), warehouse=warehouse)
    if format == "csv":
        return Response(pick_list.csv(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="pick-list.csv"'})
    return PickListOut(delivery_orders=[entry_out(e) for e in pick_list.entries], sku_totals=pick_list.sku_totals)


@router.post("/warehouse/pick", response_model=PickOut, summary="Start picking own-warehouse delivery orders",
             responses=_WRITE_RESPONSES)
async def post_pick(request: Request, body: PickIn,
                    principal: Principal = Depends(require(Permission.SHIPMENTS_WRITE))) -> PickOut:
    await ensure_owned(get_hub(request), principal, "delivery_order", body.delivery_order_ids)
    try:
        changed = await own_warehouse.pick(get_hub(request), body.delivery_order_ids, actor=principal.actor)
    except own_warehouse.StateConflict as exc:
        raise _conflict(exc) from exc
    return PickOut(picking=list(dict.fromkeys(body.delivery_order_ids)), changed=changed)


@router.post("/delivery-orders/{delivery_order_id}/pack", response_model=DeliveryOrderOut,
             summary="Record the packed parcels (weights; extra parcels get waybills)", responses=_WRITE_RESPONSES)
async def post_pack(request: Request, delivery_order_id: RowId, body: PackIn,
                    principal: Principal = Depends(require(Permission.SHIPMENTS_WRITE))) -> DeliveryOrderOut:
    await ensure_owned(get_hub(request), principal, "delivery_order", [delivery_order_id])
    parcels = [own_warehouse.PackedParcel(p.weight_grams, tuple((i.line_external_id, i.quantity) for i in p.items))
               for p in body.parcels]
    try:
        entry = await own_warehouse.pack(get_hub(request), delivery_order_id, parcels, actor=principal.actor)
    except own_warehouse.StateConflict as exc:
        raise _conflict(exc) from exc
    return entry_out(entry)


@router.post("/delivery-orders/{delivery_order_id}/ship", response_model=ShipOut,
             summary="Record that a packed delivery order left (idempotent)", responses=_WRITE_RESPONSES)
async def post_ship(request: Request, delivery_order_id: RowId,
                    principal: Principal = Depends(require(Permission.SHIPMENTS_WRITE))) -> ShipOut:
    await ensure_owned(get_hub(request), principal, "delivery_order", [delivery_order_id])
    try:
        outcome = await own_warehouse.ship(get_hub(request), delivery_order_id, actor=principal.actor)
    except own_warehouse.StateConflict as exc:
        raise _conflict(exc) from exc
    return ShipOut(delivery_order_id=outcome.delivery_order_id, shipment_ids=outcome.shipment_ids,
                   repeated=outcome.repeated)
