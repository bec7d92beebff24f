"""What order changes do to stock: reserve, release, consume — each exactly once — and the
follow-ups of any stock change.

Called by ``hub.services.order_flow`` after order changes committed, at least once and in any
order (a cancel may arrive before the payment), for a whole batch of orders at a time: one
transaction for the batch, in a number of statements that does not grow with it — the orders'
lines, SKUs and listings loaded together, the reservations of every line taken by
``reservations.reserve_needs``, a "stock short" hold for the orders with lines that cannot be
reserved, the platform's own decrement of what the ordering shop shows
(``note_platform_decrements``), and dirty marks; after commit, the pushes are scheduled and
``stock_changed`` is notified, once per batch. Release and consume go order by order inside the
same transaction (few statements each). ``reserve_order``, ``release_order`` and
``consume_order`` are the batch of one. Stock that arrives retries the orders short of it
(``retry_short_orders``). Not for the order's status (``hub.services.orders``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import bindparam, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.fulfilment import Hold
from hub.context import Hub
from hub.db.tables import ChannelStockRow, ListingRow, OrderLineRow, OrderRow, ReservationRow, SkuRow
from hub.services import orders
from hub.services.order_holds import add_holds
from hub.services.stock import exposure, reservations, scheduling
from hub.services.stock.channel_listings import add_listing, find_listing
from hub.services.stock.levels import stock_of
from hub.services.stock.reservations import SHORT, LineNeed, OrderNeed
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


@dataclass
class BatchEffect:
    """What one batch did: SKUs whose stock moved, shops to push (after commit), and per order the
    line keys short and the lines of unknown SKUs."""

    touched: set[str] = field(default_factory=set)
    shops: set[str] = field(default_factory=set)
    short: dict[int, list[str]] = field(default_factory=dict)
    unknown: dict[int, list[str]] = field(default_factory=dict)

    def of(self, order_id: int) -> StockEffect:
        return StockEffect(order_id, set(self.touched), set(self.shops), list(self.short.get(order_id, [])),
                           list(self.unknown.get(order_id, [])))


@dataclass
class _Order:
    """One order of a batch, with its lines resolved to SKUs and needs."""

    row: OrderRow
    lines: list[_Line] = field(default_factory=list)


@dataclass
class _Listings:
    """The batch's listings, for ``find_listing`` without a query per line."""

    by_ids: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (shop, item, sku id) → id
    by_sku: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (shop, merchant SKU) → ids
    skus: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (shop, item, sku id) → merchant SKU

    def add(self, listing_id: int, shop: str, merchant_sku: str, item: str, sku_id: str) -> None:
        self.by_ids[(shop, item, sku_id)] = listing_id
        self.by_sku.setdefault((shop, merchant_sku), []).append(listing_id)
        self.skus[(shop, item, sku_id)] = merchant_sku

    def sku_of(self, shop: str, item: str | None, sku_id: str | None) -> str | None:
        """``listing_sku``: the merchant SKU behind a channel listing."""
        return self.skus.get((shop, item, sku_id or "")) if item else None

    def find(self, shop: str, merchant_sku: str | None, item: str | None, sku_id: str | None) -> int | None:
        """``find_listing``: by channel ids, else the shop's only listing of the SKU."""
        if item and (shop, item, sku_id or "") in self.by_ids:
            return self.by_ids[(shop, item, sku_id or "")]
        ids = self.by_sku.get((shop, merchant_sku), []) if merchant_sku else []
        return ids[0] if len(ids) == 1 else None


async def _load_listings(session: AsyncSession, shops: set[str], items: set[str], skus: set[str]) -> _Listings:
    found = _Listings()
    if not shops or not (items or skus):
        return found
    for listing_id, shop, sku, item, sku_id in await session.execute(
        select(ListingRow.id, ListingRow.shop, ListingRow.merchant_sku, ListingRow.channel_item_id,
               ListingRow.channel_sku_id)
        .where(ListingRow.shop.in_(shops),
               or_(ListingRow.channel_item_id.in_(items), ListingRow.merchant_sku.in_(skus)))
        .order_by(ListingRow.id)
    ):
        found.add(int(listing_id), shop, sku, item, sku_id)
    return found


