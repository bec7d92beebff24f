"""Actors and periodic jobs for parcel tracking: subscribing parcels at the tracking courier, and
the rules that flag stuck parcels (and owe resubscriptions).

Thin: each calls ``hub.services.fulfilment.tracking``. ``jobs(hub)`` lists the periodic jobs as
``(name, interval_s, actor, args)``. Not for receiving pushes (the API's webhook does that).
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor
from hub.services.fulfilment import tracking


# A subscription is idempotent (Kuaidi100 answers "already tracking"): retried with backoff from
# 5 s to 10 min, so a partner outage is waited out rather than hammered.
@hub_actor(queue="fulfilment", max_retries=8, min_backoff_ms=5_000, max_backoff_ms=600_000,
           time_limit_ms=120_000, name=tracking.SUBSCRIBE_ACTOR)
async def subscribe_parcels(parcel_ids: list[int]) -> None:
    """Ask the tracking courier to push these parcels' scans to the hub."""
    await tracking.subscribe_parcels(current_hub(), parcel_ids)


@hub_actor(queue="fulfilment", max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000,
           name=tracking.CHECK_ACTOR)
async def check_parcels() -> None:
    """The rules: not collected, stalled, returned; and resubscriptions owed."""
    await tracking.check_parcels(current_hub())


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """The rules, every ``[fulfilment.tracking] check_interval_s``."""
    return [(tracking.CHECK_ACTOR, hub.config.fulfilment.tracking.check_interval_s, tracking.CHECK_ACTOR, ())]
