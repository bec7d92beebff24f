"""The follow-up actor of a batch of order changes: ``orders_changed``.

The batch-apply step writes one outbox message per applied inbox batch, carrying every change of
the batch as ``[order id, old status or None, new status, cause]``; this actor runs their
follow-up (plugin notifications, audit holds, stock) in one go through
``hub.services.order_flow.after_orders_change``. Thin, like the other actors; the single-order
``order_changed`` (``hub.pipeline.actors``) stays for other callers and messages queued before.
Imported wherever ``hub.pipeline.actors`` is, so the actor is registered in every process.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor

#: The actor's name, as the outbox rows name it.
ORDERS_CHANGED_ACTOR = "orders_changed"


@hub_actor(queue="default", priority=-15, max_retries=5, name=ORDERS_CHANGED_ACTOR)
async def orders_changed(changes: list[list[Any]], outbox_id: int | None = None) -> None:
    """After a batch of order changes commits: notify plugins, then drive audit and stock for the
    whole batch in one transaction (idempotent: a redelivered batch reserves nothing twice); then
    mark its outbox row done (``outbox_id``, when the relay sent it)."""
    from hub.services import order_flow, sweepers

    hub = current_hub()
    await order_flow.after_orders_change(hub, changes)
    await sweepers.acknowledge(hub, outbox_id)
