"""After-sales figures over HTTP: refund and return rates per SKU or shop, and the buyers' reasons
ranked, over a period (default: the last 30 days).

``GET /api/v1/aftersales/figures?by=sku|shop&since&until&shop`` and ``GET
/api/v1/aftersales/figures/reasons``: read-only, for every role that may read orders. What the
figures count is ``hub.services.aftersales.figures``'s docstring. Not for cases themselves
(``hub.api.routes.aftersales``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from contracts.money import Money
from hub.api.auth import Permission, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.services.aftersales import figures

router = APIRouter(prefix="/api/v1/aftersales/figures", tags=["aftersales"])

DEFAULT_DAYS = 30


class Period(BaseModel):
    since: datetime
    until: datetime


class RateOut(BaseModel):
    key: str = Field(description="The merchant SKU, or the shop.")
    sold: int = Field(description="Units sold (per SKU) or orders (per shop) paid in the period.")
    refunds: int = Field(description="Refund-only cases (per SKU: units in them) applied for in the period.")
    returns: int = Field(description="Return-and-refund cases (per SKU: units).")
    exchanges: int = Field(description="Exchange cases (per SKU: units).")
    refund_rate: float = Field(description="(refunds + returns) / sold; 0 when nothing was sold.")
    return_rate: float = Field(description="returns / sold; 0 when nothing was sold.")
    refunded: list[Money] = Field(description="What the refunded cases gave back, one amount per currency.")


class RatesOut(BaseModel):
    by: Literal["sku", "shop"]
    period: Period
    shop: str | None
    rows: list[RateOut]


class ReasonOut(BaseModel):
    reason: str
    cases: int
    share: float = Field(description="Of all the period's cases (withdrawn and refused ones left out).")


class ReasonsOut(BaseModel):
    period: Period
    shop: str | None
    total: int = Field(description="Cases in the rows shown.")
    rows: list[ReasonOut]


def _aware(value: datetime) -> datetime:
    """A time without a zone is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _problem(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_request", [{"field": field, "message": message, "type": "value_error"}], field=field)


def period(since: datetime | None, until: datetime | None, *, now: datetime | None = None) -> Period:
    """The period asked for: ``until`` defaults to now, ``since`` to 30 days before ``until``;
    ``since`` after ``until`` is a 422 naming ``query.since``."""
    try:
        end = _aware(until) if until is not None else (now or datetime.now(UTC))
    except OverflowError:  # year 1 with a zone east of UTC
        raise _problem("query.until", "out of range") from None
    try:
        start = _aware(since) if since is not None else end - timedelta(days=DEFAULT_DAYS)
    except OverflowError:
        raise _problem("query.since" if since is not None else "query.until", "out of range") from None
    if start > end:
        raise _problem("query.since", "since must not be after until")
    return Period(since=start, until=end)


SINCE = Query(None, description="From this time (ISO 8601; no zone: UTC). Default: 30 days before until.")
UNTIL = Query(None, description="Before this time. Default: now.")
SHOP = Query(None, max_length=100, description="Only this shop.")


@router.get("", response_model=RatesOut, summary="Refund and return rates per SKU or per shop over a period",
            dependencies=[Depends(require(Permission.ORDERS_READ))])
async def rates(
    request: Request,
    by: Literal["sku", "shop"] = Query("sku", description="sku (units) or shop (orders)."),
    since: datetime | None = SINCE,
    until: datetime | None = UNTIL,
    shop: str | None = SHOP,
    limit: int = Query(50, ge=1, le=500),
) -> RatesOut:
    span = period(since, until)
    async with get_hub(request).database().session() as session:
        rows = await figures.rates(session, by=by, since=span.since, until=span.until, shop=shop, limit=limit)
    return RatesOut(by=by, period=span, shop=shop, rows=[_rate_out(r) for r in rows])


def _rate_out(row: figures.RateRow) -> RateOut:
    refunded = [Money(amount=a, currency=c) for c, a in sorted(row.refunded.items())]
    return RateOut(**{**vars(row), "refunded": refunded})


@router.get("/reasons", response_model=ReasonsOut, summary="The buyers' reasons over a period, most frequent first",
            dependencies=[Depends(require(Permission.ORDERS_READ))])
async def reasons(
    request: Request,
    since: datetime | None = SINCE,
    until: datetime | None = UNTIL,
    shop: str | None = SHOP,
    limit: int = Query(20, ge=1, le=200),
) -> ReasonsOut:
    span = period(since, until)
    async with get_hub(request).database().session() as session:
        rows = await figures.reasons(session, since=span.since, until=span.until, shop=shop, limit=limit)
    return ReasonsOut(period=span, shop=shop, total=sum(r.cases for r in rows),
                      rows=[ReasonOut(**vars(r)) for r in rows])
