"""Actors and periodic jobs of service orders, one module per job: ``service_orders_polling`` (the
safety-net poll of each shop's work cards), ``service_orders_writeback`` (steps whose write-back
timed out, tried again with the same key) and ``service_orders_sla`` (the service-level scan and the
rules that create service orders). ``service_order_changed`` runs after a service order was stored
or moved: automatic assignment of a new one. ``service_order_alerted`` runs after a platform's alert
was stored on a service order: the ``service_order_due`` hook (milestone ``platform``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from hub.context import current_hub
from hub.pipeline import service_orders_polling, service_orders_sla, service_orders_writeback
from hub.queue.actors import hub_actor

log = structlog.get_logger(__name__)

CHANGED_ACTOR = "service_order_changed"
ALERTED_ACTOR = "service_order_alerted"
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


@hub_actor(queue="default", max_retries=5, name=ALERTED_ACTOR)
async def service_order_alerted(service_order_id: int, level: str, raised_at: str,
                                outbox_id: int | None = None) -> None:
    """Tell the plugins a platform raised an alert on a service order (``service_order_due`` with
    milestone ``platform``, ``level`` warning/alert/critical, ``deadline`` when it was raised); a
    plugin that raises is logged, not retried (it would be told again and again). Then mark the
    outbox row done."""
    from sqlalchemy import select

    from hub.db.tables import ServiceOrderRow
    from hub.services import sweepers

    hub = current_hub()
    async with hub.database().session() as session:
        shop = await session.scalar(select(ServiceOrderRow.shop).where(ServiceOrderRow.id == service_order_id))
    if shop is not None:  # gone (deleted with its data): nobody to tell
        try:
            hub.plugins.hook.service_order_due(service_order_id=service_order_id, shop=shop,
                                               deadline=datetime.fromisoformat(raised_at), milestone="platform",
                                               level=level)
        except Exception as exc:
            log.error("service_order.alert_hook_failed", service_order_id=service_order_id, level=level,
                      error=f"{type(exc).__name__}: {exc}"[:300])
    await sweepers.acknowledge(hub, outbox_id)


def service_order_jobs(hub: Any) -> list[tuple[str, float, str, tuple[Any, ...]]]:
    """(name, interval, actor, args) of every service-order periodic job."""
    return [job for module in STEP_MODULES for job in module.jobs(hub)]
