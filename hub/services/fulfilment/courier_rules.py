"""Which courier carries a parcel: the ``[fulfilment.couriers]`` rules (region, weight, amount,
platform, a cost table) and the ``select_courier`` hook.

``choose`` is what the flow and the waybill step ask; the default is the first configured courier.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.orders import Order
from hub.context import Hub
from hub.services.fulfilment.routing import choose_courier


@dataclass(frozen=True)
class CourierChoice:
    """``account``: the ``[couriers.<name>]`` that issues the waybill; ``courier_code``: the carrier."""

    account: str
    courier_code: str
    reason: str = ""


def choose(hub: Hub, order: Order, order_id: int, warehouse: str, weight_grams: int | None = None
           ) -> CourierChoice | None:
    """The courier for a parcel of ``order`` from ``warehouse``, or None when nothing matches
    (the order is then held with that reason)."""
    accounts = [name for name, c in hub.config.couriers.items() if c.enabled]
    name = choose_courier(hub.plugins, order, order_id, warehouse, accounts)
    if name is None:
        return None
    code = str(hub.config.couriers[name].settings.get("courier_code") or name)
    return CourierChoice(account=name, courier_code=code, reason="first configured courier")
