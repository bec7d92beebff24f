"""Fulfilment actors on the ``fulfilment`` queue: after a shipment changes, closing the delivery of
an order shipped by hand, and telling the channel.

Thin: each receives ids from the outbox and calls ``hub.services.fulfilment``. The queue is its
own so a backlog of order imports never delays a shipment confirmation (docs/architecture.md §5). Not for
recording shipments (the API does that, through the service).
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor
from hub.services import sweepers
from hub.services.fulfilment import hand_shipments
from hub.services.fulfilment import shipments as fulfilment


@hub_actor(queue="fulfilment", max_retries=5, min_backoff_ms=1_000, max_backoff_ms=60_000,
           name=fulfilment.CHANGED_ACTOR)
async def shipment_changed(order_id: int, shipment_id: int, status: str, event: str,
                           outbox_id: int | None = None) -> None:
    """After a shipment change commits: consume the order's stock once it all shipped, then notify
    plugins; then mark its outbox row done (``outbox_id``, when the relay sent it)."""
    hub = current_hub()
    await fulfilment.after_shipment_change(hub, order_id, shipment_id, status, event)
    await sweepers.acknowledge(hub, outbox_id)


# Backoff from 2 s to 5 min: a WMS that cannot be asked to cancel is waited out. The row stays owed
# until this finished (``outbox.ACKED_ACTORS``), so the outbox sweep sends it again if the broker lost it.
@hub_actor(queue="fulfilment", max_retries=8, min_backoff_ms=2_000, max_backoff_ms=300_000, time_limit_ms=120_000,
           name=fulfilment.HAND_SHIPPED_ACTOR)
async def hand_shipped(order_id: int, shipment_id: int, outbox_id: int | None = None) -> None:
    """An order shipped by hand: close its open delivery orders (cancelled at the hub or the WMS,
    unused waybills cancelled; too late → an exception), once."""
    hub = current_hub()
    await hand_shipments.close_delivery(hub, int(order_id), int(shipment_id))
    await sweepers.acknowledge(hub, outbox_id)


# Backoff from 2 s to 5 min: TOP asks integrators not to retry its isp.* errors at once, and a
# partner outage is better waited out than hammered. The service gives up after the same count.
@hub_actor(queue="fulfilment", max_retries=fulfilment.CONFIRM_MAX_RETRIES,
           min_backoff_ms=fulfilment.CONFIRM_MIN_BACKOFF_MS, max_backoff_ms=fulfilment.CONFIRM_MAX_BACKOFF_MS,
           time_limit_ms=fulfilment.CONFIRM_TIME_LIMIT_MS, name=fulfilment.CONFIRM_ACTOR)
async def confirm_shipment(shipment_id: int) -> None:
    """Tell the shop's channel the shipment left (a non-idempotent call, guarded by an idempotency key)."""
    await fulfilment.confirm_to_channel(current_hub(), shipment_id)


# The flow's steps, one module each (each registers its actors on import and lists its periodic jobs).
from hub.pipeline import (  # noqa: E402
    fulfilment_delivery,
    fulfilment_merging,
    fulfilment_review,
    fulfilment_tracking,
    fulfilment_warehouse,
    fulfilment_waybills,
)

STEP_MODULES = (fulfilment_review, fulfilment_delivery, fulfilment_warehouse, fulfilment_waybills,
                fulfilment_tracking, fulfilment_merging)


def fulfilment_jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) of every fulfilment step's periodic jobs."""
    return [job for module in STEP_MODULES for job in module.jobs(hub)]
