"""The sales report: figures per bucket and key over a range of local days, with totals, and gross
profit only for callers who may see it. The one entry the API, CLI and console call; the day rows
come from ``sources`` (rollups, and ``orders`` for days not rolled up yet), the summing SQL is in
``queries`` and ``buyers``, what counts in ``figures``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from hub.errors import BadInputError
from hub.services.access.scope import ShopLimited
from hub.services.reports import buyers as buyer_figures
from hub.services.reports import queries, sources
from hub.services.reports.dimensions import DIMENSIONS, Dimension
from hub.services.reports.figures import Figures, Profit
from hub.services.reports.periods import Period, Range, check_range, dialect_of
from hub.services.reports.settings import ReportsSection


@dataclass(frozen=True)
class SalesReport:
    period: Period
    dimension: Dimension
    span: Range
    rows: list[Figures]
    totals: Figures
    #: Whether gross profit is in the rows (the caller may see it).
    with_profit: bool
    #: How many keys (channels, shops, SKUs, provinces) the range has; the rows hold the keys
    #: ``offset``..``offset + limit`` of them ranked by sales (all of them when ``limit`` is None).
    keys_total: int = 0
    offset: int = 0
    limit: int | None = None

    @property
    def fees_reported(self) -> bool:
        """Whether any sales order's channel reported its platform fees (else fees count as 0)."""
        return bool(self.totals.profit and self.totals.profit.orders_with_fees)


async def _roomy(session: AsyncSession, settings: ReportsSection) -> None:
    """On PostgreSQL, let this transaction's sorts and hash tables use ``[reports] work_mem_mb``."""
    if dialect_of(session) == "postgresql":
        await session.execute(text(f"SET LOCAL work_mem = '{int(settings.work_mem_mb)}MB'"))


def span_of(first: date, last: date, period: Period, settings: ReportsSection, time_zone: str) -> Range:
    return check_range(first, last, period, max_daily=settings.max_days_daily, max_long=settings.max_days_long,
                       zone=ZoneInfo(time_zone))


async def _figures(session: AsyncSession, span: Range, period: Period | None, dimension: Dimension,
                   shops: Sequence[str] | None, principal: ShopLimited | None, settings: ReportsSection,
                   with_profit: bool, page: tuple[int, int] | None = None) -> tuple[list[Figures], int]:
    """The rows (of the keys on ``page``: (limit, offset), ranked by sales) and how many keys there are."""
    rows = await sources.order_rows(session, span, settings, per_sku=dimension == "sku")
    keys, total = None, 0
    if page is not None and dimension != "none":
        keys, total = await queries.ranked_keys(session, rows, dimension, shops, principal,
                                                limit=page[0], offset=page[1])
    found = await queries.figures(session, rows, period, dimension, shops, principal, with_profit, keys=keys)
    if keys is None:
        total = len({k for _, k in found})
    out = []
    for (b, _), row in sorted(found.items()):
        row.bucket = date.fromisoformat(b) if b else None
        out.append(row)
    return out, total


async def sales_report(session: AsyncSession, *, period: Period, dimension: Dimension, first: date, last: date,
                       settings: ReportsSection, time_zone: str, shops: Sequence[str] | None = None,
                       principal: ShopLimited | None = None, with_profit: bool = False,
                       limit: int | None = None, offset: int = 0) -> SalesReport:
    """Figures per ``period`` bucket and ``dimension`` key for orders created on the local days
    ``first``..``last`` (in ``time_zone``), in ``shops`` (all when None) the ``principal`` may see;
    with ``limit``, only the keys ``offset``..``offset + limit`` ranked by sales over the range (a
    page of 500 SKUs' daily rows over a year is 182,500 rows; the totals are always the whole's).

    ``BadInputError`` names ``period``, ``dimension``, ``from``, ``to``, ``limit`` or ``offset``
    when one is wrong.
    """
    if dimension not in DIMENSIONS:
        raise BadInputError(f"dimension must be one of {', '.join(DIMENSIONS)}", field="dimension")
    if limit is not None and limit < 1:
        raise BadInputError("limit must be at least 1", field="limit")
    if offset < 0:
        raise BadInputError("offset must not be negative", field="offset")
    if offset and limit is None:
        raise BadInputError("offset needs a limit", field="offset")
    span = span_of(first, last, period, settings, time_zone)
    await _roomy(session, settings)
    page = (limit, offset) if limit is not None else None
    rows, keys_total = await _figures(session, span, period, dimension, shops, principal, settings, with_profit,
                                      page)
    if dimension == "sku" or len({r.key for r in rows}) < keys_total:
        # An order with several SKUs counts once in the totals; a page's rows are not the whole.
        whole, _ = await _figures(session, span, None, "none", shops, principal, settings, with_profit)
        totals = whole[0] if whole else Figures(bucket=None, key="")
    else:
        totals = Figures(bucket=None, key="")
        for row in rows:
            totals.add(row)
    if with_profit and totals.profit is None:
        totals.profit = Profit()
    totals.bucket, totals.key = None, ""
    return SalesReport(period=period, dimension=dimension, span=span, rows=rows, totals=totals,
                       with_profit=with_profit, keys_total=keys_total, offset=offset, limit=limit)


async def buyers_report(session: AsyncSession, *, period: Period, first: date, last: date,
                        settings: ReportsSection, time_zone: str, shops: Sequence[str] | None = None,
                        principal: ShopLimited | None = None) -> tuple[Range, buyer_figures.BuyersReport]:
    """New and repeat buyers per bucket, and buyers in tiers by spend over the range."""
    span = span_of(first, last, period, settings, time_zone)
    await _roomy(session, settings)
    rows = await sources.buyer_rows(session, span, settings)
    found = await buyer_figures.buyers_report(session, rows, span, period, shops=shops, principal=principal,
                                              tiers=settings.buyer_tiers)
    return span, found
