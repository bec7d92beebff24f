"""Sweep and housekeeping actors: re-enqueue work the broker lost, purge the published outbox.

Thin: each calls ``hub.services.sweepers``. The leader's scheduler sends the sweeps every
``[queue] sweep_interval_s`` and the purge hourly (``sweep_jobs``). ``settle_order_stock`` is
what the order sweeper enqueues for an order whose stock follow-up was lost.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor
from hub.services import sweepers

#: How often the leader purges published outbox rows past their retention.
PURGE_INTERVAL_S = 3600.0


@hub_actor(queue="default", priority=-5, max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000)
async def sweep_orders() -> None:
    """Re-enqueue the stock follow-up of orders whose ``order_changed`` the broker lost."""
    await sweepers.sweep_orders(current_hub())


@hub_actor(queue="fulfilment", max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000)
async def sweep_shipments() -> None:
    """Re-enqueue the channel confirmation of pending shipments no message is carrying."""
    await sweepers.sweep_shipments(current_hub())


@hub_actor(queue="ingest", max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000)
async def sweep_inbox() -> None:
    """Re-enqueue inbox rows left pending, or failed and due for their retry."""
    await sweepers.sweep_inbox(current_hub())


@hub_actor(queue="default", priority=-5, max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000)
async def sweep_outbox() -> None:
    """Make plugin notifications the broker lost (published, never finished) owed again."""
    await sweepers.sweep_outbox(current_hub())


@hub_actor(queue="default", max_retries=5, name=sweepers.SETTLE_STOCK_ACTOR)
async def settle_order_stock(order_id: int) -> None:
    """Reserve, release or consume the order's stock as its status says (idempotent)."""
    await sweepers.settle_order_stock(current_hub(), order_id)


@hub_actor(queue="bulk", max_retries=2, min_backoff_ms=10_000, max_backoff_ms=300_000, time_limit_ms=600_000)
async def purge_outbox() -> None:
    """Delete outbox rows published longer ago than ``[queue] outbox_retention_days``."""
    await sweepers.purge_outbox(current_hub())


def sweep_jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) for the sweepers and the outbox purge."""
    every = hub.config.queue.sweep_interval_s
    return [
        ("sweep_orders", every, "sweep_orders", ()),
        ("sweep_shipments", every, "sweep_shipments", ()),
        ("sweep_inbox", every, "sweep_inbox", ()),
        ("sweep_outbox", every, "sweep_outbox", ()),
        ("purge_outbox", PURGE_INTERVAL_S, "purge_outbox", ()),
    ]