async def _load(session: AsyncSession, order_ids: Iterable[int]) -> tuple[list[_Order], _Listings]:
    """The orders (oldest first), their lines with SKUs, needs and the listings they were sold
    from, in a few queries whatever the number of orders and lines."""
    rows = (await session.execute(select(OrderRow).where(OrderRow.id.in_(set(order_ids)))
                                  .order_by(OrderRow.id))).scalars().all()
    batch = {row.id: _Order(row) for row in rows}
    if not batch:
        return [], _Listings()
    line_rows = (await session.execute(select(OrderLineRow).where(OrderLineRow.order_id.in_(list(batch)))
                                       .order_by(OrderLineRow.order_id, OrderLineRow.id))).scalars().all()
    listings = await _load_listings(
        session, {o.row.shop for o in batch.values()},
        {r.channel_item_id for r in line_rows if r.channel_item_id},
        {r.merchant_sku for r in line_rows if r.merchant_sku})
    for row in line_rows:
        shop = batch[row.order_id].row.shop
        sku = row.merchant_sku or listings.sku_of(shop, row.channel_item_id, row.channel_sku_id)
        batch[row.order_id].lines.append(
            _Line(row.external_id, sku, row.channel_item_id, row.channel_sku_id, row.quantity))
    lines = [line for order in batch.values() for line in order.lines]
    known: dict[str, bool] = {sku: bool(bundle) for sku, bundle in await session.execute(
        select(SkuRow.merchant_sku, SkuRow.is_bundle).where(
            SkuRow.merchant_sku.in_({ln.merchant_sku for ln in lines if ln.merchant_sku})))}
    bundles = [s for s, b in known.items() if b]
    components = await components_of(session, bundles) if bundles else {}
    for line in lines:
        if line.merchant_sku not in known:
            continue
        if known[line.merchant_sku]:
            line.needs = [LineNeed(f"{line.external_id}/{c}", c, q * line.quantity)
                          for c, q in sorted(components.get(line.merchant_sku, {}).items())]
        else:
            line.needs = [LineNeed(line.external_id, line.merchant_sku, line.quantity)]
    return list(batch.values()), listings


def _skew(hub: Hub) -> timedelta:
    return timedelta(seconds=hub.config.rules.stock_clock_skew_s)


def _priority(hub: Hub) -> dict[str, int]:
    return {name: wh.priority for name, wh in hub.config.warehouses.items()}


#: One sale taken in: (listing id, quantity, when the order was created or None).
Sale = tuple[int, int, datetime | None]


def _decrement(timed: bool) -> Any:
    """``UPDATE channel_stock`` for one sale, with bound parameters (run for many sales at once).

    The shown record drops by the quantity only when the sale (``sold_at``: the order's creation,
    the earliest a platform decrements) came after the hub's last push to that listing. A push that
    landed after the sale set an absolute value that already overwrote the platform's decrement:
    lowering the record as well would make the hub believe the shop shows less than it does, so it
    would never push the lower value the sale calls for, and the shops would keep showing stock that
    is gone. Otherwise the record becomes unknown and the next push rewrites the value (at worst one
    push too many). In a partitioned group the listing's exposure drops as well (``exposure``)."""
    row = ChannelStockRow
    quantity: Any = bindparam("quantity")
    lowered = case((row.shown >= quantity, row.shown - quantity), else_=0)
    if timed:
        after_last_push = row.pushed_at.is_(None) | (row.pushed_at < bindparam("pushed_before"))
        lowered = case((after_last_push, lowered), else_=None)
    table: Any = ChannelStockRow.__table__
    return (update(table).where(table.c.listing_id == bindparam("listing"))
            .values(shown=case((row.shown.is_(None), None), else_=lowered),
                    **exposure.sale_columns(quantity, bindparam("anchor_before") if timed else None)))


async def note_platform_decrements(session: AsyncSession, sales: Sequence[Sale], *,
                                   skew: timedelta = timedelta(0)) -> None:
    """Buyers ordered in these listings: the platforms already lowered what they show by that much,
    so lower the hub's records too (once per order line: the caller guarantees it), in sale order;
    one statement per form (with and without a creation time) whatever the number of sales.
    ``skew`` is the partitioned groups' clock allowance (``exposure.sale_values``)."""
    timed = [{"listing": lid, "quantity": qty, "pushed_before": at.astimezone(UTC) - PUSH_CLOCK_SKEW,
              "anchor_before": at.astimezone(UTC) - skew} for lid, qty, at in sales if at is not None]
    untimed = [{"listing": lid, "quantity": qty} for lid, qty, at in sales if at is None]
    # The order of the sales does not matter: decrements clamped at 0 add up the same in any
    # order, and a shown record made unknown (NULL) stays unknown. (Orders always carry their
    # creation time: a batch's sales are one statement.)
    if timed:
        await session.execute(_decrement(True), timed)
    if untimed:
        await session.execute(_decrement(False), untimed)


