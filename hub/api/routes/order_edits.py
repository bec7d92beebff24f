"""Order edits over HTTP: address, remarks, flag, price and quantity, cancellation; the approval queue.

``POST /api/v1/orders/{id}/edits`` records an edit with the order's ``version`` the page showed
(409 when the order changed since, or its status refuses the kind — the message names the
status; 422 naming the field for a bad value) and answers 201 with the edit: ``applied`` (and its
write-back: ``sent``, ``pending``, ``failed``, ``local_only`` when the platform has no API for
it) or ``pending_approval`` for a money change. ``/approve`` and ``/reject`` decide a waiting edit
(``orders.approve``; nobody approves their own). ``POST /api/v1/orders/{id}/cancel`` cancels an
unshipped order. Everything is limited to the caller's shops: another shop's order or edit is a
404. The logic is ``hub.services.order_edits``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from contracts.order_edits import LineChange, OrderEditKind, OrderEditValues, SellerFlag
from contracts.orders import Address
from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError, ErrorBody
from hub.api.params import RowId
from hub.db.tables import OrderEditRow
from hub.services.order_edits import approvals, records
from hub.services.order_edits.records import STATUSES, EditView
from hub.services.order_edits.request import EditAsk, request_edit

router = APIRouter(tags=["order edits"])

_VERSION = Field(ge=1, le=2**31 - 1, description="The order's version the page showed: an edit of an order changed "
                                                 "since is refused (409).")


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(min_length=1, max_length=30)
    province: str = Field(min_length=1, max_length=50)
    city: str = Field(min_length=1, max_length=50)
    district: str | None = Field(default=None, max_length=50)
    town: str | None = Field(default=None, max_length=50)
    street: str = Field(min_length=1, max_length=200)
    postcode: str | None = Field(default=None, max_length=12)
    country: str = Field(default="CN", pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2.")


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line: str = Field(min_length=1, max_length=200, description="The line's channel id (external_id).")
    unit_price: Decimal | None = Field(default=None, ge=0, le=Decimal("99999999"), decimal_places=2)
    quantity: int | None = Field(default=None, gt=0, le=100_000)


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["address", "buyer_note", "seller_note", "flag", "price", "quantity"]
    version: int = _VERSION
    reason: str = Field(default="", max_length=500)
    address: AddressIn | None = None
    note: str | None = Field(default=None, max_length=5000)
    flag: Literal["none", "red", "yellow", "green", "blue", "purple", "pink", "cyan", "orange"] | None = None
    lines: list[LineIn] = Field(default_factory=list, max_length=200)
    idempotency_key: str | None = Field(default=None, min_length=8, max_length=100)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = _VERSION
    reason: str = Field(min_length=1, max_length=500)
    idempotency_key: str | None = Field(default=None, min_length=8, max_length=100)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)


class EditOut(BaseModel):
    id: int
    order_id: int
    shop: str
    kind: str
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str
    requested_by: str
    requested_at: datetime
    status: str = Field(description="applied | pending_approval | approved | rejected | cancelled (withdrawn by "
                                    "the hub: the order was paid before approval, see decision_note)")
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    writeback: str = Field(description="not_needed | pending | sent | failed | local_only")
    writeback_error: str | None
    attempts: int
    idempotency_key: str
    order_version: int = Field(description="The order's version the edit was asked against.")


def out(view: EditView) -> EditOut:
    return EditOut.model_validate(view.__dict__)


def values_of(body: EditIn) -> OrderEditValues:
    """The API body as the service's values (shared with the console and the CLI)."""
    return OrderEditValues(
        address=Address.model_validate(body.address.model_dump()) if body.address else None, note=body.note,
        flag=SellerFlag[body.flag.upper()] if body.flag else None,
        lines=[LineChange(line=line.line, unit_price=line.unit_price, quantity=line.quantity) for line in body.lines])


_ANSWERS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}, 409: {"model": ErrorBody},
                                             422: {"model": ErrorBody}}


@router.post("/api/v1/orders/{order_id}/edits", response_model=EditOut, status_code=201, responses=_ANSWERS,
             summary="Edit an order (address, notes, flag; price and quantity wait for approval)")
