"""``POST /api/v1/service-orders``: a service order a person creates in the hub for an order of any
shop (a Douyin order that needs installation), for one of its lines or its first line with goods.

Needs ``service_orders.write``; calls ``hub.services.service_orders.creation.create_for_order`` as
the console and the CLI do, attributed to the API key. The new order starts ``new`` with its
deadlines from now and is assigned automatically when ``[service_orders] auto_assign`` is on.
Asking again for the same line and type answers with the existing order (``created`` false).
Reading and steps are other modules' (``service_orders``, ``service_orders_actions``).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, Field

from contracts.service_orders import ServiceOrderType, ServiceRegion
from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.params import INT64_MAX
from hub.errors import BadInputError, NotFoundError
from hub.services.access.owners import ensure_owned
from hub.services.service_orders import creation, records

router = APIRouter()


class CreateServiceOrderIn(BaseModel):
    order_id: int = Field(ge=1, le=INT64_MAX, description="The hub's id of the sales order.")
    type: ServiceOrderType = Field(description="installation, repair, maintenance, measure, return_pickup, other.")
    order_line_id: int | None = Field(default=None, ge=1, le=INT64_MAX,
                                      description="A line of the order; default its first line with goods.")
    expected_at: AwareDatetime | None = Field(default=None, description="The date the buyer asked for (ISO, offset).")
    note: str | None = Field(default=None, max_length=creation.MAX_NOTE, description="What the technician should know.")


class ServiceOrderCreatedOut(BaseModel):
    id: int
    created: bool = Field(description="False when the line already had a service order of this type (returned).")
    platform: str
    shop: str
    external_id: str
    origin: str
    order_id: int | None
    order_line_id: int | None
    merchant_sku: str | None
    product_title: str | None
    quantity: int
    type: str
    status: str
    region: ServiceRegion
    expected_at: datetime | None
    contact_due_at: datetime | None
    onsite_due_at: datetime | None
    complete_due_at: datetime | None
    due_at: datetime | None = Field(description="The next deadline still to meet.")
    due_milestone: str | None
    sla_state: str
    created_by: str | None
    version: int
    created_at: datetime


@router.post("/api/v1/service-orders", response_model=ServiceOrderCreatedOut, status_code=201,
             summary="Create a service order in the hub for an order of any shop")
async def create_service_order(request: Request, body: CreateServiceOrderIn,
                               principal: Principal = Depends(require(Permission.SERVICE_ORDERS_WRITE))
                               ) -> ServiceOrderCreatedOut:
    """404 for an unknown order or line; 422 naming the field for a line of another order or a
    bad value. Nothing of it is written back to a platform."""
    await ensure_owned(get_hub(request), principal, "order", [body.order_id])
    hub = get_hub(request)
    wanted = creation.CreateRequest(order_id=body.order_id, type=body.type, order_line_id=body.order_line_id,
                                    expected_at=body.expected_at, note=body.note)
    try:
        service_order_id, created = await creation.create_or_find(hub, wanted, actor=principal.actor, cause="api")
    except NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except BadInputError as exc:
        where = f"body.{exc.field or 'order_id'}"
        raise ApiError(422, "invalid_request", [{"field": where, "message": str(exc), "type": "value_error"}],
                       field=where) from None
    async with hub.database().session() as session:
        found = await records.load(session, service_order_id)
    return ServiceOrderCreatedOut(
        id=found.id, created=created, platform=found.platform, shop=found.shop,
        external_id=found.external_id, origin=found.origin, order_id=found.order_id,
        order_line_id=found.order_line_id, merchant_sku=found.merchant_sku, product_title=found.product_title,
        quantity=found.quantity, type=found.type.value, status=found.status.value, region=found.region,
        expected_at=found.expected_at, contact_due_at=found.contact_due_at, onsite_due_at=found.onsite_due_at,
        complete_due_at=found.complete_due_at, due_at=found.due_at, due_milestone=found.due_milestone,
        sla_state=found.sla_state, created_by=found.created_by, version=found.version, created_at=found.created_at)