async def note_platform_decrement(
    session: AsyncSession, shop: str, merchant_sku: str, channel_item_id: str | None, channel_sku_id: str | None,
    quantity: int, *, sold_at: datetime | None = None, skew: timedelta = timedelta(0),
) -> bool:
    """A buyer ordered ``quantity`` in ``shop``: ``note_platform_decrements`` for that one sale, its
    listing found by channel ids or the shop's only listing of the SKU; False without one."""
    listing_id = await find_listing(session, shop, merchant_sku, channel_item_id, channel_sku_id)
    if listing_id is None:
        return False
    await note_platform_decrements(session, [(listing_id, quantity, sold_at)], skew=skew)
    return True


async def _reserve(session: AsyncSession, hub: Hub, batch: list[_Order], listings: _Listings,
                   effect: BatchEffect) -> None:
    """Reserve every line of the batch's orders (once). Lines without stock stay ``short`` and put
    their order on a ``stock_short`` hold naming SKU, need and available; reserving again (stock
    arrived, a person released the hold) retries only those lines and lifts the hold when all are in."""
    # By order (oldest first), then as reserving each order alone would: its needs by SKU.
    needs: list[OrderNeed] = [(order.row.id, need) for order in batch for need in
                              sorted((n for line in order.lines for n in line.needs), key=lambda n: n.merchant_sku)]
    result = await reservations.reserve_needs(session, needs, priority=_priority(hub))
    effect.touched |= result.touched
    holds: list[tuple[int, Hold]] = []
    sales: list[Sale] = []
    complete: list[int] = []
    for order in batch:
        oid, shop = order.row.id, order.row.shop
        reasons = []
        for need in sorted((n for line in order.lines for n in line.needs), key=lambda n: n.merchant_sku):
            if (oid, need.key) in result.short:
                needed, available = result.short[(oid, need.key)]
                effect.short.setdefault(oid, []).append(need.key)
                reasons.append(f"SKU {need.merchant_sku}: needed {needed}, available {available}")
        for line in order.lines:
            if not line.needs:
                effect.unknown.setdefault(oid, []).append(line.external_id)
                continue
            listing_id = listings.find(shop, line.merchant_sku, line.channel_item_id, line.channel_sku_id)
            if line.channel_item_id and line.merchant_sku and listing_id is None:
                # A listing first seen in an order: bind it, so the hub pushes this shop's value.
                listing_id = await add_listing(session, shop, line.merchant_sku, line.channel_item_id,
                                               line.channel_sku_id or "")
                listings.add(listing_id, shop, line.merchant_sku, line.channel_item_id, line.channel_sku_id or "")
                effect.touched.add(line.merchant_sku)
            if listing_id is not None and any((oid, n.key) in result.first_time for n in line.needs):
                # The shop took this stock when the buyer ordered: its shown value is already lower.
                sales.append((listing_id, line.quantity, order.row.channel_created_at))
        if reasons:
            holds.append((oid, Hold(code=STOCK_SHORT, reason="; ".join(reasons))))
        else:
            complete.append(oid)
        if oid in effect.unknown:
            skus = sorted({ln.merchant_sku or f"(item {ln.channel_item_id}, sku {ln.channel_sku_id})"
                           for ln in order.lines if not ln.needs})
            holds.append((oid, Hold(
                code=SKU_UNKNOWN,
                reason=f"SKU(s) {', '.join(skus)} not in the hub's catalogue; add them, then release this hold")))
    await note_platform_decrements(session, sales, skew=_skew(hub))
    await add_holds(session, [h for h in holds if h[1].code == STOCK_SHORT], cause="inventory")
    if complete:
        await orders.release_holds(session, STOCK_SHORT, complete, actor="inventory", cause="inventory")
    await add_holds(session, [h for h in holds if h[1].code == SKU_UNKNOWN], cause="inventory")


