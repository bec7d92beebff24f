"""Technicians over HTTP: ``GET /api/v1/technicians`` (``?active=``), ``GET /api/v1/technicians/{code}``
(each with their load: open orders, appointments today), ``POST /api/v1/technicians`` (201; 409 when
the code is taken) and ``PATCH /api/v1/technicians/{code}`` (any field; ``active: false`` deactivates
and queues their open orders for reassignment); and ``POST /api/v1/service-orders/{id}/auto-assign``,
which assigns one order by the hub's rule now (409 saying why when nobody fits).

Reading needs ``orders.read`` (a technician's mobile is masked unless the caller may manage
technicians or read buyers' data), the registry ``technicians.manage``, auto-assignment
``service_orders.write``. The same services as the console and ``hub technicians``
(``hub.services.service_orders.technicians`` and ``assignment``).
"""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from contracts.privacy import mask_phone
from contracts.service_orders import ServiceOrderType, Technician
from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.params import PathText, RowId
from hub.errors import BadInputError, ConflictError, NotFoundError
from hub.services.access.owners import ensure_owned
from hub.services.service_orders import assignment, technicians

router = APIRouter(tags=["technicians"])
URL = "/api/v1/technicians"
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
Weekday = Annotated[int, Field(ge=1, le=7)]

_EXAMPLE: dict[str, Any] = {
    "code": "T07", "name": "王师傅", "mobile": "13800000000", "skills": ["installation", "repair"],
    "regions": ["杭州市", "西湖区"], "work_days": [1, 2, 3, 4, 5, 6], "work_start": "09:00", "work_end": "18:00",
    "daily_capacity": 4}


class TechnicianOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{**_EXAMPLE, "mobile": "138****0000", "active": True,
                                                               "open_load": 3, "today_load": 1}]})

    code: str
    name: str
    mobile: str | None = Field(description="Masked unless the caller may manage technicians or read buyers' data.")
    skills: list[ServiceOrderType]
    regions: list[str] = Field(description="Province, city or district names served; empty: everywhere.")
    work_days: list[int] = Field(description="ISO weekdays, 1 = Monday.")
    work_start: str = Field(description="HH:MM, the merchant's time.")
    work_end: str
    daily_capacity: int = Field(description="Appointments a day before automatic assignment puts them last.")
    active: bool
    open_load: int = Field(description="Open service orders assigned now (new, assigned, booked, on site).")
    today_load: int = Field(description="Appointments starting today (the console's time zone), not cancelled "
                                        "or failed.")


class TechnicianIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    code: str = Field(min_length=1, max_length=50, description="Unique and never reused for another person.")
    name: str = Field(min_length=1, max_length=100)
    mobile: str | None = Field(default=None, max_length=30)
    skills: list[ServiceOrderType] = Field(min_length=1, max_length=20, description="The work they do.")
    regions: list[str] = Field(default_factory=list, max_length=technicians.MAX_REGIONS,
                               description="Province, city or district names; empty serves everywhere.")
    work_days: list[Weekday] = Field(default=[1, 2, 3, 4, 5, 6], min_length=1, max_length=7,
                                 description="ISO weekdays, 1 = Monday … 7 = Sunday.")
    work_start: str = Field(default="09:00", pattern=HHMM)
    work_end: str = Field(default="18:00", pattern=HHMM, description="After work_start.")
    daily_capacity: int = Field(default=4, ge=0, le=100)


