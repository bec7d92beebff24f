"""The sales report's SQL: orders, sales, statuses and cancellations per bucket and key, and the
orders with refund or return cases. One aggregate statement each over ``orders`` (by the indexed
``channel_created_at`` range), with the order lines joined only for the SKU dimension. Read-only.
Not for costs, freight and fees (``profit``) nor buyers (``buyers``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, case, distinct, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.aftersales import AfterSaleType
from hub.db.tables import AfterSaleLineRow, AfterSaleRow, OrderLineRow, OrderRow
from hub.services.access.scope import ShopLimited, shop_condition
from hub.services.aftersales.figures import WITHDRAWN
from hub.services.reports.dimensions import UNKNOWN, Dimension, key_sql
from hub.services.reports.figures import PAID_STATUSES, SALES_STATUSES, STATUSES, Figures, money
from hub.services.reports.periods import Period, Range, bucket_sql, dialect_of

REFUNDS = (AfterSaleType.REFUND_ONLY.value, AfterSaleType.RETURN_AND_REFUND.value)
RETURNS = (AfterSaleType.RETURN_AND_REFUND.value,)


def order_scope(span: Range, shops: Sequence[str] | None, principal: ShopLimited | None) -> list[Any]:
    """The WHERE of every report query: created in the range, in the asked and visible shops."""
    where = [OrderRow.channel_created_at >= span.start, OrderRow.channel_created_at < span.end,
             shop_condition(OrderRow.shop, principal)]
    if shops:
        where.append(OrderRow.shop.in_(sorted(set(shops))))
    return where


def _cancelled() -> Any:
    return or_(OrderRow.status == "cancelled",
               and_(OrderRow.status == "closed", OrderRow.fulfilment_status == "unfulfilled"))


async def order_figures(session: AsyncSession, span: Range, period: Period | None, dimension: Dimension,
                        where: list[Any]) -> dict[tuple[str, str], Figures]:
    """Figures per (bucket ``YYYY-MM-DD``, key); with ``period`` None, one bucket ``""`` for the range."""
    dialect = dialect_of(session)
    bucket = bucket_sql(OrderRow.channel_created_at, span, period, dialect) if period else literal("")
    per_sku = dimension == "sku"
    amount = OrderLineRow.quantity * OrderLineRow.unit_price if per_sku else OrderRow.total_amount
    inner = select(
        bucket.label("b"), key_sql(dimension).label("k"), OrderRow.id.label("oid"), OrderRow.status.label("st"),
        case((_cancelled(), 1), else_=0).label("cx"), amount.label("amt"),
        (OrderLineRow.quantity if per_sku else literal(0)).label("qty"),
    ).where(*where)
    if per_sku:
        inner = inner.join(OrderLineRow, OrderLineRow.order_id == OrderRow.id)
    sub = inner.subquery()
    if per_sku:
        # One row per (bucket, SKU, order) first, so an order with two lines of a SKU counts once
        # without a COUNT(DISTINCT) per figure.
        sub = (select(sub.c.b, sub.c.k, sub.c.oid, sub.c.st, sub.c.cx, func.sum(sub.c.amt).label("amt"),
                      func.sum(sub.c.qty).label("qty"))
               .group_by(sub.c.b, sub.c.k, sub.c.oid, sub.c.st, sub.c.cx).subquery())
    sales = sub.c.st.in_(SALES_STATUSES)

    def orders_where(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    columns = [
        func.count(),
        orders_where(sub.c.st.in_(PAID_STATUSES)),
        orders_where(sales),
        func.sum(case((sales, sub.c.amt))),
        func.coalesce(func.sum(case((sales, sub.c.qty), else_=0)), 0),
        orders_where(sub.c.cx == 1),
        *[orders_where(sub.c.st == s) for s in STATUSES],
    ]
    result = await session.execute(select(sub.c.b, sub.c.k, *columns).group_by(sub.c.b, sub.c.k))
    out: dict[tuple[str, str], Figures] = {}
    for b, k, n, paid, n_sales, amt, qty, cx, *per_status in result.all():
        out[(str(b), k or UNKNOWN)] = Figures(
            bucket=None, key=k or UNKNOWN, orders=int(n), paid_orders=int(paid), sales_orders=int(n_sales),
            sales=money(amt), units=int(qty or 0), cancelled=int(cx),
            statuses={s: int(c) for s, c in zip(STATUSES, per_status, strict=True) if c})
    return out


async def case_figures(session: AsyncSession, span: Range, period: Period | None, dimension: Dimension,
                       where: list[Any]) -> dict[tuple[str, str], tuple[int, int]]:
    """(paid orders with a refund or return case, with a return case) per (bucket, key); per SKU
    the case's lines say which SKUs."""
    dialect = dialect_of(session)
    bucket = bucket_sql(OrderRow.channel_created_at, span, period, dialect) if period else literal("")
    key = func.coalesce(AfterSaleLineRow.merchant_sku, UNKNOWN) if dimension == "sku" else key_sql(dimension)
    inner = (select(bucket.label("b"), key.label("k"), OrderRow.id.label("oid"), AfterSaleRow.type.label("ty"))
             .join(AfterSaleRow, AfterSaleRow.order_id == OrderRow.id)
             .where(*where, OrderRow.status.in_(PAID_STATUSES), AfterSaleRow.status.not_in(WITHDRAWN),
                    AfterSaleRow.type.in_(REFUNDS)))
    if dimension == "sku":
        inner = inner.join(AfterSaleLineRow, AfterSaleLineRow.aftersale_id == AfterSaleRow.id)
    sub = inner.subquery()
    result = await session.execute(
        select(sub.c.b, sub.c.k, func.count(distinct(sub.c.oid)),
               func.count(distinct(case((sub.c.ty.in_(RETURNS), sub.c.oid)))))
        .group_by(sub.c.b, sub.c.k))
    return {(str(b), k or UNKNOWN): (int(r), int(t)) for b, k, r, t in result.all()}
