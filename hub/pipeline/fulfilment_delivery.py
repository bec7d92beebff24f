"""Actors and periodic jobs for routing and delivery orders: to a WMS or the own warehouse.

Thin, at least once: ``fulfil_orders`` (approved orders' ids, written to the outbox by the review)
routes them (``hub.services.fulfilment.flow``); ``send_delivery_orders`` sends WMS delivery orders
(``hub.services.fulfilment.delivery_orders``), each behind its code as the idempotency key.
``jobs(hub)`` lists the periodic jobs as ``(name, interval_s, actor, args)``. Not for the rules.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor
from hub.services.fulfilment import delivery_orders, flow


# A repeat routes nothing twice (orders in an open delivery order are skipped); retries cover a
# database hiccup or a lock conflict.
@hub_actor(queue="fulfilment", max_retries=5, min_backoff_ms=1_000, max_backoff_ms=60_000, name=flow.FULFIL_ACTOR)
async def fulfil_orders(order_ids: list[int]) -> None:
    """Route approved orders and create their delivery orders (one transaction)."""
    await flow.fulfil_orders(current_hub(), list(order_ids))


# Backoff from 2 s to 5 min: a WMS outage is waited out; the service fails the delivery order
# (held, with an exception) after the same count.
@hub_actor(queue="fulfilment", max_retries=delivery_orders.SEND_MAX_RETRIES,
           min_backoff_ms=delivery_orders.SEND_MIN_BACKOFF_MS, max_backoff_ms=delivery_orders.SEND_MAX_BACKOFF_MS,
           time_limit_ms=120_000, name=delivery_orders.SEND_ACTOR)
async def send_delivery_orders(do_ids: list[int]) -> None:
    """Send pending WMS delivery orders (``deliveryorder.create``), once each."""
    await delivery_orders.send_delivery_orders(current_hub(), list(do_ids))


@hub_actor(queue="fulfilment", max_retries=0, name=flow.SWEEP_ACTOR)
async def sweep_delivery() -> None:
    """Re-enqueue approved orders never routed and WMS delivery orders never sent (a lost message)."""
    await flow.sweep(current_hub())


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """Periodic jobs of this step: the sweep, as often as the other sweepers."""
    return [(flow.SWEEP_ACTOR, hub.config.queue.sweep_interval_s, flow.SWEEP_ACTOR, ())]
