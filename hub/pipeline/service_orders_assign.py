"""The actor that gives a deactivated technician's open service orders to someone else:
``service_order_reassign``, queued (through the outbox) by ``technicians.update`` for each open
order of a technician it deactivates. Thin: it calls ``assignment.auto_assign`` with ``replace``,
which is a no-op once the order is closed or has an active technician again (a person reassigned
it first). Not for new orders (``service_order_changed`` in ``hub.pipeline.service_orders``).
"""

from __future__ import annotations

from hub.context import current_hub
from hub.queue.actors import hub_actor

#: The name ``technicians.REASSIGN_ACTOR`` queues (services import no actors module).
REASSIGN_ACTOR = "service_order_reassign"


@hub_actor(queue="default", max_retries=5, name=REASSIGN_ACTOR)
async def service_order_reassign(service_order_id: int) -> None:
    """Assign the order to the best active technician (attributed to ``hub:auto``, reason
    ``automatic``), unless ``[service_orders] auto_assign`` is off: then it stays with the
    deactivated technician, whose open orders a person reassigns."""
    from hub.services.service_orders import assignment

    hub = current_hub()
    if hub.config.service_orders.auto_assign:
        await assignment.auto_assign(hub, service_order_id, cause="reassign", replace=True)
