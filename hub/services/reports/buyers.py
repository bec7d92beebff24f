"""Buyers: how many bought in each bucket, how many of them were new (their first sales order in
the hub, within the shops the caller sees, fell in that bucket and in the range) and how many came
back, and the buyers of the whole range in tiers by what they spent (``[reports] buyer_tiers``),
from buyers' spend per day and shop (``sources.buyer_rows``).

A buyer is one ``buyer_nick`` on one platform (the nick is the platforms' stable buyer handle; orders
without one are left out). Read-only SQL; not for sales figures (``queries``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.services.access.scope import ShopLimited
from hub.services.reports.figures import money
from hub.services.reports.periods import Period, Range, dialect_of
from hub.services.reports.queries import day_bucket, shop_scope
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


async def buyers_report(session: AsyncSession, rows: Any, span: Range, period: Period, *,
                        shops: Sequence[str] | None, principal: ShopLimited | None,
                        tiers: list[BuyerTier]) -> BuyersReport:
    """From ``rows`` (``report_buyer_days`` columns, every day up to the range's last; None: no orders)."""
    if rows is None:
        return BuyersReport(buckets=[], tiers=[TierRow(t.name, t.min_spend, 0, money(None)) for t in tiers],
                            buyers=0, new=0)
    dialect = dialect_of(session)
    first, last = span.first.isoformat(), span.last.isoformat()
    seen = shop_scope(rows.c.shop, shops, principal)
    where = [*seen, rows.c.day >= first, rows.c.day <= last]
    firsts = (select(rows.c.platform.label("p"), rows.c.buyer_nick.label("n"), func.min(rows.c.day).label("first_day"))
              .where(*seen, rows.c.day <= last)
              .group_by(rows.c.platform, rows.c.buyer_nick)
              .having(func.min(rows.c.day) >= first).subquery())
    bucket = day_bucket(rows.c.day, period, dialect)
    first_bucket = day_bucket(firsts.c.first_day, period, dialect)
    # One row per (bucket, buyer) first — a GROUP BY rather than a COUNT(DISTINCT) per bucket; a new
    # buyer is new in exactly one bucket (their first day's), so the range's new buyers are the sum.
    per = (select(bucket.label("b"), rows.c.platform, rows.c.buyer_nick, first_bucket.label("fb"))
           .select_from(rows)
           .outerjoin(firsts, and_(firsts.c.p == rows.c.platform, firsts.c.n == rows.c.buyer_nick))
           .where(*where).group_by(bucket, rows.c.platform, rows.c.buyer_nick, first_bucket).subquery())
    found = (await session.execute(
        select(per.c.b, func.count(), func.coalesce(func.sum(case((per.c.fb == per.c.b, 1), else_=0)), 0))
        .group_by(per.c.b).order_by(per.c.b))).all()
    buckets = [BuyerBucket(date.fromisoformat(str(b)), int(n), int(new)) for b, n, new in found]

    spend = (select(func.sum(rows.c.spend).label("spent"))
             .where(*where).group_by(rows.c.platform, rows.c.buyer_nick).subquery())
    ordered = sorted(tiers, key=lambda t: t.min_spend, reverse=True)
    tier = case(*[(spend.c.spent >= t.min_spend, literal(t.name)) for t in ordered[:-1]],
                else_=literal(ordered[-1].name))
    tiered = select(tier.label("tier"), spend.c.spent).subquery()
    per_tier = {name: (int(n), money(total)) for name, n, total in (await session.execute(
        select(tiered.c.tier, func.count(), func.sum(tiered.c.spent)).group_by(tiered.c.tier))).all()}
    tier_rows = [TierRow(t.name, t.min_spend, *per_tier.get(t.name, (0, money(None)))) for t in tiers]
    return BuyersReport(buckets=buckets, tiers=tier_rows, buyers=sum(t.buyers for t in tier_rows),
                        new=sum(b.new for b in buckets))