class TechnicianPatch(BaseModel):
    """Only the fields given change; ``mobile: null`` clears the mobile."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"regions": ["杭州市", "宁波市"], "daily_capacity": 5}, {"active": False}]})

    name: str | None = Field(default=None, min_length=1, max_length=100)
    mobile: str | None = Field(default=None, max_length=30)
    skills: list[ServiceOrderType] | None = Field(default=None, min_length=1, max_length=20)
    regions: list[str] | None = Field(default=None, max_length=technicians.MAX_REGIONS)
    work_days: list[Weekday] | None = Field(default=None, min_length=1, max_length=7)
    work_start: str | None = Field(default=None, pattern=HHMM)
    work_end: str | None = Field(default=None, pattern=HHMM)
    daily_capacity: int | None = Field(default=None, ge=0, le=100)
    active: bool | None = Field(default=None, description="false deactivates: their open orders are reassigned "
                                                          "automatically; history stays theirs.")


class AutoAssignOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"service_order_id": 42, "technician": "T07"}]})

    service_order_id: int
    technician: str = Field(description="The code of the technician the order went to.")


def _zone(request: Request) -> ZoneInfo:
    return ZoneInfo(get_hub(request).config.console.time_zone)


def technician_out(technician: Technician, principal: Principal) -> TechnicianOut:
    """A technician as the API shows it to ``principal``."""
    sees_mobile = principal.may(Permission.TECHNICIANS_MANAGE) or principal.may(Permission.ORDERS_READ_PII)
    return TechnicianOut(
        code=technician.code, name=technician.name,
        mobile=technician.mobile if sees_mobile else mask_phone(technician.mobile),
        skills=sorted(technician.skills), regions=list(technician.regions), work_days=list(technician.work_days),
        work_start=technician.work_start.strftime("%H:%M"), work_end=technician.work_end.strftime("%H:%M"),
        daily_capacity=technician.daily_capacity, active=technician.active, open_load=technician.open_load,
        today_load=technician.today_load)


def _invalid(exc: BadInputError) -> ApiError:
    where = f"body.{exc.field or 'body'}"
    return ApiError(422, "invalid_request", [{"field": where, "message": str(exc), "type": "value_error"}], field=where)


@router.get(URL, response_model=list[TechnicianOut], summary="Every technician with their load, by code")
async def list_technicians(
    request: Request,
    active: bool | None = Query(None, description="true: only active technicians; false: only deactivated ones."),
    principal: Principal = Depends(require(Permission.ORDERS_READ)),
) -> list[TechnicianOut]:
    async with get_hub(request).database().session() as session:
        found = await technicians.list_technicians(session, active=active, zone=_zone(request))
    return [technician_out(t, principal) for t in found]


@router.get(URL + "/{code}", response_model=TechnicianOut, summary="One technician with their load")
async def get_technician(request: Request, code: PathText,
                         principal: Principal = Depends(require(Permission.ORDERS_READ))) -> TechnicianOut:
    try:
        async with get_hub(request).database().session() as session:
            found = await technicians.get(session, code, zone=_zone(request))
    except NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return technician_out(found, principal)


@router.post(URL, response_model=TechnicianOut, status_code=201,
             summary="Add a technician (409 when the code is taken: codes are never reused)")
async def create_technician(request: Request, body: TechnicianIn,
                            principal: Principal = Depends(require(Permission.TECHNICIANS_MANAGE))) -> TechnicianOut:
    values: dict[str, Any] = body.model_dump(exclude={"code"})
    try:
        technician = technicians.new_technician(body.code, values)
        async with get_hub(request).database().transaction() as session:
            created = await technicians.create(session, technician, actor=principal.actor)
    except ConflictError as exc:
        raise ApiError(409, "conflict", str(exc), field="body.code") from None
    except BadInputError as exc:
        raise _invalid(exc) from None
    return technician_out(created, principal)


@router.patch(URL + "/{code}", response_model=TechnicianOut,
              summary="Change a technician; active: false deactivates and reassigns their open orders")
async def update_technician(request: Request, code: PathText, body: TechnicianPatch,
                            principal: Principal = Depends(require(Permission.TECHNICIANS_MANAGE))) -> TechnicianOut:
    changes = body.model_dump(exclude_unset=True)
    try:
        async with get_hub(request).database().transaction() as session:
            changed = await technicians.update(session, code, changes, actor=principal.actor)
    except NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except BadInputError as exc:
        raise _invalid(exc) from None
    return technician_out(changed, principal)


@router.post("/api/v1/service-orders/{service_order_id}/auto-assign", response_model=AutoAssignOut,
             summary="Assign an unassigned service order by skill, region and load now (409 saying why not)")
async def auto_assign_service_order(
    request: Request, service_order_id: RowId,
    principal: Principal = Depends(require(Permission.SERVICE_ORDERS_WRITE)),
) -> AutoAssignOut:
    """The hub's rule (and the ``assign_service_order`` hook) as for a new order, attributed to
    ``hub:auto``. 409 when nobody fits (``detail`` says why: no one with the skill, no one serving
    the region), the order is closed or already assigned, or it changed meanwhile."""
    await ensure_owned(get_hub(request), principal, "service_order", [service_order_id])
    try:
        outcome = await assignment.try_assign(get_hub(request), service_order_id, cause="api")
    except NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    if outcome.technician_code is None:
        raise ApiError(409, "conflict", outcome.why or "not assigned")
    return AutoAssignOut(service_order_id=service_order_id, technician=outcome.technician_code)
