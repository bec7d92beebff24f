"""Buyers: how many bought in each bucket, how many of them were new (their first sales order in
the hub, within the shops the caller sees, fell in that bucket and in the range) and how many came
back, and the buyers of the whole range in tiers by what they spent (``[reports] buyer_tiers``),
from buyers' spend per day and shop (``sources.buyer_rows``).

A buyer is one ``buyer_nick`` on one platform (the nick is the platforms' stable buyer handle; orders
without one are left out), counted by its 64-bit ``buyer_key`` (``rollups.buyer_key_sql``).
Read-only SQL; not for sales figures (``queries``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Numeric, String, case, cast, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from hub.services.access.scope import ShopLimited
from hub.services.reports.figures import money
from hub.services.reports.periods import Period, Range
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
    first, last = span.first, span.last
    seen = shop_scope(rows.c.shop, shops, principal)
    bucket, key, in_range = day_bucket(rows, period), rows.c.buyer_key, rows.c.day >= first
    # Two aggregates over the buyer-day rows, integer keys both: the (bucket, buyer) pairs of the
    # range, and per buyer (``who``, over every day up to the range's last, in the shops seen) the
    # first day and its bucket, what they spent in the range and whether they bought in it. A buyer
    # is new when their first day is in the range; a new buyer is new in exactly one bucket.
    pairs = (select(bucket.label("b")).where(*seen, in_range, rows.c.day <= last)
             .group_by(bucket, key).subquery("pairs"))
    who = (select(func.min(rows.c.day).label("fd"), func.min(bucket).label("fb"),
                  func.sum(case((in_range, rows.c.spend), else_=0)).label("spent"),
                  func.max(case((in_range, 1), else_=0)).label("active"))
           .where(*seen, rows.c.day <= last).group_by(key).cte("who"))
    ordered = sorted(tiers, key=lambda t: t.min_spend, reverse=True)
    tier = case(*[(who.c.spent >= t.min_spend, literal(t.name)) for t in ordered[:-1]],
                else_=literal(ordered[-1].name))
    no_day, no_tier = cast(literal(None), Date), cast(literal(None), String)
    no_amount = cast(literal(None), Numeric(18, 4))
    found = (await session.execute(union_all(
        select(literal("bucket"), pairs.c.b, no_tier, func.count(), no_amount).group_by(pairs.c.b),
        select(literal("new"), who.c.fb, no_tier, func.count(), no_amount).where(who.c.fd >= first)
        .group_by(who.c.fb),
        select(literal("tier"), no_day, tier, func.count(), func.sum(who.c.spent)).where(who.c.active == 1)
        .group_by(tier)))).all()
    per_bucket: dict[str, dict[date, int]] = {"bucket": {}, "new": {}}
    per_tier: dict[str, tuple[int, Any]] = {}
    for kind, day, label, n, amount in found:
        if kind == "tier":
            per_tier[str(label)] = (int(n), amount)
        else:
            per_bucket[kind][date.fromisoformat(str(day))] = int(n)
    buckets = [BuyerBucket(b, n, per_bucket["new"].get(b, 0)) for b, n in sorted(per_bucket["bucket"].items())]
    tier_rows = [TierRow(t.name, t.min_spend, per_tier.get(t.name, (0, None))[0],
                         money(per_tier.get(t.name, (0, None))[1])) for t in tiers]
    return BuyersReport(buckets=buckets, tiers=tier_rows, buyers=sum(t.buyers for t in tier_rows),
                        new=sum(b.new for b in buckets))
