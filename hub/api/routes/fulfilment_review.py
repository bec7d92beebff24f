"""The review (审单) over HTTP: the queue of orders held by review or waiting for a person, one
order's review, a person's hold and approval, and reviewing orders again after the rules changed.

Every write is attributed to the caller (``Principal.actor``) and written to the order's history
by ``hub.services.fulfilment.review``; releasing one hold is the orders API's own
(``POST /api/v1/orders/{id}/holds/{code}/release``): releasing the last review hold approves the
order. Not for the review's rules (``[fulfilment.review]`` in the configuration).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, field_validator

from contracts.money import Money
from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.api.models import HoldOut
from hub.api.params import INT64_MAX, RowId, text_query
from hub.db.tables import OrderHoldRow, OrderRow
from hub.errors import NotFoundError
from hub.services.access.owners import ensure_owned
from hub.services.fulfilment import review

router = APIRouter(tags=["review"])


class ReviewOut(BaseModel):
    """One order's review: its status (None: not reviewed yet; approved; held; waiting for a
    person) and every open hold, review's or not (the flow waits for all of them)."""

    order_id: int
    status: str = Field(description="The order's status (paid, partially_shipped...).")
    review_status: str | None
    reviewed_at: datetime | None
    reviewed_by: str | None = Field(description="Who made the last review decision (None: the hub's rules).")
    holds: list[HoldOut]
    released: list[str] = Field(default_factory=list, description="Hold codes this call released.")


class ReviewQueueItem(BaseModel):
    id: int
    platform: str
    shop: str
    external_id: str
    status: str
    total: Money
    review_status: str | None
    reviewed_at: datetime | None
    holds: list[HoldOut] = Field(description="Every open hold: each reason the order waits for.")


class ReviewQueue(BaseModel):
    items: list[ReviewQueueItem]
    next_cursor: str | None


class HoldIn(BaseModel):
    reason: str = Field(min_length=1, max_length=review.MAX_REASON,
                        description="Why the order must wait (shown to whoever reviews it).")

    @field_validator("reason")
    @classmethod
    def _said(cls, value: str) -> str:
        text = " ".join(value.split())
        if not text:
            raise ValueError("say why the order is held")
        return text


class ReviewRunIn(BaseModel):
    order_ids: list[Annotated[int, Field(ge=1, le=INT64_MAX)]] = Field(
        min_length=1, max_length=500, description="The orders to review again (at most 500), in one transaction.")


class ReviewRunResult(BaseModel):
    approved: list[int] = Field(description="Passed every rule: approved (and handed to the flow if newly so).")
    held: dict[int, list[str]] = Field(description="Held, with the codes of the rules they fail.")
    waiting: list[int] = Field(description="Passed, waiting for a person ([fulfilment.review] auto = false).")
    skipped: list[int] = Field(description="Not reviewable: cancelled, shipped, not paid, or past routing.")
    unknown: list[int] = Field(description="Ids of no order.")


def _state_out(found: review.ReviewState, released: list[str] | None = None) -> ReviewOut:
    last = found.last_event
    return ReviewOut(order_id=found.order_id, status=found.status, review_status=found.review_status,
                     reviewed_at=found.reviewed_at,
                     reviewed_by=(last.detail or {}).get("reviewed_by") if last is not None else None,
                     holds=[HoldOut.model_validate(h, from_attributes=True) for h in found.open_holds],
                     released=released or [])


def _refused(exc: Exception) -> ApiError:
    if isinstance(exc, NotFoundError):
        return ApiError(404, "not_found", str(exc))
    return ApiError(409, "conflict", str(exc))


@router.get("/api/v1/fulfilment/review", response_model=ReviewQueue,
            summary="The review queue: orders held by review or waiting for a person, with every reason")
