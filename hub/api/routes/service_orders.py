"""Service orders over HTTP, to read: ``GET /api/v1/service-orders`` (filtered, most urgent first,
offset pages with the total), ``GET /api/v1/service-orders/board`` (open orders by status) and
``GET /api/v1/service-orders/{id}`` (one order whole: technician, deadlines, history, write-backs,
platform alerts and the steps allowed now).

Reading needs ``orders.read``; every route calls ``hub.services.service_orders.queries`` as the
console and the CLI do. Taking steps is ``service_orders_actions``'s, creating one
``service_orders_create``'s, figures ``service_orders_figures``'s.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, Field

from contracts.service_orders import ServiceOrderAction, ServiceOrderStatus, ServiceOrderType
from hub.api.auth import Permission, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.params import RowId, text_query
from hub.errors import NotFoundError
from hub.services.access.scope import caller_shops, caller_shops_principal, check_shop
from hub.services.service_orders import queries

router = APIRouter(prefix="/api/v1/service-orders", tags=["service-orders"])
READ = [Depends(require(Permission.ORDERS_READ))]


class ServiceOrderSummaryOut(BaseModel):
    """One service order in a list or on the board."""

    id: int
    platform: str
    shop: str
    external_id: str = Field(description="The platform's work-order id (hub-<n> for one created in the hub).")
    order_id: int | None = Field(description="The hub's sales order the work is for, when known.")
    order_external_id: str | None = Field(description="That order's id on its platform.")
    type: str = Field(description="installation, repair, maintenance, measure, return_pickup or other.")
    status: str = Field(description="new, assigned, booked, on_site, completed, cancelled or failed.")
    origin: str = Field(description="channel (a platform's work order), manual (a person) or rule.")
    merchant_sku: str | None
    product_title: str | None
    region: str | None = Field(description="City and district, e.g. \"杭州市 西湖区\".")
    technician_code: str | None = Field(description="The technician assigned; null while unassigned.")
    technician_name: str | None
    appointment_start: datetime | None = Field(description="The visit agreed with the buyer, when booked.")
    appointment_end: datetime | None
    due_at: datetime | None = Field(description="The next service-level deadline still to meet; null once closed.")
    due_milestone: str | None = Field(description="What is due then: contact, on_site or complete.")
    sla_state: str = Field(description="ok, soon or overdue while open; met or missed once closed.")
    seconds_left: float | None = Field(description="Seconds to due_at from now; negative: overdue.")
    alert_level: int | None = Field(description="The strongest platform alert so far: 1 warning, 2 alert, "
                                                "3 critical.")
    version: int = Field(description="Goes up on every change; a step names the version it was taken on.")
    created_at: datetime


class ServiceOrderList(BaseModel):
    service_orders: list[ServiceOrderSummaryOut]
    total: int = Field(description="How many orders the filters keep, on every page.")


class BoardOut(BaseModel):
    columns: dict[str, list[ServiceOrderSummaryOut]] = Field(
        description="new, assigned, booked and on_site, each most urgent first and at most per_status long.")


class RegionOut(BaseModel):
    province: str | None
    city: str | None
    district: str | None


class TechnicianOut(BaseModel):
    code: str
    name: str


class ServiceEventOut(BaseModel):
    at: datetime
    kind: str = Field(description="reported, created, assigned, step, written_back, recorded_only, write_failed, "
                                  "sla or alert.")
    old_status: str | None
    new_status: str | None
    cause: str = Field(description="push, message_channel, poll, api, console, cli, rule or auto.")
    actor: str | None
    detail: dict[str, Any]


class ServiceWriteOut(BaseModel):
    id: int
    key: str = Field(description="The step's idempotency key.")
    action: str
    params: dict[str, Any]
    actor: str | None
    state: str = Field(description="pending, done (the platform took it), recorded (no platform API: the hub "
                                   "recorded it) or failed.")
    attempts: int
    next_attempt_at: datetime | None
    result: dict[str, Any]
    error: str | None
    created_at: datetime
    updated_at: datetime


class ServiceAlertOut(BaseModel):
    id: int
    alert_id: str = Field(description="The platform's alert id.")
    level: int = Field(description="1 warning, 2 alert, 3 critical.")
    rule_id: str | None
    content: str = Field(description="The platform's words.")
    raised_at: datetime


class ServiceOrderDetailOut(ServiceOrderSummaryOut):
    line_external_id: str | None = Field(description="The order line (sub-order) the work is for.")
    quantity: int
    service_code: str | None = Field(description="The platform's service code, verbatim.")
    raw_status: str = Field(description="The platform's own status.")
    region_parts: RegionOut = Field(description="Where the work is, to the district (never the street).")
    expected_at: datetime | None = Field(description="The date the buyer asked for.")
    assignee: str | None = Field(description="The worker the platform names, when it does.")
    technician: TechnicianOut | None
    sla_deadline: datetime | None = Field(description="A deadline the platform sets.")
    contact_due_at: datetime | None
    onsite_due_at: datetime | None
    complete_due_at: datetime | None
    alerted_at: datetime | None
    assigned_at: datetime | None
    booked_at: datetime | None
    on_site_at: datetime | None
    closed_at: datetime | None
    rating: int | None = Field(description="The buyer's rating, 1 to 5.")
    completion_note: str | None
    reason: str | None = Field(description="Why it was cancelled or failed.")
    created_by: str | None
    updated_at: datetime
    history: list[ServiceEventOut] = Field(description="Every report, step, write-back, SLA flag and alert, "
                                                       "oldest first.")
    writes: list[ServiceWriteOut] = Field(description="The steps written (or to write) back to the platform.")
    alerts: list[ServiceAlertOut] = Field(description="The platform's service-level alerts, oldest first.")
    actions: list[str] = Field(description="The steps allowed now (empty once closed).")


def summary_out(summary: queries.ServiceOrderSummary) -> ServiceOrderSummaryOut:
    return ServiceOrderSummaryOut(**vars(summary))


_ACTION_ORDER = {a: n for n, a in enumerate(ServiceOrderAction)}


def detail_out(found: queries.ServiceOrderDetail) -> ServiceOrderDetailOut:
    """A ``ServiceOrderDetail`` as the API shows it."""
    r = found.record
    region = " ".join(p for p in (r.region.city, r.region.district) if p) or None
    technician = TechnicianOut(code=r.technician_code, name=r.technician_name or r.technician_code) \
        if r.technician_code else None
    return ServiceOrderDetailOut(
        id=r.id, platform=r.platform, shop=r.shop, external_id=r.external_id, order_id=r.order_id,
        order_external_id=found.order_external_id, type=r.type.value, status=r.status.value, origin=r.origin,
        merchant_sku=r.merchant_sku, product_title=r.product_title, region=region,
        technician_code=r.technician_code, technician_name=r.technician_name,
        appointment_start=r.appointment_start, appointment_end=r.appointment_end, due_at=r.due_at,
        due_milestone=r.due_milestone, sla_state=r.sla_state, seconds_left=found.seconds_left,
        alert_level=r.alert_level, version=r.version, created_at=r.created_at,
        line_external_id=r.line_external_id, quantity=r.quantity, service_code=r.service_code,
        raw_status=r.raw_status, region_parts=RegionOut(**r.region.model_dump()), expected_at=r.expected_at,
        assignee=r.assignee, technician=technician, sla_deadline=r.sla_deadline, contact_due_at=r.contact_due_at,
        onsite_due_at=r.onsite_due_at, complete_due_at=r.complete_due_at, alerted_at=r.alerted_at,
        assigned_at=r.assigned_at, booked_at=r.booked_at, on_site_at=r.on_site_at, closed_at=r.closed_at,
        rating=r.rating, completion_note=r.completion_note, reason=r.reason, created_by=r.created_by,
        updated_at=r.updated_at,
        history=[ServiceEventOut(**e) for e in found.events],
        writes=[ServiceWriteOut(**w) for w in found.writes],
        alerts=[ServiceAlertOut(**a) for a in found.alerts],
        actions=[a.value for a in sorted(found.actions, key=_ACTION_ORDER.__getitem__)],
    )


def _filters(type: ServiceOrderType | None, technician: str | None, region: str | None, shop: str | None,
             due_before: datetime | None, overdue: bool, q: str | None,
             status: list[ServiceOrderStatus] | None = None, limit: int = 50, offset: int = 0) -> queries.ServiceFilter:
    """The query's filters; ``due_before`` outside what UTC can hold is a 422 naming it."""
    if due_before is not None:
        try:
            due_before = due_before.astimezone(UTC)
        except OverflowError:
            where = "query.due_before"
            raise ApiError(422, "invalid_request", [{"field": where, "message": "out of range", "type": "value_error"}],
                           field=where) from None
    return queries.ServiceFilter(status=tuple(s.value for s in status or ()), type=type.value if type else None,
                                 technician=technician, region=region, shop=shop, due_before=due_before,
                                 overdue=overdue, q=q, limit=limit, offset=offset)


