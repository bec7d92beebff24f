"""Actors and periodic jobs for electronic waybills: ``issue_waybills`` on the ``fulfilment`` queue.

Thin: the flow writes ``issue_waybills`` [parcel_ids] to the outbox once it made pending parcels;
the actor asks ``hub.services.fulfilment.waybills``. Retries are explicit: a transient fault (a
timeout included) raises, the queue retries with backoff, and the service asks the provider again
with the same key; the service gives a parcel up (``failed``, order held) after
``[fulfilment.waybills] max_attempts``, so the queue's budget is one more than that.
``jobs(hub)`` lists the periodic jobs as ``(name, interval_s, actor, args)``.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor
from hub.services.fulfilment import waybills

#: The queue's retries; the service's own budget (``max_attempts``, at most 50) ends first.
MAX_RETRIES = 50


# Backoff 2 s to 5 min: a provider that timed out is better waited out than hammered, and asking
# again is safe (same key, same waybill).
@hub_actor(queue="fulfilment", max_retries=MAX_RETRIES, min_backoff_ms=2_000, max_backoff_ms=300_000,
           time_limit_ms=120_000, name=waybills.ISSUE_ACTOR)
async def issue_waybills(parcel_ids: list[int]) -> None:
    """Obtain the waybills of the pending parcels among ``parcel_ids``."""
    await waybills.issue_waybills(current_hub(), [int(i) for i in parcel_ids])


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """Periodic jobs of this step (none: parcels come through the outbox, which its sweep re-sends)."""
    return []
