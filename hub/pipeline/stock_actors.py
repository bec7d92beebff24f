"""Stock actors on the ``stock`` queue: the coalesced per-shop push, the reconcile, and the dirty
sweep that catches a push job lost between a commit and its enqueue; and on the ``bulk`` queue the
hourly listing sync that binds each shop's new listings before their first sale, and stock files
imported from the console.

Thin: each receives a shop name and calls ``hub.services.stock`` (``push``, ``reconcile``). The
``stock`` queue is its own so a backlog of order imports never delays a stock push (docs/architecture.md §5).
``inventory_jobs`` lists the periodic jobs for the leader's scheduler.
"""

from __future__ import annotations

from typing import Any

import structlog

from contracts.connectors import Capability
from hub.context import current_hub
from hub.queue.actors import hub_actor
from hub.services.stock import import_jobs, push, reconcile, scheduling

log = structlog.get_logger(__name__)

#: How often the leader reconciles each shop that can read stock back.
RECONCILE_INTERVAL_S = 900.0
#: How often the leader syncs each shop's listings (binds new listings by merchant code).
LISTING_SYNC_INTERVAL_S = 3600.0
#: How often the dirty sweep runs, and how old a dirty mark must be for it to step in.
SWEEP_INTERVAL_S = 5.0
SWEEP_AGE_S = 3.0


@hub_actor(queue="stock", priority=-20, max_retries=8, min_backoff_ms=500, max_backoff_ms=60_000, time_limit_ms=600_000,
           name=scheduling.PUSH_ACTOR)
async def push_shop_stock(shop: str) -> None:
    """Push one shop's changed stock (one job per shop per coalescing window).

    A throttled or unavailable platform raises ``RetryableError``: the unpushed listings are dirty
    again and the queue retries after the platform's ``retry_after``.
    """
    await push.push_shop(current_hub(), shop)


@hub_actor(queue="stock", priority=-20, max_retries=2, min_backoff_ms=5_000, max_backoff_ms=120_000,
           time_limit_ms=1_800_000, name="reconcile_shop")
async def reconcile_shop_stock(shop: str) -> None:
    """Read back what ``shop`` shows and repair drift."""
    await reconcile.reconcile_shop(current_hub(), shop)


@hub_actor(queue="stock", priority=-20, max_retries=1, min_backoff_ms=1_000, max_backoff_ms=5_000)
async def sweep_dirty_stock() -> None:
    """Schedule a push for every shop with listings left dirty (a lost job, a held-back raise) or
    holding partitioned units due back once their settle time passed."""
    hub = current_hub()
    shops = await scheduling.shops_to_sweep(hub, older_than_s=SWEEP_AGE_S)
    sent = await scheduling.schedule_push(hub, shops, delay_ms=0)
    if sent:
        log.info("stock.swept", shops=sent)


@hub_actor(queue="bulk", priority=0, max_retries=2, min_backoff_ms=10_000, max_backoff_ms=300_000,
           time_limit_ms=1_800_000, name="sync_shop_listings")
async def sync_shop_listings(shop: str) -> None:
    """Pull ``shop``'s listings and bind new ones by merchant code (``hub.services.listings``)."""
    from hub.services import listings

    await listings.sync_shop(current_hub(), shop)


@hub_actor(queue="bulk", priority=0, max_retries=0, time_limit_ms=3_600_000, name="import_stock_file")
async def import_stock_file(job_id: int) -> None:
    """Apply an uploaded stock file batch by batch (``hub.services.stock.import_jobs``). No retries: the
    job records its own failure, and continuing it is an operator's choice (upload it again)."""
    await import_jobs.run_import(current_hub(), job_id)


def inventory_jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) for the inventory's periodic jobs."""
    jobs: list[tuple[str, float, str, tuple[Any, ...]]] = [
        ("sweep_dirty_stock", SWEEP_INTERVAL_S, "sweep_dirty_stock", ()),
    ]
    for name, shop in hub.config.shops.items():
        if not shop.enabled:
            continue
        cls = hub.plugins.channel_class(shop.platform)
        if cls is not None and Capability.READ_STOCK in getattr(cls, "capabilities", frozenset()):
            jobs.append((f"reconcile:{name}", RECONCILE_INTERVAL_S, "reconcile_shop", (name,)))
        if cls is not None and Capability.LIST_LISTINGS in getattr(cls, "capabilities", frozenset()):
            jobs.append((f"listings:{name}", LISTING_SYNC_INTERVAL_S, "sync_shop_listings", (name,)))
    return jobs