TYPE = Query(None, description="Only this type of work.")
TECHNICIAN = text_query("A technician's code, or \"none\" for unassigned orders.")
REGION = text_query("A province, city or district name (exact).")
SHOP = text_query("Only this shop.")
DUE_BEFORE = Query(None, description="Only orders whose next deadline is before this time (ISO, with offset).")
OVERDUE = Query(False, description="Only open orders past their next deadline.")
Q = text_query("Part of the platform's work-order id, the sales order's id or the SKU (any case).")


@router.get("", response_model=ServiceOrderList, dependencies=READ,
            summary="Service orders, most urgent first (open by next deadline, then newest), filtered")
async def list_service_orders(
    request: Request,
    status: list[ServiceOrderStatus] | None = Query(None, description="Repeat to match any of several statuses."),
    type: ServiceOrderType | None = TYPE,
    technician: str | None = TECHNICIAN,
    region: str | None = REGION,
    shop: str | None = SHOP,
    due_before: AwareDatetime | None = DUE_BEFORE,
    overdue: bool = OVERDUE,
    q: str | None = Q,
    limit: int = Query(50, ge=1, le=queries.MAX_LIMIT),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> ServiceOrderList:
    flt = replace(_filters(type, technician, region, shop, due_before, overdue, q, status, limit, offset),
                  shops=caller_shops(request))
    async with get_hub(request).database().session() as session:
        found, total = await queries.list_service_orders(session, flt)
    return ServiceOrderList(service_orders=[summary_out(s) for s in found], total=total)


@router.get("/board", response_model=BoardOut, dependencies=READ,
            summary="Open service orders by status (new, assigned, booked, on site), most urgent first")
async def service_board(
    request: Request,
    type: ServiceOrderType | None = TYPE,
    technician: str | None = TECHNICIAN,
    region: str | None = REGION,
    shop: str | None = SHOP,
    due_before: AwareDatetime | None = DUE_BEFORE,
    overdue: bool = OVERDUE,
    q: str | None = Q,
    per_status: int = Query(50, ge=1, le=queries.MAX_LIMIT, description="The most orders in one column."),
) -> BoardOut:
    flt = replace(_filters(type, technician, region, shop, due_before, overdue, q), shops=caller_shops(request))
    async with get_hub(request).database().session() as session:
        columns = await queries.board(session, flt, per_status=per_status)
    return BoardOut(columns={status: [summary_out(s) for s in rows] for status, rows in columns.items()})


@router.get("/{service_order_id}", response_model=ServiceOrderDetailOut, dependencies=READ,
            summary="One service order whole: technician, deadlines, history, write-backs, alerts, steps allowed")
async def get_service_order(request: Request, service_order_id: RowId) -> ServiceOrderDetailOut:
    async with get_hub(request).database().session() as session:
        try:
            found = await queries.detail(session, service_order_id)
            check_shop(caller_shops_principal(request), found.record.shop, f"service order {service_order_id}")
        except NotFoundError as exc:
            raise ApiError(404, "not_found", str(exc)) from None
    return detail_out(found)
