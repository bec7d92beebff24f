"""What an order change does to stock: reserve, release, consume — each exactly once — and the
follow-ups of any stock change.

Called by ``hub.services.order_flow`` after an order change committed, at least once and in any
order (a cancel may arrive before the payment). Each call is one transaction: the reservation
primitives of ``reservations``, a "stock short" hold for lines that cannot be reserved, the
platform's own decrement of what the ordering shop shows (``note_platform_decrement``), and dirty
marks; after commit, the pushes are scheduled and ``stock_changed`` is notified. Stock that
arrives retries the orders short of it (``retry_short_orders``). Not for the order's status
(``hub.services.orders``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.fulfilment import Hold
from hub.context import Hub
from hub.db.tables import ChannelStockRow, OrderHoldRow, OrderLineRow, OrderRow, ReservationRow, SkuRow
from hub.services import orders
from hub.services.stock import exposure, reservations, scheduling
from hub.services.stock.channel_listings import add_listing, find_listing, listing_sku
from hub.services.stock.levels import stock_of
from hub.services.stock.reservations import SHORT, LineNeed, ReserveOutcome
from hub.services.stock.skus import bundles_containing, components_of

log = structlog.get_logger(__name__)

STOCK_SHORT = "stock_short"
SKU_UNKNOWN = "sku_unknown"
#: Allowance for the platforms' clocks running ahead of the hub's, when telling whether a sale
#: came after a push, for the ``shown`` estimate. Zero: both sides keep NTP time, and TOP's
#: whole-second order times only ever err towards "maybe before the push"; the reconcile job
#: repairs what is left. (Partitioned groups' exposure has its own, configured allowance.)
PUSH_CLOCK_SKEW = timedelta(0)


@dataclass
class _Line:
    external_id: str
    merchant_sku: str | None
    channel_item_id: str | None
    channel_sku_id: str | None
    quantity: int
    needs: list[LineNeed] = field(default_factory=list)


@dataclass
class StockEffect:
    """What one call did: SKUs whose stock moved, shops to push, lines short or unknown."""

    order_id: int
    touched: set[str] = field(default_factory=set)
    shops: set[str] = field(default_factory=set)
    short: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


async def _lines(session: AsyncSession, order: OrderRow) -> list[_Line]:
    rows = (await session.execute(select(OrderLineRow).where(OrderLineRow.order_id == order.id)
                                  .order_by(OrderLineRow.id))).scalars().all()
    lines = []
    for row in rows:
        sku = row.merchant_sku or await listing_sku(session, order.shop, row.channel_item_id, row.channel_sku_id)
        lines.append(_Line(row.external_id, sku, row.channel_item_id, row.channel_sku_id, row.quantity))
    known = {r.merchant_sku: r.is_bundle for r in (await session.execute(
        select(SkuRow).where(SkuRow.merchant_sku.in_({ln.merchant_sku for ln in lines if ln.merchant_sku})))).scalars()}
    components = await components_of(session, [s for s, b in known.items() if b])
    for line in lines:
        if line.merchant_sku not in known:
            continue
        if known[line.merchant_sku]:
            line.needs = [LineNeed(f"{line.external_id}/{c}", c, q * line.quantity)
                          for c, q in sorted(components.get(line.merchant_sku, {}).items())]
        else:
            line.needs = [LineNeed(line.external_id, line.merchant_sku, line.quantity)]
    return lines


async def _order(session: AsyncSession, order_id: int) -> OrderRow | None:
    return (await session.execute(select(OrderRow).where(OrderRow.id == order_id))).scalar_one_or_none()


def _skew(hub: Hub) -> timedelta:
    return timedelta(seconds=hub.config.rules.stock_clock_skew_s)


def _priority(hub: Hub) -> dict[str, int]:
    return {name: wh.priority for name, wh in hub.config.warehouses.items()}


async def note_platform_decrement(
    session: AsyncSession, shop: str, merchant_sku: str, channel_item_id: str | None, channel_sku_id: str | None,
    quantity: int, *, sold_at: datetime | None = None, skew: timedelta = timedelta(0),
) -> bool:
    """A buyer ordered ``quantity`` in ``shop``: the platform already lowered what it shows by that
    much, so lower the hub's record too (once per order line: the caller guarantees it). In a
    partitioned group the listing's exposure drops by it as well (``exposure.sale_values``; ``skew``
    is the platforms' clock allowance).

    Only when the sale (``sold_at``: the order's creation, the earliest a platform decrements)
    came after the hub's last push to that listing. A push that landed after the sale set an
    absolute value that already overwrote the platform's decrement: lowering the record as well
    would make the hub believe the shop shows less than it does, so it would never push the lower
    value the sale calls for, and the shops would keep showing stock that is gone. Otherwise the
    record becomes unknown and the next push rewrites the value (at worst one push too many).
    """
    listing_id = await find_listing(session, shop, merchant_sku, channel_item_id, channel_sku_id)
    if listing_id is None:
        return False
    lowered = case((ChannelStockRow.shown >= quantity, ChannelStockRow.shown - quantity), else_=0)
    if sold_at is not None:
        after_last_push = ChannelStockRow.pushed_at.is_(None) | (
            ChannelStockRow.pushed_at < sold_at.astimezone(UTC) - PUSH_CLOCK_SKEW)
        lowered = case((after_last_push, lowered), else_=None)
    await session.execute(
        update(ChannelStockRow)
        .where(ChannelStockRow.listing_id == listing_id)
        .values(shown=case((ChannelStockRow.shown.is_(None), None), else_=lowered),
                **exposure.sale_values(quantity, sold_at, skew))
        .execution_options(synchronize_session=False)
    )
    return True


async def reserve_order(hub: Hub, order_id: int) -> StockEffect:
    """Reserve every line of the order (once). Lines without stock stay ``short`` and put the
    order on a ``stock_short`` hold naming SKU, need and available; calling again (stock arrived,
    a person released the hold) retries only those lines and lifts the hold when all are in."""
    effect = StockEffect(order_id)
    async with hub.database().transaction() as session:
        order = await _order(session, order_id)
        if order is None:
            return effect
        lines = await _lines(session, order)
        reasons: list[str] = []
        needs = sorted(((line, need) for line in lines for need in line.needs), key=lambda p: p[1].merchant_sku)
        first_lines: set[str] = set()
        for line, need in needs:  # by SKU: concurrent orders lock stock rows in one order (no deadlock)
            result = await reservations.reserve_line(session, order_id, need, priority=_priority(hub))
            effect.touched |= result.touched
            if result.first_time:
                first_lines.add(line.external_id)
            if result.outcome is ReserveOutcome.SHORT:
                effect.short.append(need.key)
                reasons.append(f"SKU {need.merchant_sku}: needed {result.needed}, available {result.available}")
        for line in lines:
            if not line.needs:
                effect.unknown.append(line.external_id)
                continue
            if line.channel_item_id and line.merchant_sku and await find_listing(
                session, order.shop, line.merchant_sku, line.channel_item_id, line.channel_sku_id
            ) is None:
                # A listing first seen in an order: bind it, so the hub pushes this shop's value.
                await add_listing(session, order.shop, line.merchant_sku, line.channel_item_id,
                                  line.channel_sku_id or "")
                effect.touched.add(line.merchant_sku)
            if line.external_id in first_lines:
                # The shop took this stock when the buyer ordered: its shown value is already lower.
                await note_platform_decrement(session, order.shop, line.merchant_sku or "", line.channel_item_id,
                                              line.channel_sku_id, line.quantity, sold_at=order.channel_created_at,
                                              skew=_skew(hub))
        if reasons:
            await orders.add_hold(session, order_id, Hold(code=STOCK_SHORT, reason="; ".join(reasons)),
                                  cause="inventory")
        elif await _open_hold(session, order_id, STOCK_SHORT):
            await orders.release_hold(session, order_id, STOCK_SHORT, actor="inventory", cause="inventory")
        if effect.unknown:
            skus = sorted({ln.merchant_sku or f"(item {ln.channel_item_id}, sku {ln.channel_sku_id})"
                           for ln in lines if not ln.needs})
            await orders.add_hold(session, order_id, Hold(
                code=SKU_UNKNOWN,
                reason=f"SKU(s) {', '.join(skus)} not in the hub's catalogue; add them, then release this hold"),
                cause="inventory")
        effect.shops = await scheduling.mark_dirty(session, effect.touched)
    await _after_commit(hub, effect)
    if effect.short:
        log.warning("stock.short", order_id=order_id, lines=effect.short)
    return effect


async def _open_hold(session: AsyncSession, order_id: int, code: str) -> bool:
    found = await session.scalar(select(OrderHoldRow.id).where(
        OrderHoldRow.order_id == order_id, OrderHoldRow.code == code, OrderHoldRow.released_at.is_(None)))
    return found is not None


async def _finish(hub: Hub, order_id: int, *, consume: bool) -> StockEffect:
    effect = StockEffect(order_id)
    async with hub.database().transaction() as session:
        order = await _order(session, order_id)
        if order is None:
            return effect
        lines = await _lines(session, order)
        needs = sorted((need for line in lines for need in line.needs), key=lambda n: n.merchant_sku)
        if consume:
            effect.touched = await reservations.consume_reservations(session, order_id, needs)
        else:
            released: set[str] = set()
            effect.touched = await reservations.release_reservations(session, order_id, needs, released)
            await _restore_listings(session, order, lines, released)
        effect.shops = await scheduling.mark_dirty(session, effect.touched)
    await _after_commit(hub, effect)
    return effect


async def _restore_listings(session: AsyncSession, order: OrderRow, lines: list[_Line], released: set[str]) -> None:
    """The shop took stock for these lines when the buyer ordered and may put it back on sale now
    that the order is cancelled: count it in the listing's exposure again (partitioned groups)."""
    for line in lines:
        if not line.merchant_sku or not any(need.key in released for need in line.needs):
            continue
        listing_id = await find_listing(session, order.shop, line.merchant_sku, line.channel_item_id,
                                        line.channel_sku_id)
        if listing_id is not None:
            await exposure.note_restored(session, listing_id, line.quantity)


async def release_order(hub: Hub, order_id: int) -> StockEffect:
    """Cancelled or closed: give back what the order holds (once); lines never reserved get a
    tombstone so a payment report arriving later reserves nothing."""
    return await _finish(hub, order_id, consume=False)


async def consume_order(hub: Hub, order_id: int) -> StockEffect:
    """Shipped: what the order holds leaves the warehouse (once)."""
    return await _finish(hub, order_id, consume=True)


async def _after_commit(hub: Hub, effect: StockEffect) -> None:
    if effect.shops:
        await scheduling.schedule_push(hub, effect.shops)
    if effect.touched:
        await notify_stock_changed(hub, effect.touched)


async def notify_stock_changed(hub: Hub, skus: Iterable[str]) -> None:
    """Tell plugins the available quantity of these SKUs (and bundles made of them) changed."""
    async with hub.database().session() as session:
        wanted = set(skus) | await bundles_containing(session, skus)
        levels = await stock_of(session, wanted, default_low_threshold=hub.config.rules.low_stock_threshold)
    for sku, level in sorted(levels.items()):
        if level.low:
            log.warning("stock.low", merchant_sku=sku, available=level.available, threshold=level.low_stock_threshold)
        try:
            hub.plugins.hook.stock_changed(merchant_sku=sku, available=level.available, low=level.low)
        except Exception:  # a notification plugin must not undo or block the change
            log.exception("plugin.notification_failed", hook="stock_changed", merchant_sku=sku)


async def retry_short_orders(hub: Hub, skus: Iterable[str], limit: int = 200) -> int:
    """Stock arrived: try again, oldest first, the orders whose lines of ``skus`` were short."""
    async with hub.database().session() as session:
        order_ids = list((await session.execute(
            select(ReservationRow.order_id).where(ReservationRow.merchant_sku.in_(set(skus)),
                                                  ReservationRow.state == SHORT)
            .group_by(ReservationRow.order_id).order_by(ReservationRow.order_id).limit(limit))).scalars())
    for order_id in order_ids:
        await reserve_order(hub, order_id)
    return len(order_ids)
