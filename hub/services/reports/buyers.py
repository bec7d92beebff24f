"""Buyers: how many bought in each bucket, how many of them were new (their first sales order in
the hub, within the shops the caller sees, fell in that bucket and in the range) and how many came
back, and the buyers of the whole range in tiers by what they spent (``[reports] buyer_tiers``).

A buyer is one ``buyer_nick`` on one platform (the nick is the platforms' stable buyer handle; orders
without one are left out). Read-only SQL; not for sales figures (``queries``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, distinct, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import OrderRow
from hub.services.access.scope import ShopLimited, shop_condition
from hub.services.reports.figures import SALES_STATUSES, money
from hub.services.reports.periods import Period, Range, bucket_sql, dialect_of
from hub.services.reports.queries import order_scope
from hub.services.reports.settings import BuyerTier


@dataclass(frozen=True)
class BuyerBucket:
    bucket: date
    buyers: int
    new: int

    @property
    def repeat(self) -> int:
        return self.buyers - self.new


@dataclass(frozen=True)
class TierRow:
    tier: str
    min_spend: Decimal
    buyers: int
    spend: Decimal


@dataclass(frozen=True)
class BuyersReport:
    buckets: list[BuyerBucket]
    tiers: list[TierRow]
    buyers: int
    new: int


def _buyer() -> Any:
    return OrderRow.platform + literal(":") + OrderRow.buyer_nick


async def buyers_report(session: AsyncSession, span: Range, period: Period, *, shops: Sequence[str] | None,
                        principal: ShopLimited | None, tiers: list[BuyerTier]) -> BuyersReport:
    dialect = dialect_of(session)
    seen = [shop_condition(OrderRow.shop, principal), OrderRow.status.in_(SALES_STATUSES),
            OrderRow.buyer_nick.is_not(None)]
    if shops:
        seen.append(OrderRow.shop.in_(sorted(set(shops))))
    where = [*order_scope(span, shops, principal), *seen[1:]]
    firsts = (select(OrderRow.platform.label("p"), OrderRow.buyer_nick.label("n"),
                     func.min(OrderRow.channel_created_at).label("first_at"))
              .where(*seen, OrderRow.channel_created_at < span.end)
              .group_by(OrderRow.platform, OrderRow.buyer_nick)
              .having(func.min(OrderRow.channel_created_at) >= span.start).subquery())
    bucket = bucket_sql(OrderRow.channel_created_at, span, period, dialect)
    first_bucket = bucket_sql(firsts.c.first_at, span, period, dialect)
    inner = (select(bucket.label("b"), _buyer().label("who"), first_bucket.label("fb"))
             .select_from(OrderRow)
             .outerjoin(firsts, and_(firsts.c.p == OrderRow.platform, firsts.c.n == OrderRow.buyer_nick))
             .where(*where).subquery())
    rows = (await session.execute(
        select(inner.c.b, func.count(distinct(inner.c.who)),
               func.count(distinct(case((inner.c.fb == inner.c.b, inner.c.who)))))
        .group_by(inner.c.b).order_by(inner.c.b))).all()
    buckets = [BuyerBucket(date.fromisoformat(str(b)), int(n), int(new)) for b, n, new in rows]

    spend = (select(_buyer().label("who"), func.sum(OrderRow.total_amount).label("spent"))
             .where(*where).group_by(OrderRow.platform, OrderRow.buyer_nick).subquery())
    ordered = sorted(tiers, key=lambda t: t.min_spend, reverse=True)
    tier = case(*[(spend.c.spent >= t.min_spend, literal(t.name)) for t in ordered[:-1]],
                else_=literal(ordered[-1].name))
    tiered = select(tier.label("tier"), spend.c.spent).subquery()
    per_tier = {name: (int(n), money(total)) for name, n, total in (await session.execute(
        select(tiered.c.tier, func.count(), func.sum(tiered.c.spent)).group_by(tiered.c.tier))).all()}
    tier_rows = [TierRow(t.name, t.min_spend, *per_tier.get(t.name, (0, money(None)))) for t in tiers]
    total = (await session.execute(select(func.count(distinct(_buyer()))).where(*where))).scalar_one()
    new_total = (await session.execute(select(func.count()).select_from(firsts))).scalar_one()
    return BuyersReport(buckets=buckets, tiers=tier_rows, buyers=int(total), new=int(new_total))
