"""Actors and periodic jobs of the review (审单): none of its own — the review runs in the order
follow-up (``hub.services.order_flow``) and in the API's calls.

It hands approved orders to the flow's actor, ``FULFIL_ACTOR`` (``fulfil_orders``), which the
delivery step registers. Until that step is there, a thin ``fulfil_orders`` is registered here (so
the outbox rows the review writes reach an actor instead of the dead letters); when the delivery
module registers its own, this one is not.

``jobs(hub)`` lists the periodic jobs as ``(name, interval_s, actor, args)``.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.pipeline import fulfilment_delivery  # noqa: F401  (registers the flow's actor, when it has one)
from hub.queue.actors import hub_actor, registered_actors
from hub.services.fulfilment import flow

if flow.FULFIL_ACTOR not in registered_actors():

    @hub_actor(queue="fulfilment", max_retries=5, min_backoff_ms=1_000, max_backoff_ms=60_000,
               name=flow.FULFIL_ACTOR)
    async def fulfil_orders(order_ids: list[int]) -> None:
        """Move approved orders on through the flow (``hub.services.fulfilment.flow``)."""
        await flow.fulfil_orders(current_hub(), [int(i) for i in order_ids])


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """Periodic jobs of this step (none)."""
    return []
