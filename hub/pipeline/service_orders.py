"""Actors and periodic jobs of service orders, one module per job: ``service_orders_polling`` (the
safety-net poll of each shop's work cards), ``service_orders_writeback`` (steps whose write-back
timed out, tried again with the same key) and ``service_orders_sla`` (the service-level scan and the
rules that create service orders). ``service_order_changed`` runs after a service order was stored
or moved: automatic assignment of a new one.
"""

from __future__ import annotations

from typing import Any

from hub.context import current_hub
from hub.pipeline import service_orders_polling, service_orders_sla, service_orders_writeback
from hub.queue.actors import hub_actor

CHANGED_ACTOR = "service_order_changed"
STEP_MODULES = (service_orders_polling, service_orders_writeback, service_orders_sla)


@hub_actor(queue="default", max_retries=5, name=CHANGED_ACTOR)
async def service_order_changed(service_order_id: int, status: str, cause: str, outbox_id: int | None = None) -> None:
    """Assign a new service order automatically (``[service_orders] auto_assign``); then mark the
    outbox row done (``outbox_id``, when the relay sent it)."""
    from hub.services import sweepers
    from hub.services.service_orders import assignment

    hub = current_hub()
    if status == "new" and hub.config.service_orders.auto_assign:
        await assignment.auto_assign(hub, service_order_id, cause="auto")
    await sweepers.acknowledge(hub, outbox_id)


def service_order_jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) of every service-order periodic job."""
    return [job for module in STEP_MODULES for job in module.jobs(hub)]
