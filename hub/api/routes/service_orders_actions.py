"""Steps on a service order over HTTP: assign (or reassign, with a reason), book, check in,
complete, cancel and fail; and where each step's write-back to the platform stands.

Each ``POST /api/v1/service-orders/{id}/<step>`` answers the step's outcome: the order's status and
version after it and its write-back's state (``done``, ``recorded`` — the platform has no API for it
or the order was made in the hub —, ``failed`` — the platform refused it, ``note`` says why; the
step stays taken in the hub —, or ``pending`` with 202: tried again later with the same key). 404
for an unknown order, 409 when the step is not allowed now or the order changed since ``version``
(the one the page showed), 422 naming the field for a bad value. Steps need
``service_orders.write`` and are attributed to the caller. The logic is
``hub.services.service_orders.lifecycle``; not for reading orders (``service_orders`` routes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from contracts.service_orders import ServiceOrderAction
from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError, ErrorBody
from hub.api.params import RowId
from hub.db.tables import ServiceOrderRow, ServiceOrderWriteRow
from hub.errors import BadInputError, ConflictError
from hub.services.access.owners import ensure_owned
from hub.services.service_orders import lifecycle, writeback
from hub.services.service_orders.lifecycle import StepRequest

router = APIRouter(tags=["service-orders"])

_VERSION = Field(default=None, ge=1, le=2**31 - 1,
                 description="The order's version the page showed: a step on an order changed since is refused (409).")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = _VERSION


class AssignBody(_Body):
    technician: str = Field(min_length=1, max_length=50, description="The technician's code.")
    reason: str | None = Field(default=None, max_length=500,
                               description="Needed when the order has a technician already (a reassignment).")


class BookBody(_Body):
    start: AwareDatetime = Field(description="The appointment's start, with its time zone.")
    end: AwareDatetime = Field(description="The appointment's end, after its start.")
    note: str | None = Field(default=None, max_length=500)


class CompleteBody(_Body):
    note: str | None = Field(default=None, max_length=1000, description="What was done.")
    rating: int | None = Field(default=None, ge=1, le=5, description="The buyer's rating, when known.")


class ReasonBody(_Body):
    reason: str = Field(min_length=1, max_length=500)


class StepOut(BaseModel):
    service_order_id: int
    status: str = Field(description="The order's status after the step.")
    version: int = Field(description="The order's version after the step: send it with the next step.")
    write_state: str = Field(description="done (the platform took it), recorded (the hub only), pending (tried "
                                         "again later with the same key), failed (refused: see note).")
    note: str | None = None


class WriteOut(BaseModel):
    id: int
    action: str
    key: str
    state: str
    actor: str | None
    attempts: int
    next_attempt_at: datetime | None
    error: str | None
    result: dict[str, Any]
    created_at: datetime
    updated_at: datetime


_ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {"model": StepOut, "description": "Taken in the hub; the write-back waits for a retry."},
    404: {"model": ErrorBody}, 409: {"model": ErrorBody}, 422: {"model": ErrorBody}}


async def _take(request: Request, response: Response, service_order_id: int, step: StepRequest,
                principal: Principal) -> StepOut:
    await ensure_owned(get_hub(request), principal, "service_order", [service_order_id])
    try:
        outcome = await lifecycle.take_step(get_hub(request), service_order_id, step, actor=principal.actor,
                                            cause="api")
    except ConflictError as exc:
        raise ApiError(409, "conflict", str(exc)) from None
    except BadInputError as exc:
        raise ApiError(422, "bad_input", str(exc), field=exc.field) from None
    if outcome.write_state == writeback.PENDING:
        response.status_code = 202
    return StepOut(service_order_id=outcome.service_order_id, status=outcome.status.value, version=outcome.version,
                   write_state=outcome.write_state, note=outcome.note)


@router.post("/api/v1/service-orders/{service_order_id}/assign", response_model=StepOut, responses=_ANSWERS,
             summary="Give a service order to a technician (another one: with a reason)")
async def assign(request: Request, response: Response, service_order_id: RowId, body: AssignBody,
                 principal: Principal = Depends(require(Permission.SERVICE_ORDERS_WRITE))) -> StepOut:
    return await _take(request, response, service_order_id, StepRequest(
        ServiceOrderAction.ASSIGN, technician_code=body.technician, reason=body.reason,
        expected_version=body.version), principal)


@router.post("/api/v1/service-orders/{service_order_id}/book", response_model=StepOut, responses=_ANSWERS,
             summary="Book (or rebook) the appointment agreed with the buyer")
async def book(request: Request, response: Response, service_order_id: RowId, body: BookBody,
               principal: Principal = Depends(require(Permission.SERVICE_ORDERS_WRITE))) -> StepOut:
    return await _take(request, response, service_order_id, StepRequest(
        ServiceOrderAction.BOOK, appointment_start=body.start, appointment_end=body.end, note=body.note,
        expected_version=body.version), principal)


@router.post("/api/v1/service-orders/{service_order_id}/check-in", response_model=StepOut, responses=_ANSWERS,
             summary="The technician is on site")
async def check_in(request: Request, response: Response, service_order_id: RowId, body: _Body | None = None,
                   principal: Principal = Depends(require(Permission.SERVICE_ORDERS_WRITE))) -> StepOut:
    return await _take(request, response, service_order_id, StepRequest(
        ServiceOrderAction.CHECK_IN, expected_version=body.version if body else None), principal)


@router.post("/api/v1/service-orders/{service_order_id}/complete", response_model=StepOut, responses=_ANSWERS,
             summary="The work is done (notes, the buyer's rating)")
async def complete(request: Request, response: Response, service_order_id: RowId, body: CompleteBody | None = None,
                   principal: Principal = Depends(require(Permission.SERVICE_ORDERS_WRITE))) -> StepOut:
    body = body or CompleteBody()
    return await _take(request, response, service_order_id, StepRequest(
        ServiceOrderAction.COMPLETE, note=body.note, rating=body.rating, expected_version=body.version), principal)


@router.post("/api/v1/service-orders/{service_order_id}/cancel", response_model=StepOut, responses=_ANSWERS,
             summary="No longer wanted (with a reason)")
async def cancel(request: Request, response: Response, service_order_id: RowId, body: ReasonBody,
                 principal: Principal = Depends(require(Permission.SERVICE_ORDERS_WRITE))) -> StepOut:
    return await _take(request, response, service_order_id, StepRequest(
        ServiceOrderAction.CANCEL, reason=body.reason, expected_version=body.version), principal)


@router.post("/api/v1/service-orders/{service_order_id}/fail", response_model=StepOut, responses=_ANSWERS,
             summary="Could not be done (with a reason)")
async def fail(request: Request, response: Response, service_order_id: RowId, body: ReasonBody,
               principal: Principal = Depends(require(Permission.SERVICE_ORDERS_WRITE))) -> StepOut:
    return await _take(request, response, service_order_id, StepRequest(
        ServiceOrderAction.FAIL, reason=body.reason, expected_version=body.version), principal)


@router.get("/api/v1/service-orders/{service_order_id}/writes", response_model=list[WriteOut],
            summary="The steps written back to the platform and where each stands",
            responses={404: {"model": ErrorBody}})
async def list_writes(request: Request, service_order_id: RowId,
                      _: Principal = Depends(require(Permission.ORDERS_READ))) -> list[WriteOut]:
    async with get_hub(request).database().session() as session:
        if await session.scalar(select(ServiceOrderRow.id).where(ServiceOrderRow.id == service_order_id)) is None:
            raise ApiError(404, "not_found", f"no service order {service_order_id}")
        rows = (await session.execute(select(ServiceOrderWriteRow).where(
            ServiceOrderWriteRow.service_order_id == service_order_id).order_by(ServiceOrderWriteRow.id))).scalars()
        return [WriteOut(id=r.id, action=r.action, key=r.key, state=r.state, actor=r.actor, attempts=r.attempts,
                         next_attempt_at=r.next_attempt_at, error=r.error, result=dict(r.result or {}),
                         created_at=r.created_at, updated_at=r.updated_at) for r in rows]
