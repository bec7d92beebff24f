"""Reports over HTTP: ``GET /api/v1/reports/sales`` (orders, sales, AOV, status shares, rates and —
for callers who may see it — gross profit, per day/week/month and channel/shop/SKU/province, a page
of keys at a time ranked by sales),
``GET /api/v1/reports/buyers`` (new and repeat buyers, tiers by spend), and a SKU's cost price
(``PUT /api/v1/skus/{sku}/cost``).

Reads need ``reports.read``; profit fields are left out (``profit_included: false``) for callers
without ``reports.profit``; a caller limited to some shops sees only theirs. Days are the console's
time zone's. What is counted: ``hub.services.reports.figures``.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

import structlog
from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hub.api.auth import Permission, Principal, require
from hub.api.deps import get_hub
from hub.api.errors import ApiError
from hub.errors import BadInputError
from hub.services.reports import costs, report
from hub.services.reports.figures import Figures

log = structlog.get_logger(__name__)
router = APIRouter(tags=["reports"])
reader = require(Permission.REPORTS_READ)
DEFAULT_DAYS = 30


class ProfitOut(BaseModel):
    cost: Decimal
    freight: Decimal
    fees: Decimal
    gross_profit: Decimal = Field(description="sales − cost − freight − fees.")
    lines_without_cost: int = Field(description="Sales lines whose SKU has no cost price (counted at 0).")
    orders_with_fees: int = Field(description="Sales orders whose channel reported platform fees.")


class FiguresOut(BaseModel):
    bucket: date | None = Field(description="The bucket's first local day (None in totals).")
    key: str = Field(description="The channel, shop, SKU or province ('' unknown or no dimension).")
    orders: int
    paid_orders: int
    sales_orders: int
    sales: Decimal
    aov: Decimal
    units: int = Field(description="Units sold (SKU dimension only).")
    cancellation_rate: float
    refund_rate: float
    return_rate: float
    status_shares: dict[str, float]
    profit: ProfitOut | None = Field(default=None, description="Only with reports.profit.")


class SalesOut(BaseModel):
    period: Literal["day", "week", "month"]
    dimension: Literal["none", "channel", "shop", "sku", "province"]
    from_: date = Field(alias="from")
    to: date
    time_zone: str
    profit_included: bool = Field(description="False when the caller may not see gross profit.")
    fees_reported: bool = Field(description="False: no channel reported platform fees; they count as 0.")
    rows: list[FiguresOut] = Field(description="Per bucket and key, for the keys on this page.")
    totals: FiguresOut = Field(description="The whole range and every key, not only this page's.")
    keys_total: int = Field(description="How many keys (channels, shops, SKUs, provinces) the range has.")
    limit: int = Field(description="Keys per page, ranked by sales over the range (highest first).")
    offset: int = Field(description="Keys skipped before this page.")

    model_config = ConfigDict(populate_by_name=True)


class BucketOut(BaseModel):
    bucket: date
    buyers: int
    new: int
    repeat: int


class TierOut(BaseModel):
    tier: str
    min_spend: Decimal
    buyers: int
    spend: Decimal


class BuyersOut(BaseModel):
    period: Literal["day", "week", "month"]
    from_: date = Field(alias="from")
    to: date
    time_zone: str
    buyers: int
    new: int
    repeat: int
    buckets: list[BucketOut]
    tiers: list[TierOut]

    model_config = ConfigDict(populate_by_name=True)


class CostIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cost_price: Decimal | None = Field(description="Cost per unit (≥ 0); null clears it.")


def figures_out(row: Figures) -> FiguresOut:
    profit = None
    if row.profit is not None and row.gross_profit is not None:
        p = row.profit
        profit = ProfitOut(cost=p.cost, freight=p.freight, fees=p.fees, gross_profit=row.gross_profit,
                           lines_without_cost=p.lines_without_cost, orders_with_fees=p.orders_with_fees)
    return FiguresOut(bucket=row.bucket, key=row.key, orders=row.orders, paid_orders=row.paid_orders,
                      sales_orders=row.sales_orders, sales=row.sales, aov=row.aov, units=row.units,
                      cancellation_rate=row.cancellation_rate, refund_rate=row.refund_rate,
                      return_rate=row.return_rate, status_shares=row.status_shares, profit=profit)


def _bad(exc: BadInputError) -> ApiError:
    field = f"query.{exc.field}" if exc.field else None
    return ApiError(422, "invalid_request", [{"field": field, "message": str(exc), "type": "value_error"}],
                    field=field)


def _days(first: date | None, last: date | None) -> tuple[date, date]:
    end = last or date.today()
    return first or end - timedelta(days=DEFAULT_DAYS - 1), end


PERIOD = Query("day", description="day, week (from Monday) or month, in the console's time zone.")
FROM = Query(None, alias="from", description="First local day (default: 30 days before to).")
TO = Query(None, alias="to", description="Last local day, included (default: today).")
SHOPS = Query(None, description="Only these shops (repeat the parameter).")
#: Keys per page by default: 50 SKUs' daily rows over a year are 18,250 rows.
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


@router.get("/api/v1/reports/sales", response_model=SalesOut, response_model_by_alias=True,
            summary="Orders, sales, AOV, status shares, rates and gross profit per period and dimension")
async def sales(
    request: Request,
    period: Literal["day", "week", "month"] = PERIOD,
    dimension: Literal["none", "channel", "shop", "sku", "province"] = Query("none"),
    first: date | None = FROM,
    last: date | None = TO,
    shop: list[str] | None = SHOPS,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT,
                       description="Keys of the dimension per page, ranked by sales over the range."),
    offset: int = Query(0, ge=0, description="Keys to skip (the next page: offset + limit)."),
    principal: Principal = Depends(reader),
) -> SalesOut:
    hub = get_hub(request)
    start, end = _days(first, last)
    with_profit = principal.may(Permission.REPORTS_PROFIT)
    try:
        async with hub.database().session() as session:
            got = await report.sales_report(session, period=period, dimension=dimension, first=start, last=end,
                                            settings=hub.config.reports, time_zone=hub.config.console.time_zone,
                                            shops=shop, principal=principal, with_profit=with_profit,
                                            limit=limit, offset=offset)
    except BadInputError as exc:
        raise _bad(exc) from exc
    return SalesOut(period=period, dimension=dimension, from_=start, to=end, time_zone=hub.config.console.time_zone,
                    profit_included=with_profit, fees_reported=got.fees_reported,
                    rows=[figures_out(r) for r in got.rows], totals=figures_out(got.totals),
                    keys_total=got.keys_total, limit=limit, offset=offset)


@router.get("/api/v1/reports/buyers", response_model=BuyersOut, response_model_by_alias=True,
            summary="New and repeat buyers per period, and buyers in tiers by spend over the range")
async def buyers(
    request: Request,
    period: Literal["day", "week", "month"] = PERIOD,
    first: date | None = FROM,
    last: date | None = TO,
    shop: list[str] | None = SHOPS,
    principal: Principal = Depends(reader),
) -> BuyersOut:
    hub = get_hub(request)
    start, end = _days(first, last)
    try:
        async with hub.database().session() as session:
            _, got = await report.buyers_report(session, period=period, first=start, last=end,
                                                settings=hub.config.reports, time_zone=hub.config.console.time_zone,
                                                shops=shop, principal=principal)
    except BadInputError as exc:
        raise _bad(exc) from exc
    return BuyersOut(period=period, from_=start, to=end, time_zone=hub.config.console.time_zone, buyers=got.buyers,
                     new=got.new, repeat=got.buyers - got.new,
                     buckets=[BucketOut(bucket=b.bucket, buyers=b.buyers, new=b.new, repeat=b.repeat)
                              for b in got.buckets],
                     tiers=[TierOut(**vars(t)) for t in got.tiers])


@router.put("/api/v1/skus/{merchant_sku}/cost", status_code=204, summary="Set (or clear) a SKU's cost price",
            tags=["catalogue"])
async def set_cost(request: Request, merchant_sku: str, body: CostIn = Body(...),
                   principal: Principal = Depends(require(Permission.COSTS_WRITE))) -> None:
    try:
        amount = costs.parse_cost(body.cost_price)
    except BadInputError as exc:
        raise ApiError(422, "invalid_request", str(exc), field="body.cost_price") from exc
    async with get_hub(request).database().transaction() as session:
        await costs.set_cost(session, merchant_sku, amount, actor=principal.actor)
    log.info("sku.cost_set", sku=merchant_sku, by=principal.actor)
