"""Service-order actors for the write-back of steps: ``service_order_write`` sends one step stored by
``hub.services.service_orders.lifecycle`` (queued through the outbox with the step; while the step's
own inline try holds the row it does nothing, so a step is sent by one sender at a time), and the
periodic retry of steps whose write-back timed out or whose sender died mid-send (same key, backing
off, ``[service_orders] writeback_max_attempts``). Thin: each calls
``hub.services.service_orders.writeback``. ``jobs(hub)`` lists the periodic jobs as
``(name, interval_s, actor, args)``.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor

WRITE_ACTOR = "service_order_write"
RETRY_ACTOR = "service_order_writeback_retry"
#: How often due write-backs are looked for (each step waits its own backoff).
RETRY_INTERVAL_S = 30.0


@hub_actor(queue="default", max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000, name=WRITE_ACTOR)
async def service_order_write(write_id: int, outbox_id: int | None = None) -> None:
    """Send one stored step (a no-op once it is settled, or while another sender holds it); then
    mark the outbox row done (a held step is the holder's, or ``retry_pending``'s once the hold ends)."""
    from hub.services import sweepers
    from hub.services.service_orders import writeback

    hub = current_hub()
    await writeback.send(hub, write_id)
    await sweepers.acknowledge(hub, outbox_id)


@hub_actor(queue="default", max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000, name=RETRY_ACTOR)
async def retry_service_order_writes() -> None:
    """Write back the pending steps that are due, with their own keys."""
    from hub.services.service_orders import writeback

    await writeback.retry_pending(current_hub())


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    return [(RETRY_ACTOR, RETRY_INTERVAL_S, RETRY_ACTOR, ())]