async def create_edit(request: Request, order_id: RowId, body: EditIn,
                      principal: Principal = Depends(require(Permission.ORDERS_EDIT))) -> EditOut:
    ask = EditAsk(kind=OrderEditKind(body.kind), values=values_of(body), reason=body.reason, version=body.version,
                  key=body.idempotency_key)
    return out(await request_edit(get_hub(request), order_id, ask, actor=principal.actor, principal=principal,
                                  pii=principal.may(Permission.ORDERS_READ_PII)))


@router.post("/api/v1/orders/{order_id}/cancel", response_model=EditOut, status_code=201, responses=_ANSWERS,
             summary="Cancel an unshipped order (its stock goes back; written back where the platform can)")
async def cancel_order(request: Request, order_id: RowId, body: CancelIn,
                       principal: Principal = Depends(require(Permission.ORDERS_EDIT))) -> EditOut:
    ask = EditAsk(kind=OrderEditKind.CANCEL, values=OrderEditValues(reason=body.reason), reason=body.reason,
                  version=body.version, key=body.idempotency_key)
    return out(await request_edit(get_hub(request), order_id, ask, actor=principal.actor, principal=principal,
                                  pii=principal.may(Permission.ORDERS_READ_PII)))


@router.get("/api/v1/orders/{order_id}/edits", response_model=list[EditOut], responses={404: {"model": ErrorBody}},
            summary="An order's edits, oldest first")
async def list_order_edits(request: Request, order_id: RowId,
                           principal: Principal = Depends(require(Permission.ORDERS_READ))) -> list[EditOut]:
    pii = principal.may(Permission.ORDERS_READ_PII)
    async with get_hub(request).database().session() as session:
        await records.load_order(session, order_id, principal)
        rows = (await session.execute(select(OrderEditRow).where(OrderEditRow.order_id == order_id)
                                      .order_by(OrderEditRow.id))).scalars()
        return [out(records.view(row, pii=pii)) for row in rows]


@router.get("/api/v1/order-edits", response_model=list[EditOut], summary="Edits by status (the approval queue)")
async def list_edits(request: Request, status: str = Query(default="pending_approval", max_length=20),
                     limit: int = Query(default=200, ge=1, le=1000),
                     principal: Principal = Depends(require(Permission.ORDERS_READ))) -> list[EditOut]:
    if status not in STATUSES:
        raise ApiError(422, "bad_input", f"status: one of {', '.join(STATUSES)}", field="status")
    pii = principal.may(Permission.ORDERS_READ_PII)
    async with get_hub(request).database().session() as session:
        rows = await approvals.queue(session, principal, status=status, limit=limit)
        return [out(records.view(row, pii=pii)) for row in rows]


async def _decide(request: Request, edit_id: int, body: DecisionIn | None, principal: Principal, *,
                  approve: bool) -> EditOut:
    hub = get_hub(request)
    outcome = (await approvals.decide(hub, [edit_id], approve=approve, actor=principal.actor,
                                      note=body.note if body else None, principal=principal))[edit_id]
    if not outcome.ok:
        status = 404 if "does not exist" in outcome.message else 409
        raise ApiError(status, "not_found" if status == 404 else "conflict", outcome.message)
    async with hub.database().session() as session:
        return out(records.view(await records.load_edit(session, edit_id, principal),
                                pii=principal.may(Permission.ORDERS_READ_PII)))


@router.post("/api/v1/order-edits/{edit_id}/approve", response_model=EditOut, responses=_ANSWERS,
             summary="Approve a money change (not your own): it is applied and written back")
async def approve(request: Request, edit_id: RowId, body: DecisionIn | None = None,
                  principal: Principal = Depends(require(Permission.ORDERS_APPROVE))) -> EditOut:
    return await _decide(request, edit_id, body, principal, approve=True)


@router.post("/api/v1/order-edits/{edit_id}/reject", response_model=EditOut, responses=_ANSWERS,
             summary="Reject a money change, with a note")
async def reject(request: Request, edit_id: RowId, body: DecisionIn,
                 principal: Principal = Depends(require(Permission.ORDERS_APPROVE))) -> EditOut:
    return await _decide(request, edit_id, body, principal, approve=False)
