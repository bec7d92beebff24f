"""Parcels, electronic waybills and labels over HTTP.

``GET /api/v1/parcels`` (filtered, cursor pages, newest first) and ``GET /api/v1/parcels/{id}``
for anyone who reads orders; issuing a waybill now, cancelling one, and printing labels (one
parcel's ``label.pdf``, or ``POST /api/v1/labels`` for a batch in one PDF) need
``shipments.write`` and are attributed to the caller in the order's history. Labels show buyers'
and senders' personal data only to roles with ``orders.read_pii``. Not for the rules behind them
(``hub.services.fulfilment.waybills`` and ``labels``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Select, or_, select

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError, ErrorBody
from hub.api.params import INT64_MAX, RowId, text_query
from hub.db.cursors import decode_id_cursor, encode_id_cursor
from hub.db.tables import ParcelRow
from hub.errors import BadInputError
from hub.services.access.owners import ensure_owned, of_orders_in
from hub.services.fulfilment import labels, waybills
from hub.services.fulfilment.courier_check import couriers_unknown_to_shop

router = APIRouter(prefix="/api/v1", tags=["parcels"])

MAX_LIMIT = 200
#: Parcels one label PDF may hold.
MAX_LABELS = 200
_CURSOR = "parcels:"
STATUSES = ("pending", "issued", "printed", "shipped", "cancelling", "cancelled", "failed")
PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "The labels, one 100×150 mm page per parcel."}}


class ParcelOut(BaseModel):
    """A parcel of a delivery order and its waybill."""

    id: int
    key: str = Field(description="The waybill idempotency key sent to the provider.")
    order_id: int
    delivery_order_id: int | None
    seq: int
    courier_code: str
    courier_account: str | None = Field(description="The [couriers.<name>] account that issues its waybill.")
    waybill_number: str | None
    status: str = Field(description="pending, issued, printed, shipped, cancelling, cancelled or failed.")
    weight_grams: int | None
    sort_code: str | None = Field(default=None, description="三段码 / 大头笔 from the provider, when given.")
    package_center: str | None = Field(default=None, description="集包地 from the provider, when given.")
    print_data: dict[str, Any] | None = Field(
        default=None, description="What the provider returned for printing (roles with orders.read_pii only).")
    printed_at: datetime | None
    attempts: int
    last_error: str | None
    created_at: datetime
    updated_at: datetime | None


class ParcelList(BaseModel):
    items: list[ParcelOut]
    next_cursor: str | None


class IssueResult(ParcelOut):
    retry_queued: bool = Field(default=False, description="A transient fault: the queue asks again (same key).")


class WaybillIn(BaseModel):
    """The tracking number of a label bought elsewhere, typed in by a person."""

    model_config = ConfigDict(extra="forbid")

    waybill_number: str = Field(description="The label's tracking number (letters, digits, - _ . /; at most "
                                            f"{waybills.MAX_NUMBER}).")
    courier_code: str | None = Field(default=None, description="The carrier (hub courier code, e.g. 'ems'), "
                                                               "when it is not the parcel's.")

    @field_validator("waybill_number")
    @classmethod
    def _number(cls, value: str) -> str:
        return waybills.normal_number(value)

    @field_validator("courier_code")
    @classmethod
    def _courier(cls, value: str | None) -> str | None:
        return None if value is None else waybills.normal_courier(value)


class LabelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parcel_ids: list[int] = Field(min_length=1, max_length=MAX_LABELS,
                                  description="Parcels to print, in page order (each with a waybill).")


def parcel_out(row: ParcelRow, *, reveal: bool = False) -> ParcelOut:
    label = (row.print_data or {}).get("label") or {}
    return ParcelOut(
        id=row.id, key=row.key, order_id=row.order_id, delivery_order_id=row.delivery_order_id, seq=row.seq,
        courier_code=row.courier_code, courier_account=row.courier_account, waybill_number=row.waybill_number,
        status=row.status, weight_grams=row.weight_grams, sort_code=label.get("sort_code"),
        package_center=label.get("package_center"), print_data=(row.print_data or None) if reveal else None,
        printed_at=row.printed_at, attempts=row.attempts, last_error=row.last_error, created_at=row.created_at,
        updated_at=row.updated_at,
    )


def parcels_statement(*, status: list[str] | None = None, order_id: int | None = None, courier: str | None = None,
                      delivery_order_id: int | None = None, limit: int = 50, cursor: str | None = None,
                      shops: frozenset[str] | None = None) -> Select[Any]:
    """Parcels matching the filters, newest id first, one more than ``limit`` (to know of a next page)."""
    stmt = select(ParcelRow)
    if status:
        stmt = stmt.where(ParcelRow.status.in_(status))
    if order_id is not None:
        stmt = stmt.where(ParcelRow.order_id == order_id)
    if delivery_order_id is not None:
        stmt = stmt.where(ParcelRow.delivery_order_id == delivery_order_id)
    if shops is not None:  # the caller's shops (None: every shop)
        stmt = stmt.where(of_orders_in(ParcelRow.order_id, shops))
    if courier:
        stmt = stmt.where(or_(ParcelRow.courier_code == courier.strip().lower(), ParcelRow.courier_account == courier))
    if cursor:
        stmt = stmt.where(ParcelRow.id < decode_id_cursor(_CURSOR, cursor))
    return stmt.order_by(ParcelRow.id.desc()).limit(limit + 1)


@dataclass(frozen=True)
class ParcelPage:
    rows: list[ParcelRow]
    next_cursor: str | None


async def parcel_page(hub: Any, *, limit: int = 50, **filters: Any) -> ParcelPage:
    async with hub.database().session() as session:
        rows = list((await session.execute(parcels_statement(limit=limit, **filters))).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return ParcelPage(rows, encode_id_cursor(_CURSOR, rows[-1].id) if more and rows else None)


async def _row(request: Request, parcel_id: int) -> ParcelRow:
    async with get_hub(request).database().session() as session:
        row = (await session.execute(select(ParcelRow).where(ParcelRow.id == parcel_id))).scalar_one_or_none()
    if row is None:
        raise ApiError(404, "not_found", f"parcel {parcel_id} does not exist")
    return row


@router.get("/parcels", response_model=ParcelList, summary="Parcels, newest first, filtered and cursor-paginated")
async def list_parcels(
    request: Request,
    status: list[str] | None = Query(None, description=f"Repeat to match several: {', '.join(STATUSES)}."),
    order_id: int | None = Query(None, ge=1, le=INT64_MAX),
    courier: str | None = text_query("A courier code ('zto', any case) or a courier account name."),
    delivery_order_id: int | None = Query(None, ge=1, le=INT64_MAX),
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    cursor: str | None = text_query("next_cursor from the previous page."),
    principal: Principal = Depends(require(Permission.ORDERS_READ)),
) -> ParcelList:
    for i, value in enumerate(status or []):
        if value not in STATUSES:
            raise BadInputError(f"status {value!r} is not one of {', '.join(STATUSES)}", field=f"query.status.{i}")
    page = await parcel_page(get_hub(request), status=status, order_id=order_id, courier=courier,
                             delivery_order_id=delivery_order_id, limit=limit, cursor=cursor, shops=principal.shops)
    reveal = principal.may(Permission.ORDERS_READ_PII)
    return ParcelList(items=[parcel_out(r, reveal=reveal) for r in page.rows], next_cursor=page.next_cursor)


@router.get("/parcels/{parcel_id}", response_model=ParcelOut, summary="One parcel and its waybill",
            responses={404: {"model": ErrorBody, "description": "No such parcel."}})
async def get_parcel(request: Request, parcel_id: RowId,
                     principal: Principal = Depends(require(Permission.ORDERS_READ))) -> ParcelOut:
    await ensure_owned(get_hub(request), principal, "parcel", [parcel_id])
    return parcel_out(await _row(request, parcel_id), reveal=principal.may(Permission.ORDERS_READ_PII))


@router.post("/parcels/{parcel_id}/waybill", response_model=IssueResult,
             summary="Obtain the parcel's waybill now, or enter the number of a label bought elsewhere",
             responses={202: {"model": IssueResult, "description": "A transient fault: the queue asks again."},
                        404: {"model": ErrorBody, "description": "No such parcel."},
                        409: {"model": ErrorBody, "description": "The parcel is cancelled or shipped, has another "
                                                                 "number, its account issues no waybills (enter "
                                                                 "one), or another parcel has this number."},
                        422: {"model": ErrorBody, "description": "A blank, too long or unprintable number."}})
async def issue_waybill(request: Request, response: Response, parcel_id: RowId, body: WaybillIn | None = None,
                        principal: Principal = Depends(require(Permission.SHIPMENTS_WRITE))) -> IssueResult:
    """Without a body the provider is asked now (a failed parcel is tried again); asked again for a
    parcel that has its waybill, the answer is that waybill (nothing is asked).

    With ``{"waybill_number": …}``: the tracking number of a label bought elsewhere (a post office, a
    forwarder), for a parcel waiting for one (its courier account issues no waybills, e.g. the
    ``manual`` courier) or whose provider failed it. The parcel becomes ``issued`` and its label
    prints that number; the same number again answers the parcel as it is."""
    await ensure_owned(get_hub(request), principal, "parcel", [parcel_id])
    hub = get_hub(request)
    try:
        if body is not None:
            if body.courier_code is not None:  # one the channel cannot be told of is refused now, not at shipping
                shop, unknown = await couriers_unknown_to_shop(hub, (await _row(request, parcel_id)).order_id,
                                                               [body.courier_code])
                if unknown:
                    raise ApiError(422, "unknown_courier", f"shop {shop!r} has no mapping for courier "
                                   f"{body.courier_code!r}: its channel could not be told of this parcel; add it to "
                                   "the shop's courier map, or use a mapped one", field="body.courier_code")
            outcome = await waybills.enter_waybill(hub, parcel_id, body.waybill_number, body.courier_code,
                                                   actor=principal.actor)
        else:
            outcome = await waybills.issue_now(hub, parcel_id, actor=principal.actor)
    except waybills.WaybillRefused as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    row = await _row(request, parcel_id)
    queued = outcome.status == "pending" and outcome.error is not None
    if queued:
        response.status_code = 202
    return IssueResult(**parcel_out(row, reveal=principal.may(Permission.ORDERS_READ_PII)).model_dump(),
                       retry_queued=queued)


@router.post("/parcels/{parcel_id}/cancel-waybill", response_model=ParcelOut,
             summary="Cancel the parcel's waybill at its provider (before it ships)",
             responses={404: {"model": ErrorBody, "description": "No such parcel."},
                        409: {"model": ErrorBody, "description": "Shipped, or the provider refused (collected "
                                                                 "already): the reason is given."}})
async def cancel_waybill(request: Request, parcel_id: RowId,
                         principal: Principal = Depends(require(Permission.SHIPMENTS_WRITE))) -> ParcelOut:
    await ensure_owned(get_hub(request), principal, "parcel", [parcel_id])
    await _row(request, parcel_id)
    done = await waybills.cancel_waybills(get_hub(request), [parcel_id], actor=principal.actor)
    row = await _row(request, parcel_id)
    if parcel_id not in done:
        raise ApiError(409, "conflict", f"parcel {parcel_id} ({row.status}) was not cancelled: "
                                        f"{row.last_error or 'a shipped parcel cannot be cancelled'}")
    return parcel_out(row, reveal=principal.may(Permission.ORDERS_READ_PII))


def _pdf(content: bytes, name: str) -> Response:
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-store"})


async def _print(request: Request, parcel_ids: list[int], principal: Principal) -> bytes:
    await ensure_owned(get_hub(request), principal, "parcel", parcel_ids)
    try:
        return await labels.print_labels(get_hub(request), parcel_ids, actor=principal.actor,
                                         reveal=principal.may(Permission.ORDERS_READ_PII))
    except waybills.WaybillRefused as exc:
        raise ApiError(409, "conflict", str(exc)) from exc


@router.get("/parcels/{parcel_id}/label.pdf", summary="The parcel's 100×150 mm label (marks it printed)",
            response_class=Response, responses={**PDF, 404: {"model": ErrorBody, "description": "No such parcel."},
                                                409: {"model": ErrorBody, "description": "No waybill to print."}})
async def parcel_label(request: Request, parcel_id: RowId,
                       principal: Principal = Depends(require(Permission.SHIPMENTS_WRITE))) -> Response:
    return _pdf(await _print(request, [parcel_id], principal), f"label-{parcel_id}.pdf")


@router.post("/labels", summary="Many parcels' labels in one PDF, one page each (marks them printed)",
             response_class=Response, responses={**PDF, 404: {"model": ErrorBody, "description": "Unknown parcels."},
                                                 409: {"model": ErrorBody, "description": "A parcel has no waybill "
                                                                                          "to print (named)."}})
async def batch_labels(request: Request, body: LabelsIn,
                       principal: Principal = Depends(require(Permission.SHIPMENTS_WRITE))) -> Response:
    for i, parcel_id in enumerate(body.parcel_ids):
        if not 1 <= parcel_id <= INT64_MAX:
            raise BadInputError(f"parcel id {parcel_id} is out of range (1 to 2^63-1)", field=f"body.parcel_ids.{i}")
    return _pdf(await _print(request, body.parcel_ids, principal), "labels.pdf")
