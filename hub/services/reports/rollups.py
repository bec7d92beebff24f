"""The rollups' rows as SQL: for a set of local days, the ``SELECT … GROUP BY`` that gives
``report_day_orders``, ``report_day_skus`` and ``report_buyer_days`` rows (each with its day, week
and month) straight from ``orders`` (with lines, cases and parcels). The refresh inserts what these
select; the reports read them for the days not rolled up yet, so both count the same way. Not for
reading rollups (``queries``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Date, and_, case, cast, func, literal, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from contracts.aftersales import AfterSaleType
from hub.db.tables import ROLLUP_STATUSES, AfterSaleLineRow, AfterSaleRow, OrderLineRow, OrderRow, ParcelRow, SkuRow
from hub.services.aftersales.figures import WITHDRAWN
from hub.services.reports.dimensions import UNKNOWN
from hub.services.reports.figures import PAID_STATUSES, SALES_STATUSES
from hub.services.reports.periods import Range, bucket_sql, local_midnight, month_of, week_of
from hub.services.reports.profit import NO_FREIGHT, freight_sql
from hub.services.reports.settings import ReportsSection

REFUNDS = (AfterSaleType.REFUND_ONLY.value, AfterSaleType.RETURN_AND_REFUND.value)
RETURNS = (AfterSaleType.RETURN_AND_REFUND.value,)
#: ``report_buyer_days.spend_units`` per unit of the currency (amounts have 4 decimals at most).
SPEND_UNITS = 10_000
#: Every additive figure of a rollup row, in column order.
FIGURES = ("orders", "paid_orders", "sales_orders", "sales", "units", "cancelled", "refunded_orders",
           "returned_orders", *[f"n_{s}" for s in ROLLUP_STATUSES], "cost", "lines_without_cost", "freight",
           "fees", "orders_with_fees")


@dataclass(frozen=True)
class Days:
    """Local days in a zone: the span they lie in (for the zone's offsets) and their UTC intervals,
    consecutive days merged."""

    span: Range
    intervals: tuple[tuple[datetime, datetime], ...]
    #: The lowest and highest id of the orders created on these days, when known (``bounded``): lets
    #: the lines, parcels and cases of a few days be found by an index range on ``order_id``
    #: instead of a scan of every line joined with the days' orders.
    ids: tuple[int, int] | None = None

    @classmethod
    def of(cls, days: Sequence[date], zone: ZoneInfo) -> Days | None:
        ordered = sorted(set(days))
        if not ordered:
            return None
        runs: list[list[date]] = []
        for day in ordered:
            if runs and runs[-1][1] + timedelta(days=1) == day:
                runs[-1][1] = day
            else:
                runs.append([day, day])
        intervals = tuple((local_midnight(a, zone), local_midnight(b + timedelta(days=1), zone)) for a, b in runs)
        return cls(Range(ordered[0], ordered[-1], zone), intervals)

    @classmethod
    def between(cls, first: date, last: date, zone: ZoneInfo) -> Days:
        span = Range(first, last, zone)
        return cls(span, ((span.start, span.end),))

    def where(self, column: Any) -> Any:
        return or_(*[and_(column >= start, column < end) for start, end in self.intervals])

    def of_orders(self, order_id: Any) -> list[Any]:
        """Conditions on a row's ``order_id`` implied by ``ids`` (none when not known)."""
        return [order_id.between(*self.ids)] if self.ids is not None else []


async def bounded(session: AsyncSession, days: Days) -> Days:
    """``days`` with the id range of the orders created on them (one query on the creation time's
    index; ``id + 0`` keeps PostgreSQL from walking the primary key for the min and max instead)."""
    low, high = (await session.execute(select(func.min(OrderRow.id + 0), func.max(OrderRow.id + 0))
                                       .where(days.where(OrderRow.channel_created_at)))).one()
    return days if low is None else replace(days, ids=(int(low), int(high)))


def _day(days: Days, dialect: str) -> Any:
    """The order's local creation day: a date on PostgreSQL, ``YYYY-MM-DD`` on SQLite (its dates)."""
    day = bucket_sql(OrderRow.channel_created_at, days.span, "day", dialect)
    return cast(day, Date) if dialect == "postgresql" else type_coerce(day, Date)


def _buckets(day: Any, dialect: str) -> list[Any]:
    """The day, its week and its month, labelled as the rollups' columns (an expression of the
    grouped day: computed once per row written, not per order)."""
    return [day.label("day"), type_coerce(week_of(day, dialect), Date).label("week"),
            type_coerce(month_of(day, dialect), Date).label("month")]


def buyer_key_sql(platform: Any, nick: Any, dialect: str) -> Any:
    """The rollups' buyer: a signed 64-bit hash of ``platform:nick`` (``hashtextextended`` on
    PostgreSQL, ``hub.db.sql_functions.buyer_key`` on SQLite). Two buyers share a key with a
    chance of about n²/2⁶⁵ (n buyers): about one in ten million for a million buyers."""
    if dialect == "postgresql":
        return func.hashtextextended(platform + literal(":") + nick, 0)
    return func.hub_buyer_key(platform, nick)


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _total(condition: Any, value: Any) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _cancelled() -> Any:
    return or_(OrderRow.status == "cancelled",
               and_(OrderRow.status == "closed", OrderRow.fulfilment_status == "unfulfilled"))


def order_days(days: Days, dialect: str, settings: ReportsSection) -> Select[Any]:
    """``report_day_orders`` rows (day, platform, shop, province, figures) of the orders created on ``days``."""
    in_days = days.where(OrderRow.channel_created_at)
    lines = (select(OrderLineRow.order_id.label("oid"),
                    func.sum(OrderLineRow.quantity * SkuRow.cost_price).label("cost"),
                    func.sum(case((SkuRow.cost_price.is_(None), 1), else_=0)).label("missing"))
             .select_from(OrderLineRow).join(OrderRow, OrderRow.id == OrderLineRow.order_id)
             .outerjoin(SkuRow, SkuRow.merchant_sku == OrderLineRow.merchant_sku)
             .where(in_days, *days.of_orders(OrderLineRow.order_id)).group_by(OrderLineRow.order_id).subquery())
    parcels = (select(ParcelRow.order_id.label("oid"), func.sum(freight_sql(settings)).label("freight"))
               .select_from(ParcelRow).join(OrderRow, OrderRow.id == ParcelRow.order_id)
               .where(in_days, ParcelRow.status.not_in(NO_FREIGHT), *days.of_orders(ParcelRow.order_id))
               .group_by(ParcelRow.order_id).subquery())
    cases = (select(AfterSaleRow.order_id.label("oid"),
                    func.max(case((AfterSaleRow.type.in_(RETURNS), 1), else_=0)).label("returned"))
             .select_from(AfterSaleRow).join(OrderRow, OrderRow.id == AfterSaleRow.order_id)
             .where(in_days, AfterSaleRow.status.not_in(WITHDRAWN), AfterSaleRow.type.in_(REFUNDS),
                    *days.of_orders(AfterSaleRow.order_id))
             .group_by(AfterSaleRow.order_id).subquery())
    sales, paid = OrderRow.status.in_(SALES_STATUSES), OrderRow.status.in_(PAID_STATUSES)
    day, province = _day(days, dialect), func.coalesce(OrderRow.province, UNKNOWN)
    return (select(
        *_buckets(day, dialect), OrderRow.platform.label("platform"), OrderRow.shop.label("shop"),
        province.label("province"),
        func.count().label("orders"), _count(paid).label("paid_orders"), _count(sales).label("sales_orders"),
        _total(sales, OrderRow.total_amount).label("sales"), literal(0).label("units"),
        _count(_cancelled()).label("cancelled"),
        _count(and_(paid, cases.c.oid.is_not(None))).label("refunded_orders"),
        _count(and_(paid, cases.c.returned == 1)).label("returned_orders"),
        *[_count(OrderRow.status == s).label(f"n_{s}") for s in ROLLUP_STATUSES],
        _total(sales, lines.c.cost).label("cost"), _total(sales, lines.c.missing).label("lines_without_cost"),
        _total(sales, parcels.c.freight).label("freight"),
        _total(and_(sales, OrderRow.platform_fee.is_not(None)), OrderRow.platform_fee).label("fees"),
        _count(and_(sales, OrderRow.platform_fee.is_not(None))).label("orders_with_fees"))
        .select_from(OrderRow)
        .outerjoin(lines, lines.c.oid == OrderRow.id).outerjoin(parcels, parcels.c.oid == OrderRow.id)
        .outerjoin(cases, cases.c.oid == OrderRow.id)
        .where(in_days).group_by(day, OrderRow.platform, OrderRow.shop, province))


def sku_days(days: Days, dialect: str) -> Select[Any]:
    """``report_day_skus`` rows (day, platform, shop, sku, figures): per SKU, the orders with a line of
    it, its lines' sales, units and cost, and the cases with a line of it."""
    in_days = days.where(OrderRow.channel_created_at)
    sku = func.coalesce(OrderLineRow.merchant_sku, UNKNOWN)
    lines = (select(OrderLineRow.order_id.label("oid"), sku.label("sku"),
                    func.sum(OrderLineRow.quantity * OrderLineRow.unit_price).label("amt"),
                    func.sum(OrderLineRow.quantity).label("qty"),
                    func.sum(OrderLineRow.quantity * SkuRow.cost_price).label("cost"),
                    func.sum(case((SkuRow.cost_price.is_(None), 1), else_=0)).label("missing"))
             .select_from(OrderLineRow).join(OrderRow, OrderRow.id == OrderLineRow.order_id)
             .outerjoin(SkuRow, SkuRow.merchant_sku == OrderLineRow.merchant_sku)
             .where(in_days, *days.of_orders(OrderLineRow.order_id)).group_by(OrderLineRow.order_id, sku).subquery())
    case_sku = func.coalesce(AfterSaleLineRow.merchant_sku, UNKNOWN)
    cases = (select(AfterSaleRow.order_id.label("oid"), case_sku.label("sku"),
                    func.max(case((AfterSaleRow.type.in_(RETURNS), 1), else_=0)).label("returned"))
             .select_from(AfterSaleRow).join(OrderRow, OrderRow.id == AfterSaleRow.order_id)
             .join(AfterSaleLineRow, AfterSaleLineRow.aftersale_id == AfterSaleRow.id)
             .where(in_days, AfterSaleRow.status.not_in(WITHDRAWN), AfterSaleRow.type.in_(REFUNDS),
                    *days.of_orders(AfterSaleRow.order_id))
             .group_by(AfterSaleRow.order_id, case_sku).subquery())
    sales, paid = OrderRow.status.in_(SALES_STATUSES), OrderRow.status.in_(PAID_STATUSES)
    day = _day(days, dialect)
    return (select(
        *_buckets(day, dialect), OrderRow.platform.label("platform"), OrderRow.shop.label("shop"),
        lines.c.sku.label("sku"),
        func.count().label("orders"), _count(paid).label("paid_orders"), _count(sales).label("sales_orders"),
        _total(sales, lines.c.amt).label("sales"), _total(sales, lines.c.qty).label("units"),
        _count(_cancelled()).label("cancelled"),
        _count(and_(paid, cases.c.oid.is_not(None))).label("refunded_orders"),
        _count(and_(paid, cases.c.returned == 1)).label("returned_orders"),
        *[_count(OrderRow.status == s).label(f"n_{s}") for s in ROLLUP_STATUSES],
        _total(sales, lines.c.cost).label("cost"), _total(sales, lines.c.missing).label("lines_without_cost"),
        literal(0).label("freight"), literal(0).label("fees"), literal(0).label("orders_with_fees"))
        .select_from(lines).join(OrderRow, OrderRow.id == lines.c.oid)
        .outerjoin(cases, and_(cases.c.oid == lines.c.oid, cases.c.sku == lines.c.sku))
        .where(in_days).group_by(day, OrderRow.platform, OrderRow.shop, lines.c.sku))


def buyer_days(days: Days, dialect: str) -> Select[Any]:
    """``report_buyer_days`` rows (day, week, month, platform, shop, buyer_key, spend_units): sales
    orders with a buyer nick."""
    day, key = _day(days, dialect), buyer_key_sql(OrderRow.platform, OrderRow.buyer_nick, dialect)
    spend = cast(func.round(func.sum(OrderRow.total_amount) * SPEND_UNITS), BigInteger)
    return (select(*_buckets(day, dialect), OrderRow.platform.label("platform"), OrderRow.shop.label("shop"),
                   key.label("buyer_key"), spend.label("spend_units"))
            .where(days.where(OrderRow.channel_created_at), OrderRow.status.in_(SALES_STATUSES),
                   OrderRow.buyer_nick.is_not(None))
            .group_by(day, OrderRow.platform, OrderRow.shop, key))
