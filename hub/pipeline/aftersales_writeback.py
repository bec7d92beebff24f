"""After-sales actors for the write-back of decisions: the periodic retry of decisions whose
write-back timed out (same key, backing off, ``[aftersales] writeback_max_attempts``), and the
settlement of a replacement delivery order that shipped (its stock out, ``ship_exchange`` written
back with the parcel). Thin: each calls ``hub.services.aftersales``. ``jobs(hub)`` lists the
periodic jobs as ``(name, interval_s, actor, args)``.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor
from hub.services.fulfilment.aftersale_deliveries import SHIPPED_ACTOR

RETRY_ACTOR = "aftersale_writeback_retry"
#: How often due write-backs are looked for (each decision waits its own backoff).
RETRY_INTERVAL_S = 30.0


@hub_actor(queue="default", max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000, name=RETRY_ACTOR)
async def retry_writebacks() -> None:
    """Write back the pending decisions that are due, with their own keys."""
    from hub.services.aftersales import decisions

    await decisions.retry_pending(current_hub())


# Settling is once per delivery order (an idempotency key): retried by the queue on a fault.
@hub_actor(queue="default", max_retries=8, min_backoff_ms=5_000, max_backoff_ms=600_000, name=SHIPPED_ACTOR)
async def replacement_shipped(case_id: int, delivery_order_id: int, parcels: list[list[str]], actor: str,
                              outbox_id: int | None = None) -> None:
    """A replacement (or reissue) delivery order left the warehouse; then mark the outbox row done
    (``outbox_id``, when the relay sends one: no sweeper re-derives this follow-up)."""
    from hub.services import sweepers
    from hub.services.aftersales import decisions

    hub = current_hub()
    await decisions.replacement_shipped(hub, case_id, delivery_order_id,
                                        [(courier, number) for courier, number in parcels], actor=actor)
    await sweepers.acknowledge(hub, outbox_id)


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    return [(RETRY_ACTOR, RETRY_INTERVAL_S, RETRY_ACTOR, ())]
