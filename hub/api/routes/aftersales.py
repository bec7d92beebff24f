"""After-sale cases over HTTP: ``GET /api/v1/aftersales`` (filtered, cursor pages, the soonest
deadline first by default), ``GET /api/v1/aftersales/{id}`` (one case in full: lines, amounts,
reason, evidence, return parcel, history, decisions and the actions allowed now, each marked as
written back to the platform or recorded in the hub only) and ``POST /api/v1/aftersales`` (a case a
person opens in the hub for an order: an exchange or reissue agreed by chat, a channel with no API).

Reading needs ``orders.read`` (cases are part of an order's story), opening ``orders.write``; both
call ``hub.services.aftersales.queries`` / ``local_cases`` as the console and the CLI do. Deciding
a case is ``hub.api.routes.aftersales_decisions``'s.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from contracts.aftersales import AfterSaleStatus, AfterSaleType
from contracts.money import Money
from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.models import AfterSaleSummaryOut, aftersale_summary_out
from hub.api.params import INT64_MAX, QueryTime, RowId, text_query
from hub.errors import BadInputError, NotFoundError
from hub.services.access.owners import ensure_owned
from hub.services.access.scope import caller_shops, caller_shops_principal, check_shop
from hub.services.aftersales import local_cases, queries

router = APIRouter(tags=["aftersales"])


class AfterSaleList(BaseModel):
    items: list[AfterSaleSummaryOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= (with the same sort) for the next page; "
                                                "null on the last page.")


class CaseLineOut(BaseModel):
    position: int
    order_line_id: int | None = Field(description="The order line it is about (null while the order is unknown).")
    line_external_id: str | None
    merchant_sku: str | None
    quantity: int
    refund_amount: Money | None
    received_good: int = Field(description="Units the hub recorded as back in good condition.")
    received_damaged: int = Field(description="Units the hub recorded as back damaged (defective location).")


class CaseEventOut(BaseModel):
    id: int
    at: datetime
    kind: str = Field(description="reported, opened, decided, written_back, recorded_only, rule, restocked, "
                                  "alert, replacement...")
    old_status: str | None
    new_status: str | None
    cause: str
    actor: str | None
    detail: dict[str, Any]


class CaseDecisionOut(BaseModel):
    id: int
    action: str
    state: str = Field(description="pending, done (the platform took it), recorded (no platform API: the hub "
                                   "recorded it) or failed.")
    actor: str | None
    attempts: int
    error: str | None
    result: dict[str, Any]
    created_at: datetime


class AllowedActionOut(BaseModel):
    action: str
    written_back: bool = Field(description="False: the platform has no API for it; the hub records it and says so.")


class AfterSaleDetailOut(AfterSaleSummaryOut):
    local: bool = Field(description="Opened in the hub: the platform knows nothing of it.")
    description: str | None = Field(description="The buyer's words.")
    evidence: list[str] = Field(description="The buyer's evidence (image URLs).")
    max_refund: Money | None = Field(description="The most the buyer may get back, when the platform says.")
    return_courier: str | None
    return_tracking_number: str | None
    exchange_sku: str | None = Field(description="For an exchange: what the buyer wants instead.")
    version: str | None = Field(description="The platform's lock value a decision must carry.")
    received: bool = Field(description="The hub recorded the returned goods as back.")
    resolution: str | None
    delivery_order_id: int | None = Field(description="The delivery the hub made for it (replacement, reissue).")
    decided_by: str | None
    lines: list[CaseLineOut]
    history: list[CaseEventOut] = Field(description="Every report, decision, rule and stock movement, oldest first.")
    decisions: list[CaseDecisionOut]
    allowed: list[AllowedActionOut] = Field(description="What a person may decide now, in the order a screen "
                                                        "offers it.")


class OpenLineIn(BaseModel):
    order_line_id: int = Field(ge=1, le=INT64_MAX, description="A line of the order (its id in the order detail).")
    quantity: int = Field(ge=1, le=1_000_000, description="How many units of it (at most what was ordered).")


class OpenCaseIn(BaseModel):
    order_id: int = Field(ge=1, le=INT64_MAX)
    type: AfterSaleType
    lines: list[OpenLineIn] = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=local_cases.MAX_REASON,
                               description="Why (what was agreed with the buyer).")


def _money(amount: Any, currency: str | None) -> Money | None:
    return Money(amount=amount, currency=currency) if amount is not None and currency else None


def detail_out(found: queries.CaseDetail) -> AfterSaleDetailOut:
    """A ``CaseDetail`` as the API shows it."""
    currency = found.summary.currency
    return AfterSaleDetailOut(
        **aftersale_summary_out(found.summary).model_dump(), local=found.local, description=found.description,
        evidence=found.evidence, max_refund=_money(found.max_refund, found.max_refund_currency or currency),
        return_courier=found.return_courier,
        return_tracking_number=found.return_tracking_number, exchange_sku=found.exchange_sku, version=found.version,
        received=found.received, resolution=found.resolution, delivery_order_id=found.delivery_order_id,
        decided_by=found.decided_by,
        lines=[CaseLineOut(position=li.position, order_line_id=li.order_line_id, line_external_id=li.line_external_id,
                           merchant_sku=li.merchant_sku, quantity=li.quantity,
                           refund_amount=_money(li.refund_amount, currency), received_good=li.received_good,
                           received_damaged=li.received_damaged) for li in found.lines],
        history=[CaseEventOut(**vars(e)) for e in found.history],
        decisions=[CaseDecisionOut(**vars(d)) for d in found.decisions],
        allowed=[AllowedActionOut(**vars(a)) for a in found.allowed],
    )


@router.get("/api/v1/aftersales", response_model=AfterSaleList,
            summary="After-sale cases, the soonest deadline first, filtered and cursor-paginated")
async def list_aftersales(
    request: Request,
    status: list[AfterSaleStatus] | None = Query(None, description="Repeat to match any of several statuses."),
    type: list[AfterSaleType] | None = Query(None, description="Repeat to match any of several types."),
    shop: str | None = text_query(),
    platform: str | None = text_query(),
    order_id: Annotated[int | None, Query(ge=1, le=INT64_MAX)] = None,
    deadline_before: QueryTime | None = Query(None, description="Cases the platform decides before this."),
    applied_from: QueryTime | None = Query(None, description="Applied at or after this (ISO, with offset)."),
    applied_to: QueryTime | None = Query(None, description="Applied before this."),
    open: bool = Query(False, description="Only cases not refunded, completed or closed."),
    sort: Literal["due", "applied", "updated"] = Query(
        "due", description="due: the soonest deadline first, cases without one last; applied, updated: newest first."),
    limit: int = Query(50, ge=1, le=queries.MAX_LIMIT),
    cursor: str | None = text_query("next_cursor from the previous page."),
    _: Principal = Depends(require(Permission.ORDERS_READ)),
) -> AfterSaleList:
    flt = queries.CaseFilter(statuses=tuple(s.value for s in status or ()), types=tuple(t.value for t in type or ()),
                             shop=shop, platform=platform, order_id=order_id, deadline_before=deadline_before,
                             applied_from=applied_from, applied_to=applied_to, open_only=open,
                             shops=caller_shops(request))
    async with get_hub(request).database().session() as session:
        page = await queries.list_cases(session, flt, sort=sort, cursor=cursor, limit=limit)  # bad input → 400
    return AfterSaleList(items=[aftersale_summary_out(c) for c in page.items], next_cursor=page.next_cursor)


@router.get("/api/v1/aftersales/{case_id}", response_model=AfterSaleDetailOut, summary="One after-sale case in full")
async def get_aftersale(request: Request, case_id: RowId,
                        _: Principal = Depends(require(Permission.ORDERS_READ))) -> AfterSaleDetailOut:
    try:
        found = await queries.detail_for(get_hub(request), case_id)
        check_shop(caller_shops_principal(request), found.summary.shop, f"after-sale case {case_id}")
    except NotFoundError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    return detail_out(found)


@router.post("/api/v1/aftersales", response_model=AfterSaleDetailOut, status_code=201,
             summary="Open a case in the hub for an order (an exchange or reissue agreed with the buyer)")
async def open_aftersale(request: Request, body: OpenCaseIn,
                         principal: Principal = Depends(require(Permission.ORDERS_WRITE))) -> AfterSaleDetailOut:
    """The case takes the order's platform and shop, the external id ``hub-<n>``, starts
    ``requested`` and is worked like any other; nothing of it is written back to the platform."""
    await ensure_owned(get_hub(request), principal, "order", [body.order_id])
    hub = get_hub(request)
    try:
        case_id = await local_cases.open_case(
            hub, body.order_id, type=body.type.value, lines=[(li.order_line_id, li.quantity) for li in body.lines],
            reason=body.reason, actor=principal.actor)
    except NotFoundError as exc:
        raise _invalid("order_id", str(exc)) from None
    except BadInputError as exc:
        raise _invalid(exc.field or "body", str(exc)) from None
    return detail_out(await queries.detail_for(hub, case_id))


def _invalid(field: str, message: str) -> ApiError:
    where = f"body.{field}"
    return ApiError(422, "invalid_request", [{"field": where, "message": message, "type": "value_error"}], field=where)
