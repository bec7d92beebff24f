"""Actors and periodic jobs for merging deliveries of one buyer, splitting orders, stopping shipments a refund overtook.

``intercept_orders`` (from the outbox: a refund or a cancellation held the order) stops what can
be stopped of the orders' shipments; ``intercept_sweep`` sends it again for held orders that still
have a delivery order open (a lost message). Thin: the work is
``hub.services.fulfilment.interception``. ``jobs(hub)`` lists the periodic jobs as
``(name, interval_s, actor, args)``.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor
from hub.services.fulfilment import interception

SWEEP_ACTOR = "intercept_sweep"
SWEEP_INTERVAL_S = 60.0


@hub_actor(queue="fulfilment", max_retries=8, min_backoff_ms=2_000, max_backoff_ms=300_000,
           time_limit_ms=120_000, name=interception.INTERCEPT_ACTOR)
async def intercept_orders(order_ids: list[int]) -> None:
    """Cancel the held orders' delivery orders and unused waybills; too late → an exception."""
    await interception.intercept_orders(current_hub(), order_ids)


@hub_actor(queue="fulfilment", max_retries=0, name=SWEEP_ACTOR)
async def intercept_sweep() -> None:
    """Send ``intercept_orders`` again for held orders whose delivery is still open."""
    hub = current_hub()
    due = await interception.due(hub)
    if due:
        hub.send(interception.INTERCEPT_ACTOR, due)


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """Periodic jobs of this step: the interception sweep (at the sweepers' interval)."""
    every = getattr(getattr(hub.config, "queue", None), "sweep_interval_s", SWEEP_INTERVAL_S)
    return [("intercept_sweep", every, SWEEP_ACTOR, ())]
