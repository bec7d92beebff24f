"""Notifications' periodic jobs, sent every minute by the leader's scheduler (``jobs``): the scan
that records deliveries for the configured rules and the daily summary when due
(``notifications_scan``), then the sending of every due delivery (``notifications_send``).

Thin: each actor calls one service. Sending is its own actor so a slow or failing channel never
delays the scan; each delivery records its own outcome, so one failing notifier never blocks others.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor
from hub.services.notifications import deliveries, scan, summary

SCAN_ACTOR = "notifications_scan"
SEND_ACTOR = "notifications_send"
SCAN_INTERVAL_S = 60.0
SEND_INTERVAL_S = 30.0


@hub_actor(queue="default", priority=-5, max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000, name=SCAN_ACTOR)
async def notifications_scan() -> None:
    """Record the deliveries the rules and the daily summary call for (deduplicated), then send them."""
    hub = current_hub()
    new = await scan.scan(hub) + await summary.run(hub)
    if new:
        hub.send(SEND_ACTOR)


@hub_actor(queue="default", priority=-5, max_retries=0, name=SEND_ACTOR)
async def notifications_send() -> None:
    """Send every due delivery; each one's outcome (sent, retried later, dead) is recorded on it."""
    await deliveries.send_due(current_hub())


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) of this module's periodic jobs: none without channels."""
    if hub is not None and not hub.config.notifications.channels:
        return []
    return [(SCAN_ACTOR, SCAN_INTERVAL_S, SCAN_ACTOR, ()), (SEND_ACTOR, SEND_INTERVAL_S, SEND_ACTOR, ())]
