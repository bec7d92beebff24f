"""Service-order periodic jobs, sent every minute by the leader's scheduler (``jobs``): the
service-level scan (``service_order_sla_scan``: orders due soon and overdue flagged, with their
notifications) and the creation rules (``service_order_rules``: a service order for each order the
``[[service_orders.rules]]`` name).

Thin: each actor calls one service (``hub.services.service_orders.sla.scan``,
``hub.services.service_orders.creation.apply_rules``). ``jobs(hub)`` lists the periodic jobs as
``(name, interval_s, actor, args)``; the rules job only when rules are configured.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.queue.actors import hub_actor
from hub.services.service_orders import creation, sla

#: How often the deadlines are looked at: a flag is at most this late.
SLA_SCAN_INTERVAL_S = 60.0
#: How often the creation rules look for new matching orders.
RULES_INTERVAL_S = 60.0
SLA_SCAN_ACTOR = "service_order_sla_scan"
RULES_ACTOR = "service_order_rules"


@hub_actor(queue="default", priority=-5, max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000,
           name=SLA_SCAN_ACTOR)
async def service_order_sla_scan() -> None:
    """Flag open service orders due soon or overdue on their next milestone, once per milestone and level."""
    await sla.scan(current_hub())


@hub_actor(queue="default", priority=-5, max_retries=1, min_backoff_ms=1_000, max_backoff_ms=10_000,
           name=RULES_ACTOR)
async def service_order_rules() -> None:
    """Create the service orders ``[[service_orders.rules]]`` call for (once per order line and type)."""
    await creation.apply_rules(current_hub())


def jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    found: list[tuple[str, float, str, tuple[Any, ...]]] = [
        (SLA_SCAN_ACTOR, SLA_SCAN_INTERVAL_S, SLA_SCAN_ACTOR, ())]
    if hub is not None and hub.config.service_orders.rules:
        found.append((RULES_ACTOR, RULES_INTERVAL_S, RULES_ACTOR, ()))
    return found