async def _finish(session: AsyncSession, order: _Order, listings: _Listings, *, consume: bool) -> set[str]:
    """Release (cancelled, closed) or consume (shipped) what the order holds, once; lines never
    reserved get a tombstone so a payment report arriving later reserves nothing."""
    oid = order.row.id
    needs = sorted((need for line in order.lines for need in line.needs), key=lambda n: n.merchant_sku)
    if consume:
        return await reservations.consume_reservations(session, oid, needs)
    released: set[str] = set()
    touched = await reservations.release_reservations(session, oid, needs, released)
    # The shop took stock for these lines when the buyer ordered and may put it back on sale now
    # that the order is cancelled: count it in the listing's exposure again (partitioned groups).
    for line in order.lines:
        if not line.merchant_sku or not any(need.key in released for need in line.needs):
            continue
        listing_id = listings.find(order.row.shop, line.merchant_sku, line.channel_item_id, line.channel_sku_id)
        if listing_id is not None:
            await exposure.note_restored(session, listing_id, line.quantity)
    return touched


#: What to do to one order's stock, in the order the changes came: "reserve", "release", "consume".
StockStep = tuple[int, str]


async def apply_steps(session: AsyncSession, hub: Hub, steps: Sequence[StockStep]) -> BatchEffect:
    """Inside the caller's transaction: reserve the orders to reserve (together), then release or
    consume the others, order by order, as the changes came; dirty marks once. Call ``after_commit``
    with the result once the transaction committed."""
    effect = BatchEffect()
    if not steps:
        return effect
    batch, listings = await _load(session, {oid for oid, _ in steps})
    by_id = {order.row.id: order for order in batch}
    to_reserve = {oid for oid, step in steps if step == "reserve"}
    if to_reserve:
        await _reserve(session, hub, [o for o in batch if o.row.id in to_reserve], listings, effect)
    for oid, step in steps:
        if step != "reserve" and oid in by_id:
            effect.touched |= await _finish(session, by_id[oid], listings, consume=step == "consume")
    effect.shops = await scheduling.mark_dirty(session, effect.touched)
    return effect


async def after_commit(hub: Hub, effect: BatchEffect) -> None:
    """Once the batch committed: schedule the pushes and notify ``stock_changed``, once each."""
    if effect.shops:
        await scheduling.schedule_push(hub, effect.shops)
    if effect.touched:
        await notify_stock_changed(hub, effect.touched)
    if effect.short:
        log.warning("stock.short", orders=len(effect.short),
                    lines={oid: keys for oid, keys in list(effect.short.items())[:20]})


async def run_steps(hub: Hub, steps: Sequence[StockStep]) -> BatchEffect:
    """``apply_steps`` in a transaction of its own, then ``after_commit``."""
    async with hub.database().transaction() as session:
        effect = await apply_steps(session, hub, steps)
    await after_commit(hub, effect)
    return effect


async def reserve_orders(hub: Hub, order_ids: Iterable[int]) -> BatchEffect:
    """Reserve every line of these orders (once), oldest order first, in one transaction."""
    return await run_steps(hub, [(oid, "reserve") for oid in sorted(set(order_ids))])


async def reserve_order(hub: Hub, order_id: int) -> StockEffect:
    """Reserve every line of the order (once): ``reserve_orders`` for one order."""
    return (await reserve_orders(hub, [order_id])).of(order_id)


async def release_order(hub: Hub, order_id: int) -> StockEffect:
    """Cancelled or closed: give back what the order holds (once); lines never reserved get a
    tombstone so a payment report arriving later reserves nothing."""
    return (await run_steps(hub, [(order_id, "release")])).of(order_id)


async def consume_order(hub: Hub, order_id: int) -> StockEffect:
    """Shipped: what the order holds leaves the warehouse (once)."""
    return (await run_steps(hub, [(order_id, "consume")])).of(order_id)


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
    """Stock arrived: try again, oldest first and as one batch, the orders whose lines of ``skus``
    were short."""
    async with hub.database().session() as session:
        order_ids = list((await session.execute(
            select(ReservationRow.order_id).where(ReservationRow.merchant_sku.in_(set(skus)),
                                                  ReservationRow.state == SHORT)
            .group_by(ReservationRow.order_id).order_by(ReservationRow.order_id).limit(limit))).scalars())
    if order_ids:
        await reserve_orders(hub, order_ids)
    return len(order_ids)