async def review_queue(
    request: Request,
    code: str | None = text_query("Only orders with an open hold of this code (review_amount, manual...)."),
    shop: str | None = text_query(),
    limit: int = Query(50, ge=1, le=review.MAX_LIMIT),
    cursor: str | None = text_query("next_cursor from the previous page."),
    principal: Principal = Depends(require(Permission.ORDERS_READ)),
) -> ReviewQueue:
    async with get_hub(request).database().session() as session:
        page = await review.queue(session, code=code, shop=shop, limit=limit, cursor=cursor, shops=principal.shops)
    return ReviewQueue(items=[_queue_item(e.order, e.holds) for e in page.rows], next_cursor=page.next_cursor)


def _queue_item(row: OrderRow, holds: list[OrderHoldRow]) -> ReviewQueueItem:
    return ReviewQueueItem(id=row.id, platform=row.platform, shop=row.shop, external_id=row.external_id,
                           status=row.status, total=Money(amount=row.total_amount, currency=row.currency),
                           review_status=row.review_status, reviewed_at=row.reviewed_at,
                           holds=[HoldOut.model_validate(h, from_attributes=True) for h in holds])


@router.post("/api/v1/fulfilment/review/run", response_model=ReviewRunResult,
             summary="Review orders again with the rules as configured now")
async def review_run(request: Request, body: ReviewRunIn,
                     principal: Principal = Depends(require(Permission.ORDERS_WRITE))) -> ReviewRunResult:
    """Every rule and plugin is asked again; a hold the rules no longer call for is released under
    your name, a new reason held; a hold a person released is not put back."""
    await ensure_owned(get_hub(request), principal, "order", body.order_ids)
    result, unknown = await review.review_again(get_hub(request), body.order_ids, actor=principal.actor)
    return ReviewRunResult(approved=sorted(result.approved),
                           held={o: [h.code for h in holds] for o, holds in sorted(result.held.items())},
                           waiting=sorted(result.waiting), skipped=result.skipped, unknown=unknown)


@router.get("/api/v1/orders/{order_id}/review", response_model=ReviewOut, summary="One order's review")
async def order_review(request: Request, order_id: RowId,
                       principal: Principal = Depends(require(Permission.ORDERS_READ))) -> ReviewOut:
    await ensure_owned(get_hub(request), principal, "order", [order_id])
    async with get_hub(request).database().session() as session:
        try:
            return _state_out(await review.state(session, order_id))
        except NotFoundError as exc:
            raise _refused(exc) from None


@router.post("/api/v1/orders/{order_id}/hold", response_model=ReviewOut,
             summary="Hold an order for a reason of your own (code manual)")
async def hold_order(request: Request, order_id: RowId, body: HoldIn,
                     principal: Principal = Depends(require(Permission.ORDERS_TRIAGE))) -> ReviewOut:
    """The order waits for a person whatever the review said; releasing the hold (or approving the
    order) lets it go on. Holding an order already held by you or another person keeps the first reason."""
    await ensure_owned(get_hub(request), principal, "order", [order_id])
    try:
        found, _added = await review.hold(get_hub(request), order_id, body.reason, actor=principal.actor)
    except (NotFoundError, review.ReviewConflict) as exc:
        raise _refused(exc) from None
    return _state_out(found)


@router.post("/api/v1/orders/{order_id}/approve", response_model=ReviewOut,
             summary="Approve an order held by review or waiting for a person")
async def approve_order(request: Request, order_id: RowId,
                        principal: Principal = Depends(require(Permission.ORDERS_WRITE))) -> ReviewOut:
    """Its review holds (rules, plugins' audit holds, manual) are released under your name and it
    goes on to fulfilment once no other hold (stock short...) is open. Approving it again changes nothing."""
    await ensure_owned(get_hub(request), principal, "order", [order_id])
    try:
        found, released = await review.approve(get_hub(request), order_id, actor=principal.actor)
    except (NotFoundError, review.ReviewConflict) as exc:
        raise _refused(exc) from None
    return _state_out(found, released)
