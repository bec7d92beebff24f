"""After-sales figures: refund and return rate per SKU and per shop (cases against units or orders
sold in the same period), and reasons ranked. Set-based SQL over indexed columns; read-only.

What counts (the same on PostgreSQL and SQLite):

- **sold**: per SKU, the units of order lines whose order was paid in ``[since, until)``
  (``orders.paid_at``); per shop, those orders. An order refunded later still counts as sold.
- **cases**: cases the buyer applied for in ``[since, until)`` (``aftersales.applied_at``), except
  those withdrawn or refused (``closed``, ``rejected``). Per SKU they count units (the case lines'
  quantities, the SKU from the case line or else from its order line); per shop, cases.
  ``refunds`` are refund-only cases, ``returns`` return-and-refund cases, ``exchanges`` exchanges.
- **refund rate** = (refunds + returns) / sold — money went back, with or without the goods, as the
  platforms' 退款率 counts both; **return rate** = returns / sold. 0 when nothing was sold in the
  period (the cases then came from orders paid before it).
- **refunded amount**: what the cases now ``refunded`` gave back (per SKU the line's amount, or
  the case's amount when the case has one line).

Not for lists of cases (``queries``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.aftersales import AfterSaleStatus, AfterSaleType
from hub.db.tables import AfterSaleLineRow, AfterSaleRow, OrderLineRow, OrderRow

BY = ("sku", "shop")
#: Cases that never came to anything: left out of the counts.
WITHDRAWN = (AfterSaleStatus.CLOSED.value, AfterSaleStatus.REJECTED.value)
NO_REASON = "(none given)"


@dataclass(frozen=True)
class RateRow:
    """One SKU's (or shop's) figures over the period: ``sold`` units (per SKU) or orders (per shop),
    ``refunds``/``returns``/``exchanges`` cases, the rates against ``sold``, and the amount refunded."""

    key: str
    sold: int
    refunds: int
    returns: int
    exchanges: int
    refund_rate: float
    return_rate: float
    #: What the refunded cases gave back, per currency (a SKU sold in several currencies has several).
    refunded: dict[str, Decimal]


@dataclass(frozen=True)
class ReasonRow:
    reason: str
    cases: int
    share: float


def _counted(since: datetime, until: datetime, shop: str | None) -> list[Any]:
    where: list[Any] = [AfterSaleRow.applied_at >= since, AfterSaleRow.applied_at < until,
                        AfterSaleRow.status.not_in(WITHDRAWN)]
    if shop is not None:
        where.append(AfterSaleRow.shop == shop)
    return where


def _paid(since: datetime, until: datetime, shop: str | None) -> list[Any]:
    # paid_at >= channel_created_at always: the second bound lets ix_orders_created narrow the scan.
    where: list[Any] = [OrderRow.paid_at >= since, OrderRow.paid_at < until, OrderRow.channel_created_at < until]
    if shop is not None:
        where.append(OrderRow.shop == shop)
    return where


def _of_type(case_type: AfterSaleType, measure: Any) -> Any:
    return func.coalesce(func.sum(case((AfterSaleRow.type == case_type.value, measure), else_=0)), 0)


async def _sold(session: AsyncSession, by: str, since: datetime, until: datetime, shop: str | None
                ) -> dict[str, int]:
    stmt: Any
    if by == "shop":
        stmt = select(OrderRow.shop, func.count(OrderRow.id)).where(*_paid(since, until, shop)).group_by(OrderRow.shop)
    else:
        stmt = (select(OrderLineRow.merchant_sku, func.sum(OrderLineRow.quantity))
                .join(OrderRow, OrderRow.id == OrderLineRow.order_id)
                .where(*_paid(since, until, shop), OrderLineRow.merchant_sku.is_not(None))
                .group_by(OrderLineRow.merchant_sku))
    return {str(key): int(n or 0) for key, n in await session.execute(stmt)}


async def _cases(session: AsyncSession, by: str, since: datetime, until: datetime, shop: str | None
                 ) -> dict[str, tuple[int, int, int, dict[str, Decimal]]]:
    """key → (refunds, returns, exchanges, refunded amount per currency)."""
    refunded = AfterSaleRow.status == AfterSaleStatus.REFUNDED.value
    if by == "shop":
        one = 1
        amount: Any = case((refunded, func.coalesce(AfterSaleRow.refund_amount, 0)), else_=0)
        stmt = (select(AfterSaleRow.shop, _of_type(AfterSaleType.REFUND_ONLY, one),
                       _of_type(AfterSaleType.RETURN_AND_REFUND, one), _of_type(AfterSaleType.EXCHANGE, one),
                       func.coalesce(func.sum(amount), 0), AfterSaleRow.currency)
                .where(*_counted(since, until, shop)).group_by(AfterSaleRow.shop, AfterSaleRow.currency))
    else:
        sku = func.coalesce(AfterSaleLineRow.merchant_sku, OrderLineRow.merchant_sku)
        lines_of_case = (select(func.count(AfterSaleLineRow.id)).where(
            AfterSaleLineRow.aftersale_id == AfterSaleRow.id).correlate(AfterSaleRow).scalar_subquery())
        sole = case((lines_of_case == 1, AfterSaleRow.refund_amount), else_=None)
        amount = case((refunded, func.coalesce(AfterSaleLineRow.refund_amount, sole, 0)), else_=0)
        units = AfterSaleLineRow.quantity
        stmt = (select(sku, _of_type(AfterSaleType.REFUND_ONLY, units),
                       _of_type(AfterSaleType.RETURN_AND_REFUND, units), _of_type(AfterSaleType.EXCHANGE, units),
                       func.coalesce(func.sum(amount), 0), AfterSaleRow.currency)
                .select_from(AfterSaleRow)
                .join(AfterSaleLineRow, AfterSaleLineRow.aftersale_id == AfterSaleRow.id)
                .outerjoin(OrderLineRow, OrderLineRow.id == AfterSaleLineRow.order_line_id)
                .where(*_counted(since, until, shop), sku.is_not(None))
                .group_by(sku, AfterSaleRow.currency))
    # Amounts are summed per currency (an AliExpress shop refunds in USD, a Taobao one in CNY).
    out: dict[str, tuple[int, int, int, dict[str, Decimal]]] = {}
    for key, r, t, x, a, currency in await session.execute(stmt):
        refunds, returns, exchanges, amounts = out.get(str(key), (0, 0, 0, {}))
        amount = Decimal(str(a or 0)).quantize(Decimal("0.01"))
        if amount:
            amounts = {**amounts, str(currency or "CNY"): amounts.get(str(currency or "CNY"), Decimal("0.00")) + amount}
        out[str(key)] = (refunds + int(r or 0), returns + int(t or 0), exchanges + int(x or 0), amounts)
    return out


def _rate(count: int, sold: int) -> float:
    return round(count / sold, 4) if sold else 0.0


async def rates(session: AsyncSession, *, by: str, since: datetime, until: datetime, shop: str | None = None,
                limit: int = 50) -> list[RateRow]:
    """Rates ``by`` ``"sku"`` or ``"shop"`` for cases applied in ``[since, until)``, highest refund rate first
    (then most cases, then the key); SKUs or shops with sales and no case come last, at 0."""
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}, not {by!r}")
    sold = await _sold(session, by, since, until, shop)
    cases = await _cases(session, by, since, until, shop)
    out = []
    for key in set(sold) | set(cases):
        n = sold.get(key, 0)
        refunds, returns, exchanges, amount = cases.get(key, (0, 0, 0, {}))
        out.append(RateRow(key=key, sold=n, refunds=refunds, returns=returns, exchanges=exchanges,
                           refund_rate=_rate(refunds + returns, n), return_rate=_rate(returns, n),
                           refunded=amount))
    out.sort(key=lambda r: (-r.refund_rate, -(r.refunds + r.returns + r.exchanges), -r.sold, r.key))
    return out[:limit]


async def reasons(session: AsyncSession, *, since: datetime, until: datetime, shop: str | None = None,
                  limit: int = 20) -> list[ReasonRow]:
    """The buyers' reasons, most frequent first, each with its share of all the period's cases
    (shares of the rows shown add up to less than 1 when more reasons than ``limit`` were given)."""
    where = _counted(since, until, shop)
    total = int(await session.scalar(select(func.count(AfterSaleRow.id)).where(*where)) or 0)
    if not total:
        return []
    reason = func.coalesce(AfterSaleRow.reason, NO_REASON)
    counted = func.count(AfterSaleRow.id)
    rows = await session.execute(select(reason, counted).where(*where).group_by(reason)
                                 .order_by(counted.desc(), reason).limit(limit))
    return [ReasonRow(reason=str(text), cases=int(n), share=round(int(n) / total, 4)) for text, n in rows]
