"""Shipments over HTTP: a warehouse (or an operator) records what left for an order; anyone with
read access sees a shipment and whether the channel has been told.

``POST /api/v1/orders/{id}/shipments`` only validates, records and enqueues (the stock and the
channel confirmation follow in workers); posting the same tracking numbers again answers 200 with
the shipment already recorded. Not for the shipment rules themselves (``hub.services.fulfilment``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from contracts.shipments import Parcel, ParcelItem, Shipment, canonical_courier_code
from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError, ErrorBody
from hub.api.models import ShipmentOut
from hub.api.params import RowId
from hub.db.tables import ShipmentRow
from hub.services.access.owners import ensure_owned
from hub.services.fulfilment import shipments as fulfilment
from hub.services.fulfilment.courier_check import couriers_unknown_to_shop

router = APIRouter(prefix="/api/v1", tags=["shipments"])


class ShippedItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_external_id: str = Field(min_length=1, max_length=200,
                                  description="The order line (the channel's sub-order id).")
    quantity: int = Field(gt=0, description="Units of that line in this parcel.")


class ParcelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    courier_code: str = Field(min_length=1, max_length=50, description="Hub courier code, e.g. 'SF', 'ZTO', in "
                              "any case; stored in canonical form (trimmed, lower case: 'sf').")
    tracking_number: str = Field(min_length=1, max_length=100)
    items: list[ShippedItemIn] = Field(
        default_factory=list,
        description="What the parcel holds. May be left out when the shipment is one parcel: it then holds "
                    "everything of the order not shipped yet.")
    weight_grams: int | None = Field(default=None, ge=0)

    @field_validator("courier_code")
    @classmethod
    def _canonical_courier(cls, value: str) -> str:
        return canonical_courier_code(value)


class ShipmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warehouse: str | None = Field(default=None, max_length=100, description="A configured warehouse name.")
    parcels: list[ParcelIn] = Field(min_length=1, max_length=50)
    partial: bool | None = Field(
        default=None,
        description="Optional check: false says this completes the order (refused if lines would remain). "
                    "The hub works out whether a shipment is partial itself.")
    shipped_at: AwareDatetime | None = Field(default=None, description="When it left; now if not given.")


def shipment_out(row: ShipmentRow) -> ShipmentOut:
    shipment = Shipment.model_validate(row.data)
    return ShipmentOut(
        id=row.id, order_id=row.order_id, warehouse=row.warehouse, status=row.status, parcels=shipment.parcels,
        partial=shipment.partial, shipped_at=shipment.shipped_at, confirmed_to_channel_at=row.confirmed_to_channel_at,
        attempts=row.attempts, last_error=row.last_error, created_at=row.created_at, created_by=row.created_by,
    )


@router.post(
    "/orders/{order_id}/shipments",
    response_model=ShipmentOut,
    status_code=201,
    summary="Record a shipment of an order (idempotent on its tracking numbers)",
    responses={
        200: {"model": ShipmentOut, "description": "These tracking numbers were recorded before: that shipment."},
        400: {"model": ErrorBody, "description": "An unknown line, more units than remain unshipped, an unknown "
                                                 "warehouse; ``field`` names it (bad_input)."},
        404: {"model": ErrorBody, "description": "No such order."},
        409: {"model": ErrorBody, "description": "The order is on hold, unpaid, cancelled or closed (the reason "
                                                 "is given), or a tracking number is in another shipment."},
        422: {"model": ErrorBody, "description": "Invalid body, or a courier the order's shop has no mapping for "
                                                 "(unknown_courier; ``field`` names the parcel)."},
    },
)
async def post_shipment(
    request: Request, response: Response, order_id: RowId, body: ShipmentIn,
    principal: Principal = Depends(require(Permission.SHIPMENTS_WRITE)),
) -> ShipmentOut:
    await ensure_owned(get_hub(request), principal, "order", [order_id])
    hub = get_hub(request)
    shop, unknown = await couriers_unknown_to_shop(hub, order_id, (p.courier_code for p in body.parcels))
    if unknown:
        index = next(i for i, p in enumerate(body.parcels) if p.courier_code in unknown)
        raise ApiError(422, "unknown_courier", f"shop {shop!r} has no mapping for courier(s) "
                       f"{', '.join(repr(c) for c in unknown)}: its channel could not be told of this shipment; "
                       "add the courier to the shop's courier map in the configuration, or use a mapped one",
                       field=f"body.parcels.{index}.courier_code")
    parcels = [
        Parcel(courier_code=p.courier_code, tracking_number=p.tracking_number, weight_grams=p.weight_grams,
               items=[ParcelItem(line_external_id=i.line_external_id, quantity=i.quantity) for i in p.items])
        for p in body.parcels
    ]
    try:
        recorded = await fulfilment.record_shipment(
            hub, order_id, parcels, warehouse=body.warehouse, partial=body.partial,
            shipped_at=body.shipped_at, actor=principal.actor)
    except fulfilment.ShipmentRefused as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    if not recorded.created:
        response.status_code = 200
    return shipment_out(recorded.shipment)


@router.get("/shipments/{shipment_id}", response_model=ShipmentOut, summary="One shipment and its channel status",
            responses={404: {"model": ErrorBody, "description": "No such shipment."}})
async def get_shipment(
    request: Request, shipment_id: RowId, principal: Principal = Depends(require(Permission.ORDERS_READ))
) -> ShipmentOut:
    await ensure_owned(get_hub(request), principal, "shipment", [shipment_id])
    row = await fulfilment.get_shipment(get_hub(request), shipment_id)
    if row is None:
        raise ApiError(404, "not_found", f"shipment {shipment_id} does not exist")
    return shipment_out(row)
