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

from sqlalchemy import BigInteger, Date, String, case, cast, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from hub.services.access.scope import ShopLimited
from hub.services.reports.figures import money
from hub.services.reports.periods import Period, Range
from hub.services.reports.queries import day_bucket, shop_scope
from hub.services.reports.rollups import SPEND_UNITS
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
    # One aggregate over the buyer-day rows, per buyer (integer keys), over every day up to the
    # range's last in the shops seen: their first day and its bucket (a buyer is new when that day
    # is in the range, and new in exactly one bucket), the first and last bucket they bought in
    # within the range, and what they spent in it. A buyer whose range holds one bucket counts
    # there; only buyers of several buckets (few) are looked up again to count each of theirs.
    in_bucket = case((in_range, bucket))
    who = (select(key.label("k"), func.min(rows.c.day).label("fd"), func.min(bucket).label("fb"),
                  func.min(in_bucket).label("b1"), func.max(in_bucket).label("b2"),
                  func.sum(case((in_range, rows.c.spend_units), else_=0)).label("spent"))
           .where(*seen, rows.c.day <= last).group_by(key).cte("who"))
    several = select(who.c.k).where(who.c.b1 != who.c.b2)
    pairs = (select(bucket.label("b")).where(*seen, in_range, rows.c.day <= last, key.in_(several))
             .group_by(bucket, key).subquery("pairs"))
    ordered = sorted(tiers, key=lambda t: t.min_spend, reverse=True)
    tier = case(*[(who.c.spent >= int(t.min_spend * SPEND_UNITS), literal(t.name)) for t in ordered[:-1]],
                else_=literal(ordered[-1].name))
    no_day, no_tier = cast(literal(None), Date), cast(literal(None), String)
    no_amount = cast(literal(None), BigInteger)
    found = (await session.execute(union_all(
        select(literal("bucket"), who.c.b1, no_tier, func.count(), no_amount).where(who.c.b1 == who.c.b2)
        .group_by(who.c.b1),
        select(literal("bucket"), pairs.c.b, no_tier, func.count(), no_amount).group_by(pairs.c.b),
        select(literal("new"), who.c.fb, no_tier, func.count(), no_amount).where(who.c.fd >= first)
        .group_by(who.c.fb),
        select(literal("tier"), no_day, tier, func.count(), func.sum(who.c.spent)).where(who.c.b1.is_not(None))
        .group_by(tier)))).all()
    per_bucket: dict[str, dict[date, int]] = {"bucket": {}, "new": {}}
    per_tier: dict[str, tuple[int, Any]] = {}
    for kind, day, label, n, amount in found:
        if kind == "tier":
            per_tier[str(label)] = (int(n), None if amount is None else Decimal(amount) / SPEND_UNITS)
        else:  # a bucket may come twice: its one-bucket buyers, and its buyers of several
            at = date.fromisoformat(str(day))
            per_bucket[kind][at] = per_bucket[kind].get(at, 0) + int(n)
    buckets = [BuyerBucket(b, n, per_bucket["new"].get(b, 0)) for b, n in sorted(per_bucket["bucket"].items())]
    tier_rows = [TierRow(t.name, t.min_spend, per_tier.get(t.name, (0, None))[0],
                         money(per_tier.get(t.name, (0, None))[1])) for t in tiers]
    return BuyersReport(buckets=buckets, tiers=tier_rows, buyers=sum(t.buyers for t in tier_rows),
                        new=sum(b.new for b in buckets))
