"""The sales report's SQL: the day rows (``sources``: rollups, and ``orders`` for days not rolled up
yet) summed per bucket and key in one aggregate statement. Read-only. What the day rows count:
``rollups``; buyers: ``buyers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import ROLLUP_STATUSES
from hub.services.access.scope import ShopLimited, shop_condition
from hub.services.reports.dimensions import UNKNOWN, Dimension
from hub.services.reports.figures import Figures, Profit, money
from hub.services.reports.periods import Period
from hub.services.reports.rollups import FIGURES


def day_bucket(rows: Any, period: Period | None) -> Any:
    """The day rows' bucket column: ``day``, ``week`` (its Monday) or ``month`` (its first day);
    ``""`` with no period (one bucket)."""
    if period is None:
        return literal("")
    return rows.c[period]


def shop_scope(shop: Any, shops: Sequence[str] | None, principal: ShopLimited | None) -> list[Any]:
    """The shops asked for and visible to ``principal``, as conditions on the column ``shop``."""
    where = [shop_condition(shop, principal)]
    if shops:
        where.append(shop.in_(sorted(set(shops))))
    return where


def _key(rows: Any, dimension: Dimension) -> Any:
    if dimension == "channel":
        return rows.c.platform
    if dimension in ("shop", "province", "sku"):
        return rows.c[dimension]
    return literal(UNKNOWN)


async def ranked_keys(session: AsyncSession, rows: Any, dimension: Dimension, shops: Sequence[str] | None,
                      principal: ShopLimited | None, *, limit: int, offset: int) -> tuple[list[str], int]:
    """The dimension's keys ``offset``..``offset + limit`` ranked by sales over the day rows (highest
    first, then by key), and how many keys there are."""
    key = _key(rows, dimension)
    sales = func.coalesce(func.sum(rows.c.sales), 0)
    scope = shop_scope(rows.c.shop, shops, principal)
    found = (await session.execute(select(key, func.count().over()).where(*scope).group_by(key)
                                   .order_by(sales.desc(), key).limit(limit).offset(offset))).all()
    if found:
        return [k for k, _ in found], int(found[0][1])
    total = (await session.execute(select(func.count(func.distinct(key))).where(*scope))).scalar_one()
    return [], int(total or 0)


async def figures(session: AsyncSession, rows: Any, period: Period | None, dimension: Dimension,
                  shops: Sequence[str] | None, principal: ShopLimited | None,
                  with_profit: bool, keys: Sequence[str] | None = None) -> dict[tuple[str, str], Figures]:
    """Figures per (bucket ``YYYY-MM-DD`` or ``""``, key) from the day rows ``rows`` (only the keys
    ``keys`` when given)."""
    bucket, key = day_bucket(rows, period), _key(rows, dimension)
    where = shop_scope(rows.c.shop, shops, principal)
    if keys is not None:
        where.append(key.in_(list(keys)))
    query = select(bucket, key, *[func.sum(rows.c[f]) for f in FIGURES]).where(*where).group_by(bucket, key)
    out: dict[tuple[str, str], Figures] = {}
    for b, k, *sums in (await session.execute(query)).all():
        got = dict(zip(FIGURES, sums, strict=True))
        n = {f: int(got[f] or 0) for f in FIGURES if f not in ("sales", "cost", "freight", "fees")}
        row = Figures(bucket=None, key=k or UNKNOWN, orders=n["orders"], paid_orders=n["paid_orders"],
                      sales_orders=n["sales_orders"], sales=money(got["sales"]), units=n["units"],
                      cancelled=n["cancelled"], refunded_orders=n["refunded_orders"],
                      returned_orders=n["returned_orders"],
                      statuses={s: n[f"n_{s}"] for s in ROLLUP_STATUSES if n[f"n_{s}"]})
        if with_profit:
            row.profit = Profit(cost=money(got["cost"]), freight=money(got["freight"]), fees=money(got["fees"]),
                                lines_without_cost=n["lines_without_cost"], orders_with_fees=n["orders_with_fees"])
        out[(str(b), k or UNKNOWN)] = row
    return out
