"""After-sales actors: the deadline alerts, sent every minute by the leader's scheduler (``jobs``).

Thin: ``aftersale_deadlines`` calls ``hub.services.aftersales.rules.deadline_alerts``. The rules
that run when a case changes (auto-approval, stock given back on a refund) hang off
``hub.pipeline.actors.aftersale_changed``. ``jobs(hub)`` lists the periodic jobs as
``(name, interval_s, actor, args)``.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor
from hub.services.aftersales import rules

#: How often the deadlines are looked at: an alert is at most this late.
DEADLINE_INTERVAL_S = 60.0


@hub_actor(queue="default", priority=-5, max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000)
async def aftersale_deadlines() -> None:
    """Alert once for each open case whose platform deadline is near (``[aftersales] deadline_alert_hours``)."""
    await rules.deadline_alerts(current_hub())


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    return [("aftersale_deadlines", DEADLINE_INTERVAL_S, "aftersale_deadlines", ())]
