"""Service figures over HTTP: ``GET /api/v1/service-orders/figures?by=type|product|technician&days=30&shop=``
— per type, product or technician, for the orders created in the last ``days`` days: how many,
completed, cancelled, failed, service level met (%), median hours to complete, the buyers' average
rating and the overdue ones open now; with the same figures for all of them together.

Read-only, for every role that may read orders. What the figures count is
``hub.services.service_orders.figures``'s docstring. Not for orders themselves
(``hub.api.routes.service_orders``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from hub.api.auth import Permission, require
from hub.api.deps import get_hub
from hub.services.service_orders import figures

router = APIRouter(prefix="/api/v1/service-orders/figures", tags=["service-orders"])

DEFAULT_DAYS = 30


class ServiceFiguresOut(BaseModel):
    key: str = Field(description="The type, the merchant SKU or the technician's code; \"\" for none.")
    label: str = Field(description="What to show: the type, the product's title, the technician's name; "
                                   "\"unassigned\" / \"no SKU\" for none.")
    count: int = Field(description="Orders created in the period.")
    completed: int
    cancelled: int
    failed: int
    sla_met: int = Field(description="Closed orders that met every service-level deadline.")
    sla_closed: int = Field(description="Closed orders with a service-level verdict (met or missed).")
    sla_met_pct: float | None = Field(description="sla_met / sla_closed × 100; null when none closed with a verdict.")
    median_hours_to_complete: float | None = Field(description="Median hours from creation to completion of the "
                                                               "completed ones.")
    rating_avg: float | None = Field(description="The buyers' average rating (1 to 5); null when none rated.")
    rating_count: int
    overdue_open: int = Field(description="Of these orders, the ones open now and past a deadline.")


class FiguresOut(BaseModel):
    by: Literal["type", "product", "technician"]
    since: datetime
    until: datetime
    shop: str | None
    total: ServiceFiguresOut = Field(description="The same figures for every order of the period together.")
    rows: list[ServiceFiguresOut] = Field(description="Most orders first.")


@router.get("", response_model=FiguresOut, dependencies=[Depends(require(Permission.ORDERS_READ))],
            summary="Service figures per type, product or technician over the last days")
async def service_figures(
    request: Request,
    by: Literal["type", "product", "technician"] = Query("type", description="type, product (SKU) or technician."),
    days: int = Query(DEFAULT_DAYS, ge=1, le=3660, description="The orders created in the last this many days."),
    shop: str | None = Query(None, max_length=100, description="Only this shop."),
    limit: int = Query(50, ge=1, le=500),
) -> FiguresOut:
    until = datetime.now(UTC)
    since = until - timedelta(days=days)
    async with get_hub(request).database().session() as session:
        rows = await figures.figures(session, by, since=since, until=until, shop=shop, limit=limit)
        total = await figures.totals(session, since=since, until=until, shop=shop)
    return FiguresOut(by=by, since=since, until=until, shop=shop, total=ServiceFiguresOut(**vars(total)),
                      rows=[ServiceFiguresOut(**vars(r)) for r in rows])
