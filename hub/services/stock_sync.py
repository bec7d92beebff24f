"""Getting stock to the shops: dirty marks, targets, the coalesced per-shop push, and its record.

A stock change marks the affected listings dirty (in the transaction of the change) and, after
commit, schedules one ``push_shop_stock`` job per shop, delayed by the coalescing window; a flag
(Redis, or this process without Redis) keeps it to one pending job per shop however many changes
arrive. The job claims the dirty rows, computes targets from the stock at that moment, skips what
the shop already shows, pushes absolute values in the connector's batch size, and records the
outcome per listing. ``shown`` is the hub's record of what the shop shows: what it last accepted,
less what buyers have ordered since (``note_platform_decrement``), so a sale in a shop never
causes a needless push to that shop. Not for the allocation arithmetic (``allocation``) or for
reading shops back (``reconcile``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.connectors import Capability, declared
from contracts.inventory import AllocationMode, AllocationRequest, ChannelStock, StockPushResult
from hub.db.tables import ChannelStockRow, ListingRow
from hub.errors import AuthorizationError, PermanentError, RetryableError, ShopPausedError
from hub.services import allocation, inventory

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.context import Hub

log = structlog.get_logger(__name__)

PUSH_ACTOR = "push_shop_stock"
#: Redis key prefix of the "a push job is pending for this shop" flag (tests use their own).
FLAG_PREFIX = "hub:stockpush:"
#: How long a pending-push flag lives if its job is lost; the dirty sweep then reschedules.
FLAG_TTL_MS = 30_000
#: At most this many listings per push job; the rest stay dirty for the next one.
MAX_PER_JOB = 5_000

#: How soon a push whose partitioned raise was held back looks again.
CAPPED_RECHECK_MS = 500
#: Allowance for the platforms' clocks running ahead of the hub's, when telling whether a sale
#: came after a push. Zero: both sides keep NTP time, and TOP's whole-second order times only ever
#: err towards "maybe before the push" (the safe side); the reconcile job repairs what is left.
PUSH_CLOCK_SKEW = timedelta(0)

_local_flags: dict[str, float] = {}
_local_guard = threading.Lock()


def _now() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- dirty marks


async def mark_dirty(session: AsyncSession, skus: Iterable[str]) -> set[str]:
    """Mark every listing of ``skus`` (and of bundles made of them) dirty; returns the shops whose
    listings just became dirty (those already dirty have a push pending and are left alone, which
    also keeps a hot SKU's rows from being rewritten on every sale)."""
    wanted = set(skus)
    if not wanted:
        return set()
    wanted |= await inventory.bundles_containing(session, wanted)
    result = await session.execute(
        update(ChannelStockRow)
        .where(ChannelStockRow.merchant_sku.in_(wanted), ChannelStockRow.dirty.is_(False))
        .values(dirty=True, dirty_since=_now())
        .returning(ChannelStockRow.shop)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


async def note_platform_decrement(
    session: AsyncSession, shop: str, merchant_sku: str, channel_item_id: str | None, channel_sku_id: str | None,
    quantity: int, *, sold_at: datetime | None = None,
) -> bool:
    """A buyer ordered ``quantity`` in ``shop``: the platform already lowered what it shows by that
    much, so lower the hub's record too (once per order line: the caller guarantees it).

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
        .where(ChannelStockRow.listing_id == listing_id, ChannelStockRow.shown.is_not(None))
        .values(shown=lowered)
        .execution_options(synchronize_session=False)
    )
    return True


async def find_listing(
    session: AsyncSession, shop: str, merchant_sku: str | None, channel_item_id: str | None,
    channel_sku_id: str | None,
) -> int | None:
    """The listing an order line was bought from: by channel ids, else the shop's only listing of the SKU."""
    if channel_item_id:
        found = await session.scalar(select(ListingRow.id).where(
            ListingRow.shop == shop, ListingRow.channel_item_id == channel_item_id,
            ListingRow.channel_sku_id == (channel_sku_id or "")))
        if found is not None:
            return int(found)
    if merchant_sku:
        ids = list((await session.execute(select(ListingRow.id).where(
            ListingRow.shop == shop, ListingRow.merchant_sku == merchant_sku))).scalars())
        if len(ids) == 1:
            return int(ids[0])
    return None


async def listing_sku(
    session: AsyncSession, shop: str, channel_item_id: str | None, channel_sku_id: str | None
) -> str | None:
    """The merchant SKU behind a channel listing, for order lines that carry only channel ids."""
    if not channel_item_id:
        return None
    return await session.scalar(select(ListingRow.merchant_sku).where(
        ListingRow.shop == shop, ListingRow.channel_item_id == channel_item_id,
        ListingRow.channel_sku_id == (channel_sku_id or "")))


# --------------------------------------------------------------------------- scheduling


async def _claim_flag(hub: Hub, shop: str) -> bool:
    client = hub.redis()
    if client is not None:
        return bool(await client.set(f"{FLAG_PREFIX}{shop}", "1", nx=True, px=FLAG_TTL_MS))
    now = time.monotonic()
    with _local_guard:
        expires = _local_flags.get(shop)
        if expires is not None and expires > now:
            return False
        _local_flags[shop] = now + FLAG_TTL_MS / 1000
        return True


async def clear_flag(hub: Hub, shop: str) -> None:
    client = hub.redis()
    if client is not None:
        await client.delete(f"{FLAG_PREFIX}{shop}")
        return
    with _local_guard:
        _local_flags.pop(shop, None)


async def schedule_push(hub: Hub, shops: Iterable[str], *, delay_ms: int | None = None) -> list[str]:
    """Enqueue one delayed push job per shop unless one is already pending; returns those enqueued.

    Call after the change committed. Without a queue runtime (tests, tools) nothing is sent: the
    rows stay dirty and the periodic dirty sweep (or a direct ``push_shop``) picks them up.
    """
    if hub.runtime is None:
        return []
    window = hub.config.rules.stock_push_window_ms if delay_ms is None else delay_ms
    sent = []
    for shop in sorted(set(shops)):
        if shop not in hub.config.shops or not hub.config.shops[shop].enabled:
            continue
        if await _claim_flag(hub, shop):
            try:
                hub.send(PUSH_ACTOR, shop, delay_ms=window or None)
            except BaseException:
                await clear_flag(hub, shop)
                raise
            sent.append(shop)
    return sent


async def dirty_shops(hub: Hub, older_than_s: float = 2.0) -> set[str]:
    """Shops with listings dirty for longer than ``older_than_s`` (a lost job, a capped raise)."""
    cutoff = datetime.fromtimestamp(time.time() - older_than_s, UTC)
    async with hub.database().session() as session:
        rows = await session.execute(select(ChannelStockRow.shop).where(
            ChannelStockRow.dirty.is_(True), ChannelStockRow.dirty_since <= cutoff).distinct())
        return set(rows.scalars())


# --------------------------------------------------------------------------- targets


def allocation_mode(config: HubConfig, merchant_sku: str, stock_group: str | None) -> AllocationMode:
    """The SKU's mode: a stock group listing it, else its catalogue group, else the default."""
    for group in config.stock_groups.values():
        if merchant_sku in group.skus:
            return group.mode
    if stock_group and stock_group in config.stock_groups:
        return config.stock_groups[stock_group].mode
    return config.rules.default_allocation_mode


@dataclass(frozen=True)
class SkuTargets:
    merchant_sku: str
    available: int
    mode: AllocationMode
    targets: dict[str, int]  # shop → quantity
    low: bool = False


async def compute_targets(hub: Hub, session: AsyncSession, skus: Iterable[str]) -> dict[str, SkuTargets]:
    """What every shop listing each SKU should show now (one allocation per SKU over its shops)."""
    wanted = set(skus)
    stock = await inventory.stock_of(session, wanted, default_low_threshold=hub.config.rules.low_stock_threshold)
    listed: dict[str, dict[str, dict[str, Any]]] = {}
    for shop, sku, policy in await session.execute(
        select(ListingRow.shop, ListingRow.merchant_sku, ListingRow.policy).where(ListingRow.merchant_sku.in_(wanted))
    ):
        listed.setdefault(sku, {}).setdefault(shop, policy or {})

    def hook(request: AllocationRequest) -> Any:
        return hub.plugins.hook.allocate_stock(request=request)

    out: dict[str, SkuTargets] = {}
    for sku in wanted:
        level = stock.get(sku)
        available = level.available if level else 0
        shares = []
        for shop, listing_policy in sorted(listed.get(sku, {}).items()):
            cfg = hub.config.shops.get(shop)
            if cfg is None or not cfg.enabled:
                continue
            policy = allocation.effective_policy(
                cfg.stock, sku, product_code=level.product_code if level else None, products=cfg.stock.products,
                skus=cfg.stock.skus, listing_policy=listing_policy)
            shares.append(allocation.ShopShare(shop, cfg.platform, policy))
        mode = allocation_mode(hub.config, sku, level.stock_group if level else None)
        targets = allocation.allocate(sku, available, shares, mode, hook)
        out[sku] = SkuTargets(sku, available, mode, targets, level.low if level else False)
    return out


# --------------------------------------------------------------------------- the push


@dataclass
class PushReport:
    """What one push job did for one shop."""

    shop: str
    claimed: int = 0
    skipped: int = 0  # already showing the target
    pushed: int = 0
    failed: int = 0
    capped: int = 0  # partitioned raises held back until other shops were lowered
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    paused: str | None = None


@dataclass
class _Item:
    row_id: int
    listing_id: int
    merchant_sku: str
    channel_item_id: str
    channel_sku_id: str
    shown: int | None
    dirty_since: datetime | None
    target: int = 0
    value: int = 0


async def _claim(hub: Hub, shop: str) -> list[_Item]:
    async with hub.database().transaction() as session:
        ids = list((await session.execute(
            select(ChannelStockRow.id).where(ChannelStockRow.shop == shop, ChannelStockRow.dirty.is_(True))
            .order_by(ChannelStockRow.id).limit(MAX_PER_JOB))).scalars())
        if not ids:
            return []
        # Conditional: a concurrent job for the same shop claims each row at most once.
        claimed = await session.execute(
            update(ChannelStockRow).where(ChannelStockRow.id.in_(ids), ChannelStockRow.dirty.is_(True))
            .values(dirty=False).returning(ChannelStockRow.id).execution_options(synchronize_session=False))
        got = set(claimed.scalars())
        rows = await session.execute(
            select(ChannelStockRow, ListingRow).join(ListingRow, ListingRow.id == ChannelStockRow.listing_id)
            .where(ChannelStockRow.id.in_(got)))
        return [_Item(cs.id, cs.listing_id, cs.merchant_sku, lst.channel_item_id, lst.channel_sku_id, cs.shown,
                      cs.dirty_since) for cs, lst in rows.all()]


async def _others_committed(session: AsyncSession, shop: str, skus: Sequence[str],
                            targets: dict[str, SkuTargets]) -> dict[str, int]:
    """Per SKU: what the other shops show (or, never pushed, their target)."""
    out = dict.fromkeys(skus, 0)
    rows = await session.execute(select(ChannelStockRow.shop, ChannelStockRow.merchant_sku, ChannelStockRow.shown)
                                 .where(ChannelStockRow.merchant_sku.in_(list(skus)), ChannelStockRow.shop != shop))
    for other, sku, shown in rows:
        out[sku] += shown if shown is not None else targets[sku].targets.get(other, 0)
    return out


async def _redirty(session: AsyncSession, items: Iterable[_Item], error: str | None) -> None:
    for item in items:
        values: dict[str, Any] = {"dirty": True, "dirty_since": item.dirty_since or _now()}
        if error is not None:
            values.update(last_error=error[:2000], last_error_at=_now())
        await session.execute(update(ChannelStockRow).where(ChannelStockRow.id == item.row_id).values(**values)
                              .execution_options(synchronize_session=False))


def _observe_lag(platform: str, item: _Item, at: datetime) -> None:
    if item.dirty_since is None:
        return
    from hub import metrics

    metrics.STOCK_SYNC_LAG.labels(platform).observe(max(0.0, (at - item.dirty_since).total_seconds()))


def _match(results: Sequence[StockPushResult], batch: Sequence[_Item]) -> dict[int, StockPushResult | None]:
    by_key = {(r.merchant_sku, r.channel_sku_id or ""): r for r in results}
    by_sku: dict[str, list[StockPushResult]] = {}
    for r in results:
        by_sku.setdefault(r.merchant_sku, []).append(r)
    out: dict[int, StockPushResult | None] = {}
    for item in batch:
        found = by_key.get((item.merchant_sku, item.channel_sku_id))
        if found is None and len(by_sku.get(item.merchant_sku, [])) == 1:
            found = by_sku[item.merchant_sku][0]
        out[item.row_id] = found
    return out


async def _shop_paused(hub: Hub, shop: str) -> str | None:
    from hub.db import shops as shop_rows

    async with hub.database().session() as session:
        status = await shop_rows.shop_status(session, shop)
    if status is not None and status.status == "paused":
        return status.paused_reason or "paused"
    return None


def _breaker(hub: Hub, shop: str) -> Any:
    from hub.services.shop_health import breaker

    return breaker(hub, shop)


async def push_shop(hub: Hub, shop: str) -> PushReport:
    """Push what changed for one shop; returns what happened. Raises ``RetryableError`` (throttled,
    unavailable) after putting the unpushed listings back to dirty, so the queue retries later."""
    report = PushReport(shop)
    await clear_flag(hub, shop)  # changes from now on schedule a new job
    cfg = hub.config.shops.get(shop)
    if cfg is None or not cfg.enabled:
        return report
    paused = await _shop_paused(hub, shop)
    if paused is not None:
        report.paused = paused
        return report  # rows stay dirty; pushed when the shop is resumed
    connector = hub.accounts().channel(shop)
    if not declared(type(connector), Capability.PUSH_STOCK):
        return report
    items = await _claim(hub, shop)
    report.claimed = len(items)
    if not items:
        return report
    skus = sorted({i.merchant_sku for i in items})
    async with hub.database().session() as session:
        targets = await compute_targets(hub, session, skus)
        partitioned = [s for s in skus if targets[s].mode is AllocationMode.PARTITIONED]
        committed = await _others_committed(session, shop, partitioned, targets) if partitioned else {}
    to_push: list[_Item] = []
    capped: list[_Item] = []
    done: list[_Item] = []
    for item in items:
        st = targets[item.merchant_sku]
        item.target = st.targets.get(shop, 0)
        item.value = item.target
        if st.mode is AllocationMode.PARTITIONED:
            item.value = allocation.pushable(item.target, item.shown, st.available, committed[item.merchant_sku])
            if item.value != item.target:
                capped.append(item)
        if item.value == item.shown:
            done.append(item)
        else:
            to_push.append(item)
    report.skipped = sum(1 for i in done if i not in capped)
    report.capped = len(capped)
    async with hub.database().transaction() as session:
        for item in done:
            await session.execute(update(ChannelStockRow).where(ChannelStockRow.id == item.row_id)
                                  .values(target=item.target).execution_options(synchronize_session=False))
    breaker = _breaker(hub, shop)
    batch_size = max(1, int(getattr(connector, "max_stock_batch", 20) or 20))
    pending = list(to_push)
    try:
        while pending:
            batch, pending = pending[:batch_size], pending[batch_size:]
            await breaker.check()
            values = [ChannelStock(shop=shop, merchant_sku=i.merchant_sku, channel_item_id=i.channel_item_id,
                                   channel_sku_id=i.channel_sku_id or None, quantity=i.value) for i in batch]
            report.calls += 1
            try:
                results = await connector.push_stock(values)
            except AuthorizationError as exc:
                await _pause(hub, shop, exc)
                report.paused = str(exc)
                async with hub.database().transaction() as session:
                    await _redirty(session, batch + pending, str(exc))
                pending = []
                return report
            except PermanentError as exc:
                # The whole batch was refused as bad: record it per listing, keep the others flowing.
                await _record(hub, cfg.platform, report, batch, None, whole_error=exc)
                continue
            except (RetryableError, ShopPausedError) as exc:
                if isinstance(exc, RetryableError):
                    await breaker.record_failure(f"stock push: {exc}")
                async with hub.database().transaction() as session:
                    await _redirty(session, batch + pending, str(exc))
                pending = []
                raise
            await breaker.record_success()
            await _record(hub, cfg.platform, report, batch, results)
    except BaseException:
        if pending:
            async with hub.database().transaction() as session:
                await _redirty(session, pending, None)
        raise
    if capped:
        async with hub.database().transaction() as session:
            await _redirty(session, capped, None)
        # Held back until the other shops are lowered. The job that lowers them wakes the shops
        # left waiting, but a concurrent one may have looked before these rows were dirty again:
        # look again shortly rather than leave the raise to the dirty sweep (seconds later).
        await schedule_push(hub, [shop], delay_ms=CAPPED_RECHECK_MS)
    log.info("stock.pushed", shop=shop, pushed=report.pushed, skipped=report.skipped, failed=report.failed,
             capped=report.capped, calls=report.calls)
    if partitioned and report.pushed:
        # Others may have been held back until this shop was lowered: let them go now.
        async with hub.database().session() as session:
            waiting = set((await session.execute(select(ChannelStockRow.shop).where(
                ChannelStockRow.merchant_sku.in_(partitioned), ChannelStockRow.shop != shop,
                ChannelStockRow.dirty.is_(True)).distinct())).scalars())
        await schedule_push(hub, waiting, delay_ms=0)
    return report


async def _pause(hub: Hub, shop: str, exc: AuthorizationError) -> None:
    from hub.db import shops as shop_rows

    async with hub.database().transaction() as session:
        await shop_rows.pause_shop(session, shop, str(exc))
    log.error("shop.paused", shop=shop, reason=str(exc))


async def _record(hub: Hub, platform: str, report: PushReport, batch: Sequence[_Item],
                  results: Sequence[StockPushResult] | None, whole_error: PermanentError | None = None) -> None:
    from hub import metrics
    from hub.db import dead_letters

    matched = _match(results or [], batch)
    at = _now()
    retry_later: list[_Item] = []
    async with hub.database().transaction() as session:
        for item in batch:
            result = matched.get(item.row_id)
            if whole_error is None and result is not None and result.ok:
                shown = result.quantity if result.quantity is not None else item.value
                await session.execute(update(ChannelStockRow).where(ChannelStockRow.id == item.row_id).values(
                    target=item.target, shown=shown, pushed_at=at, last_error=None, last_error_at=None,
                ).execution_options(synchronize_session=False))
                report.pushed += 1
                metrics.STOCK_PUSHES.labels(platform, "ok").inc()
                _observe_lag(platform, item, at)
                continue
            if whole_error is not None:
                code, message, retryable = whole_error.code, str(whole_error), False
            elif result is None:
                code, message, retryable = "no_result", "the connector reported no result for this SKU", True
            else:
                code, message, retryable = result.error_code, result.error_message or "refused", result.retryable
            error = f"{code or 'error'}: {message}"
            report.failed += 1
            report.errors.append(f"{item.merchant_sku}: {error}")
            metrics.STOCK_PUSHES.labels(platform, "retry" if retryable else "failed").inc()
            await session.execute(update(ChannelStockRow).where(ChannelStockRow.id == item.row_id).values(
                target=item.target, last_error=error[:2000], last_error_at=at,
            ).execution_options(synchronize_session=False))
            if retryable:
                retry_later.append(item)
            else:
                await dead_letters.record(
                    session, actor=PUSH_ACTOR, queue="stock", args=[report.shop], kwargs={},
                    reason=f"shop {report.shop!r} refused stock for SKU {item.merchant_sku!r}: {error}",
                    error_class="PermanentError", attempts=1)
        await _redirty(session, retry_later, None)
    if retry_later:
        await schedule_push(hub, [report.shop], delay_ms=5_000)
