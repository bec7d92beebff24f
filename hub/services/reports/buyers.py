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

from sqlalchemy import Numeric, case, cast, exists, func, literal, select, union_all
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
    bucket = day_bucket(rows.c.day, period, dialect)
    # One statement: each buyer's spend per bucket (``per``), then per buyer their first bucket and
    # spend (``who``). A buyer is new when no earlier day of theirs (in the shops seen) exists; a new
    # buyer is new in exactly one bucket, their first.
    per = (select(bucket.label("b"), rows.c.platform.label("p"), rows.c.buyer_nick.label("n"),
                  func.sum(rows.c.spend).label("spent"))
           .where(*seen, rows.c.day >= first, rows.c.day <= last)
           .group_by(bucket, rows.c.platform, rows.c.buyer_nick).cte("per"))
    who = (select(per.c.p, per.c.n, func.min(per.c.b).label("fb"), func.sum(per.c.spent).label("spent"))
           .group_by(per.c.p, per.c.n).cte("who"))
    earlier = rows.alias("earlier")
    before = exists(select(literal(1)).select_from(earlier).where(
        earlier.c.platform == who.c.p, earlier.c.buyer_nick == who.c.n, earlier.c.day < first,
        *shop_scope(earlier.c.shop, shops, principal)))
    ordered = sorted(tiers, key=lambda t: t.min_spend, reverse=True)
    tier = case(*[(who.c.spent >= t.min_spend, literal(t.name)) for t in ordered[:-1]],
                else_=literal(ordered[-1].name))
    nothing = cast(literal(None), Numeric(18, 4))
    found = (await session.execute(union_all(
        select(literal("bucket"), per.c.b, func.count(), nothing).group_by(per.c.b),
        select(literal("new"), who.c.fb, func.count(), nothing).where(~before).group_by(who.c.fb),
        select(literal("tier"), tier, func.count(), func.sum(who.c.spent)).group_by(tier)))).all()
    counts: dict[str, dict[str, tuple[int, Any]]] = {"bucket": {}, "new": {}, "tier": {}}
    for kind, label, n, amount in found:
        counts[kind][str(label)] = (int(n), amount)
    buckets = [BuyerBucket(date.fromisoformat(b), n, counts["new"].get(b, (0, None))[0])
               for b, (n, _) in sorted(counts["bucket"].items())]
    tier_rows = [TierRow(t.name, t.min_spend, counts["tier"].get(t.name, (0, None))[0],
                         money(counts["tier"].get(t.name, (0, None))[1])) for t in tiers]
    return BuyersReport(buckets=buckets, tiers=tier_rows, buyers=sum(t.buyers for t in tier_rows),
                        new=sum(b.new for b in buckets))
