"""Gross profit's parts per bucket and key, over sales orders: cost (lines × the SKU's
``cost_price``), freight per parcel (the waybill's own ``parcels.freight``, else the ``[reports]``
rate for its courier and province, else the default) and platform fees (``orders.platform_fee``).
Read-only SQL, one statement per part. Not for the sales figures (``queries``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import OrderLineRow, OrderRow, ParcelRow, SkuRow
from hub.services.reports.dimensions import UNKNOWN, Dimension, key_sql
from hub.services.reports.figures import SALES_STATUSES, Profit, money
from hub.services.reports.periods import Period, Range, bucket_sql, dialect_of
from hub.services.reports.settings import ReportsSection

#: Parcels that never left (no waybill, or it was cancelled): no freight.
NO_FREIGHT = ("pending", "cancelled", "cancelling", "failed")


def freight_sql(settings: ReportsSection) -> Any:
    """A parcel's freight: its own, else the most specific configured rate, else the default."""
    specific = sorted(settings.freight_rates, key=lambda r: r.province is None)
    whens = [(and_(ParcelRow.courier_code == r.courier, OrderRow.province == r.province) if r.province
              else ParcelRow.courier_code == r.courier, literal(r.amount)) for r in specific]
    rate = case(*whens, else_=literal(settings.default_freight)) if whens else literal(settings.default_freight)
    return func.coalesce(ParcelRow.freight, rate)


def _bucket(session: AsyncSession, span: Range, period: Period | None) -> Any:
    if period is None:
        return literal("")
    return bucket_sql(OrderRow.channel_created_at, span, period, dialect_of(session))


async def profit_figures(session: AsyncSession, span: Range, period: Period | None, dimension: Dimension,
                         where: list[Any], settings: ReportsSection) -> dict[tuple[str, str], Profit]:
    """Cost, freight and fees per (bucket, key); per SKU only the cost (freight and fees are per order)."""
    bucket = _bucket(session, span, period)
    key = key_sql(dimension)
    sales = [*where, OrderRow.status.in_(SALES_STATUSES)]
    out: dict[tuple[str, str], Profit] = {}

    def row(b: Any, k: Any) -> Profit:
        return out.setdefault((str(b), k or UNKNOWN), Profit())

    lines = (select(bucket.label("b"), key.label("k"),
                    (OrderLineRow.quantity * SkuRow.cost_price).label("cost"),
                    case((SkuRow.cost_price.is_(None), 1), else_=0).label("missing"))
             .select_from(OrderRow).join(OrderLineRow, OrderLineRow.order_id == OrderRow.id)
             .outerjoin(SkuRow, SkuRow.merchant_sku == OrderLineRow.merchant_sku).where(*sales).subquery())
    for b, k, cost, missing in (await session.execute(
            select(lines.c.b, lines.c.k, func.sum(lines.c.cost), func.sum(lines.c.missing))
            .group_by(lines.c.b, lines.c.k))).all():
        part = row(b, k)
        part.cost, part.lines_without_cost = money(cost), int(missing or 0)
    if dimension == "sku":
        return out
    parcels = (select(bucket.label("b"), key.label("k"), freight_sql(settings).label("freight"))
               .select_from(OrderRow).join(ParcelRow, ParcelRow.order_id == OrderRow.id)
               .where(*sales, ParcelRow.status.not_in(NO_FREIGHT)).subquery())
    for b, k, freight in (await session.execute(
            select(parcels.c.b, parcels.c.k, func.sum(parcels.c.freight)).group_by(parcels.c.b, parcels.c.k))).all():
        row(b, k).freight = money(freight)
    fees = (select(bucket.label("b"), key.label("k"), OrderRow.platform_fee.label("fee"))
            .where(*sales, OrderRow.platform_fee.is_not(None)).subquery())
    for b, k, fee, n in (await session.execute(
            select(fees.c.b, fees.c.k, func.sum(fees.c.fee), func.count()).group_by(fees.c.b, fees.c.k))).all():
        part = row(b, k)
        part.fees, part.orders_with_fees = money(fee), int(n)
    return out
