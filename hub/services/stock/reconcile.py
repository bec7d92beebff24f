"""Reconciliation: read what a shop really shows and repair drift (docs/architecture.md §6).

A listing edited by hand in the seller centre, a push lost in a crash, a platform that restored
stock on a cancellation: the hub's record of ``shown`` and the shop disagree. The reconcile reads
every listing back (capability ``READ_STOCK``), takes the shop's answer as the truth for
``shown`` (and, in a partitioned group, as the listing's anchor: ``exposure.note_reading``), marks
the listings whose value differs from the target dirty, and pushes them.
Scheduled by the leader and run on demand (``hub stock reconcile``). Not for the push itself
(``push``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select, update

from contracts.connectors import Capability, declared
from contracts.inventory import AllocationMode, ChannelStock
from hub.db.tables import ChannelStockRow, ListingRow
from hub.services.stock import exposure
from hub.services.stock.push import push_shop
from hub.services.stock.targets import compute_targets

if TYPE_CHECKING:
    from hub.context import Hub

log = structlog.get_logger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ReconcileReport:
    """What a reconcile found and fixed for one shop."""

    shop: str
    checked: int = 0
    drifted: int = 0  # the shop showed something other than the target
    repaired: int = 0  # of those, pushed successfully now
    unreadable: int = 0  # listings the shop did not report
    raised_outside: int = 0  # partitioned listings showing more than the hub granted (edited by hand)
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)


async def reconcile_shop(
    hub: Hub, shop: str, *, progress: Callable[[int, int], None] | None = None, push: bool = True
) -> ReconcileReport:
    """Read every listing of ``shop`` back, record what it shows, and push what drifted."""
    report = ReconcileReport(shop)
    cfg = hub.config.shops.get(shop)
    if cfg is None or not cfg.enabled:
        report.skipped = "not an enabled shop in the configuration"
        return report
    connector = hub.accounts().channel(shop)
    if not declared(type(connector), Capability.READ_STOCK):
        report.skipped = f"platform {cfg.platform!r} cannot read stock back (no READ_STOCK capability)"
        return report
    async with hub.database().session() as session:
        rows = (await session.execute(
            select(ChannelStockRow, ListingRow).join(ListingRow, ListingRow.id == ChannelStockRow.listing_id)
            .where(ChannelStockRow.shop == shop).order_by(ChannelStockRow.id))).all()
        targets = await compute_targets(hub, session, {cs.merchant_sku for cs, _ in rows})
    batch_size = max(1, int(getattr(connector, "max_stock_batch", 20) or 20))
    by_key = {(lst.channel_item_id, lst.channel_sku_id): (cs, lst) for cs, lst in rows}
    total = len(rows)
    for start in range(0, total, batch_size):
        chunk = rows[start:start + batch_size]
        listings = [ChannelStock(shop=shop, merchant_sku=cs.merchant_sku, channel_item_id=lst.channel_item_id,
                                 channel_sku_id=lst.channel_sku_id or None, quantity=cs.shown or 0)
                    for cs, lst in chunk]
        readings = await connector.read_stock(listings)
        read_at = _now()
        seen: set[int] = set()
        async with hub.database().transaction() as session:
            for reading in readings:
                pair = by_key.get((reading.channel_item_id or "", reading.channel_sku_id or ""))
                if pair is None:
                    continue
                cs, _ = pair
                seen.add(cs.id)
                report.checked += 1
                target = targets[cs.merchant_sku].targets.get(shop, 0)
                values: dict[str, object] = {"shown": reading.quantity, "target": target}
                if reading.quantity != target:
                    report.drifted += 1
                    values.update(dirty=True, dirty_since=cs.dirty_since if cs.dirty else _now())
                    log.info("stock.drift", shop=shop, merchant_sku=cs.merchant_sku, shown=reading.quantity,
                             target=target)
                await session.execute(update(ChannelStockRow).where(ChannelStockRow.id == cs.id).values(**values)
                                      .execution_options(synchronize_session=False))
                if targets[cs.merchant_sku].mode is AllocationMode.PARTITIONED and await exposure.note_reading(
                        session, cs.id, reading.quantity, cs.pushed_at, read_at):
                    report.raised_outside += 1
                    log.warning("stock.raised_outside", shop=shop, merchant_sku=cs.merchant_sku,
                                shown=reading.quantity, exposure=cs.exposure)
        report.unreadable += sum(1 for cs, _ in chunk if cs.id not in seen)
        if progress is not None:
            progress(min(start + batch_size, total), total)
    if push and report.drifted:
        pushed = await push_shop(hub, shop)
        report.repaired = min(report.drifted, pushed.pushed)
        report.errors = pushed.errors
    log.info("stock.reconciled", shop=shop, checked=report.checked, drifted=report.drifted,
             repaired=report.repaired, unreadable=report.unreadable)
    return report
