"""The overview's numbers in one read: today's orders and sales per channel, orders per hour,
status shares, held orders, shops needing attention, sync lag per shop and low stock.

"Today" is the merchant's day (``zone``), counted by when the buyer placed the order on the
channel. A viewer limited to some shops (``hub.services.access.scope``) gets their figures only,
filtered in each query (``shop_condition``), never trimmed afterwards. Aggregates are grouped in
SQL; only today's creation times are fetched, to bucket them into the merchant's hours (SQLite
and PostgreSQL disagree on zone arithmetic). Not for writes, and not for rendering
(``hub.console``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import ChannelStockRow, InboxRow, OrderRow, Shop, SkuRow, StockRow, utcnow
from hub.services.access.scope import ShopLimited, shop_condition, shops_of


@dataclass(frozen=True)
class ChannelDay:
    platform: str
    currency: str
    orders: int
    sales: Decimal


@dataclass(frozen=True)
class ShopHealth:
    """One shop's state: paused or not, failing inbox messages, its last message and stock push backlog."""

    shop: str
    platform: str
    paused_reason: str | None = None
    failed_messages: int = 0
    dead_messages: int = 0
    last_message_at: datetime | None = None
    stock_waiting: int = 0
    oldest_waiting_since: datetime | None = None

    @property
    def needs_attention(self) -> bool:
        return self.paused_reason is not None or self.failed_messages > 0 or self.dead_messages > 0


@dataclass(frozen=True)
class LowStock:
    merchant_sku: str
    available: int
    threshold: int


@dataclass
class Overview:
    now: datetime
    day_start: datetime
    channels: list[ChannelDay] = field(default_factory=list)
    per_hour: list[int] = field(default_factory=lambda: [0] * 24)
    statuses: dict[str, int] = field(default_factory=dict)
    held: int = 0
    shops: list[ShopHealth] = field(default_factory=list)
    low_stock: list[LowStock] = field(default_factory=list)

    @property
    def orders_today(self) -> int:
        return sum(c.orders for c in self.channels)

    def sales_by_currency(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = {}
        for c in self.channels:
            totals[c.currency] = totals.get(c.currency, Decimal(0)) + c.sales
        return totals

    @property
    def failing_shops(self) -> list[ShopHealth]:
        return [s for s in self.shops if s.needs_attention]


def day_start(now: datetime, zone: ZoneInfo) -> datetime:
    """Midnight of ``now``'s day in ``zone``, as an aware datetime."""
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time(0), tzinfo=zone)


async def overview(
    session: AsyncSession, *, zone: ZoneInfo, shops: dict[str, str], now: datetime | None = None,
    low_stock_limit: int = 20, viewer: ShopLimited | None = None,
) -> Overview:
    """The overview as of ``now``; ``shops`` maps each configured shop to its platform.

    ``viewer``: who looks (None, or ``viewer.shops`` None: every shop); orders and shop cards keep
    to their shops, low stock does not (stock is shared by every shop)."""
    now = now or utcnow()
    start = day_start(now, zone)
    view = Overview(now=now, day_start=start)
    visible = shop_condition(OrderRow.shop, viewer)
    today = and_(OrderRow.channel_created_at >= start, visible)

    rows = await session.execute(
        select(OrderRow.platform, OrderRow.currency, func.count(), func.coalesce(func.sum(OrderRow.total_amount), 0))
        .where(today).group_by(OrderRow.platform, OrderRow.currency).order_by(OrderRow.platform)
    )
    view.channels = [ChannelDay(p, c, int(n), Decimal(s)) for p, c, n, s in rows.all()]

    hours = Counter(
        moment.astimezone(zone).hour
        for moment in (await session.execute(select(OrderRow.channel_created_at).where(today))).scalars()
    )
    view.per_hour = [hours.get(h, 0) for h in range(24)]

    statuses = await session.execute(select(OrderRow.status, func.count()).where(today).group_by(OrderRow.status))
    view.statuses = {s: int(n) for s, n in sorted(statuses.all(), key=lambda r: -int(r[1]))}
    held = select(func.count()).select_from(OrderRow).where(OrderRow.on_hold, visible)
    view.held = int(await session.scalar(held) or 0)
    view.shops = await _shop_health(session, shops, viewer)
    view.low_stock = await _low_stock(session, low_stock_limit)
    return view


async def _shop_health(session: AsyncSession, shops: dict[str, str],
                       viewer: ShopLimited | None) -> list[ShopHealth]:
    paused = {r.name: r.paused_reason or r.status for r in (await session.execute(
        select(Shop).where(Shop.status == "paused", shop_condition(Shop.name, viewer)))).scalars()}
    failing: dict[tuple[str, str], int] = {
        (shop, status): int(n) for shop, status, n in (await session.execute(
            select(InboxRow.shop, InboxRow.status, func.count())
            .where(InboxRow.status.in_(["failed", "dead"]), shop_condition(InboxRow.shop, viewer))
            .group_by(InboxRow.shop, InboxRow.status))).all()
    }
    last = {shop: at for shop, at in (await session.execute(
        select(InboxRow.shop, func.max(InboxRow.received_at)).where(shop_condition(InboxRow.shop, viewer))
        .group_by(InboxRow.shop))).all()}
    waiting = {shop: (int(n), since) for shop, n, since in (await session.execute(
        select(ChannelStockRow.shop, func.count(), func.min(ChannelStockRow.dirty_since))
        .where(ChannelStockRow.dirty, shop_condition(ChannelStockRow.shop, viewer))
        .group_by(ChannelStockRow.shop))).all()}
    limited = shops_of(viewer)
    names = sorted(name for name in set(shops) | set(paused) if limited is None or name in limited)
    out = []
    for name in names:
        count, since = waiting.get(name, (0, None))
        last_at = last.get(name)
        out.append(ShopHealth(
            shop=name, platform=shops.get(name, "?"), paused_reason=paused.get(name),
            failed_messages=failing.get((name, "failed"), 0), dead_messages=failing.get((name, "dead"), 0),
            last_message_at=_aware(last_at), stock_waiting=count, oldest_waiting_since=_aware(since),
        ))
    return out


def _aware(moment: datetime | None) -> datetime | None:
    # Aggregates (MAX/MIN) bypass the column type, so SQLite hands back naive UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


async def _low_stock(session: AsyncSession, limit: int) -> list[LowStock]:
    available = func.coalesce(func.sum(StockRow.on_hand - StockRow.reserved), 0)
    rows = await session.execute(
        select(SkuRow.merchant_sku, available, SkuRow.low_stock_threshold)
        .outerjoin(StockRow, StockRow.merchant_sku == SkuRow.merchant_sku)
        .where(SkuRow.low_stock_threshold.is_not(None), SkuRow.active, SkuRow.is_bundle.is_(False))
        .group_by(SkuRow.merchant_sku, SkuRow.low_stock_threshold)
        .having(available <= SkuRow.low_stock_threshold)
        .order_by(available, SkuRow.merchant_sku).limit(limit)
    )
    return [LowStock(sku, int(avail), int(threshold or 0)) for sku, avail, threshold in rows.all()]


