"""Dirty marks and the coalesced per-shop push job: how a stock change reaches ``push``.

A stock change marks the affected listings dirty (in the transaction of the change) and, after
commit, schedules one ``push_shop_stock`` job per shop, delayed by the coalescing window; a flag
(Redis, or this process without Redis) keeps it to one pending job per shop however many changes
arrive. The dirty sweep finds the shops a lost job, a held-back raise, units due back
(``exposure``) or a dead job's marks (``inflight``) left waiting. Not for the push itself
(``push``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import ChannelStockRow
from hub.services.stock import exposure, inflight
from hub.services.stock.skus import bundles_containing

if TYPE_CHECKING:
    from hub.context import Hub

#: The push job's actor name (``hub.pipeline.stock_actors``).
PUSH_ACTOR = "push_shop_stock"
#: Redis key (under the hub's namespace) of the "a push job is pending for this shop" flag.
FLAG_PREFIX = "stockpush:"
#: How long a pending-push flag lives if its job is lost; the dirty sweep then reschedules.
FLAG_TTL_MS = 30_000

_local_flags: dict[str, float] = {}
_local_guard = threading.Lock()


def _now() -> datetime:
    return datetime.now(UTC)


async def mark_dirty(session: AsyncSession, skus: Iterable[str]) -> set[str]:
    """Mark every listing of ``skus`` (and of bundles made of them) dirty; returns the shops whose
    listings just became dirty (those already dirty have a push pending and are left alone, which
    also keeps a hot SKU's rows from being rewritten on every sale)."""
    wanted = set(skus)
    if not wanted:
        return set()
    wanted |= await bundles_containing(session, wanted)
    # Lock every listing of them, in id order (as a push job claims), until this transaction ends:
    # a job claiming one that is dirty already waits for this change to commit, so the value it
    # then computes includes it. Without the lock, a claim between this mark (a no-op on a dirty
    # row) and the commit read the stock without the change and cleared the flag: the shop kept the
    # old value until the SKU changed again. SQLite's writers are serialised already.
    await session.execute(select(ChannelStockRow.id).where(ChannelStockRow.merchant_sku.in_(wanted))
                          .order_by(ChannelStockRow.id).with_for_update())
    result = await session.execute(
        update(ChannelStockRow)
        .where(ChannelStockRow.merchant_sku.in_(wanted), ChannelStockRow.dirty.is_(False))
        .values(dirty=True, dirty_since=_now())
        .returning(ChannelStockRow.shop)
        .execution_options(synchronize_session=False)
    )
    return set(result.scalars())


async def _claim_flag(hub: Hub, shop: str) -> bool:
    client = hub.redis()
    if client is not None:
        return bool(await client.set(hub.redis_key(f"{FLAG_PREFIX}{shop}"), "1", nx=True, px=FLAG_TTL_MS))
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
        await client.delete(hub.redis_key(f"{FLAG_PREFIX}{shop}"))
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
    """Shops with listings dirty for longer than ``older_than_s`` (a lost job, a capped raise), not
    counting listings whose last push may still land (``inflight``): they wait until it cannot."""
    cutoff = datetime.fromtimestamp(time.time() - older_than_s, UTC)
    async with hub.database().session() as session:
        rows = await session.execute(select(ChannelStockRow.shop).where(
            ChannelStockRow.dirty.is_(True), ChannelStockRow.dirty_since <= cutoff,
            inflight.free(_now(), hub.config)).distinct())
        return set(rows.scalars())


async def shops_to_sweep(hub: Hub, older_than_s: float = 2.0) -> set[str]:
    """The shops the dirty sweep pushes: those with listings dirty for longer than
    ``older_than_s``, those holding partitioned units due back, and those whose listings a dead
    job left claimed (both marked dirty here)."""
    return (await exposure.mark_ripe_dirty(hub) | await inflight.mark_abandoned_dirty(hub)
            | await dirty_shops(hub, older_than_s))
