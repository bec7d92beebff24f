"""The hook specifications of Connector Hub: the plugin author's manual.

Two kinds of hook. **Registration** hooks return connector classes (and sandboxes); the hub calls
them once at start-up and instantiates a class per configured account. **Extension** hooks let a
merchant's plugin change one decision (audit, routing, courier, allocation) without forking, and
**notification** hooks tell plugins what changed. Hooks are synchronous (pluggy has no async
hooks): do partner I/O in connector methods, not here. Implement a hook with
``from hub.plugin_api import hookimpl`` and a function of the same name; you may take any subset
of the arguments, by name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pluggy

from contracts.events import MessageKind
from contracts.fulfilment import Hold, RoutingDecision
from contracts.inventory import AllocationRequest
from contracts.orders import Order
from contracts.service_orders import ServiceOrder, Technician

PROJECT_NAME = "connector_hub"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "MessageKind", "hookspec"]


# --------------------------------------------------------------------------- registration


@hookspec
def register_channels() -> list[type[Any]]:
    """Return the sales-channel connector classes this plugin provides.

    :return: a list of classes implementing ``contracts.connectors.ChannelConnector`` (each with
        a unique ``platform`` name, its ``capabilities`` and its ``Settings`` model), or an empty
        list.

    Called once when the plugin manager is built. Results from all plugins are concatenated; two
    classes claiming the same ``platform`` is a start-up error naming both plugins.
    """


@hookspec
def register_couriers() -> list[type[Any]]:
    """Return the courier connector classes this plugin provides.

    :return: a list of classes implementing ``contracts.connectors.CourierConnector``.

    Called once at start-up; results are concatenated; ``platform`` names must be unique.
    """


@hookspec
def register_warehouses() -> list[type[Any]]:
    """Return the warehouse (WMS) connector classes this plugin provides.

    :return: a list of classes implementing ``contracts.connectors.WarehouseConnector``.

    Called once at start-up; results are concatenated; ``platform`` names must be unique.
    """


@hookspec
def register_notifiers() -> list[type[Any]]:
    """Return the notifier classes this plugin provides (webhook, e-mail, group robots...).

    :return: a list of classes implementing ``contracts.notifications.Notifier``: each with a
        unique ``name`` (the ``kind`` a ``[notifications.channels.<name>]`` table names), a
        pydantic ``Settings`` model and ``async send(notification)``; or an empty list.

    Called once when the plugin manager is built. Results from all plugins are concatenated; two
    classes claiming the same ``name`` is a start-up error naming both plugins. The hub builds one
    instance per configured channel and calls ``send`` once per delivery, retrying on
    ``RetryableError`` and recording a ``PermanentError`` as final.
    """


@hookspec
def register_sandboxes() -> list[type[Any]]:
    """Return partner emulator classes (``contracts.connectors.ChannelSandbox``).

    :return: a list of classes; the hub instantiates each with no arguments when it needs one
        (``hub run --demo``, tests, benchmarks). Sandboxes are never used in production mode.

    Called once at start-up; results are concatenated.
    """


# --------------------------------------------------------------------------- extension


@hookspec
def audit_order(order: Order, order_id: int, shop: str) -> list[Hold] | None:
    """Inspect a newly paid order and return the holds it needs before fulfilment.

    :param order: the canonical order (``contracts.Order``) as just stored.
    :param order_id: the hub's id of the order.
    :param shop: the configured shop name the order came from.
    :return: a list of ``contracts.Hold`` (for example ``Hold(code="high_value", reason="order over
        5,000 CNY")``), an empty list, or ``None`` for no opinion.

    Called once when an order first becomes paid, and again if an operator asks to re-audit.
    Results from all plugins are combined: the order is held while any hold is open.
    """


@hookspec(firstresult=True)
def route_order(order: Order, order_id: int, warehouses: list[str], stock: dict[str, dict[str, int]]) -> (
    RoutingDecision | None
):
    """Choose the warehouse(s) that fulfil ``order``.

    :param order: the canonical order, already audited.
    :param order_id: the hub's id of the order.
    :param warehouses: the enabled warehouses, in configured priority order.
    :param stock: available quantity per warehouse, then per merchant SKU, at this moment.
    :return: a ``contracts.RoutingDecision`` (one warehouse, or a split across several), or
        ``None`` to let the next implementation — and finally the built-in rule — decide.

    Called once per order when it becomes ready to fulfil, and again if a hold is lifted. The
    first non-None result wins.
    """


@hookspec(firstresult=True)
def select_courier(order: Order, order_id: int, warehouse: str, couriers: list[str]) -> str | None:
    """Choose the courier account that ships ``order`` from ``warehouse``.

    :param couriers: the names of configured courier accounts, in configured priority order.
    :return: one of ``couriers``, or ``None`` to let the next implementation (and finally the
        first configured courier) decide.

    Called once per shipment before its waybill is requested. The first non-None result wins.
    """


@hookspec(firstresult=True)
def allocate_stock(request: AllocationRequest) -> int | None:
    """Adjust how many units of a SKU one shop shows.

    :param request: a ``contracts.AllocationRequest``: the shop, the SKU, the stock available to
        all shops, the allocation mode, the effective policy and the value the built-in policy
        proposes.
    :return: the quantity to show (an int ≥ 0), or ``None`` to keep ``request.proposed``. In
        ``partitioned`` mode the hub clamps the sum over shops to ``available`` whatever you
        return, so no plugin can cause an oversell.

    Called for every (shop, SKU) target computation — keep it fast and free of I/O. The first
    non-None result wins.
    """


# --------------------------------------------------------------------------- notifications


@hookspec
def order_changed(order_id: int, order: Order, old_status: str | None, new_status: str, cause: str) -> None:
    """Notification: an order was created or changed status.

    :param order_id: the hub's id; :param order: the canonical order as stored;
    :param old_status: the previous canonical status (``None`` when just created);
    :param new_status: the current one; :param cause: what caused it (``"tmc"``, ``"poll"``...).

    Called after the change is committed, at least once (may repeat after a crash). Return value
    ignored; an exception is logged and does not undo the change.
    """


@hookspec
def stock_changed(merchant_sku: str, available: int, low: bool) -> None:
    """Notification: the available quantity of a SKU changed.

    :param available: on hand minus reserved minus safety stock, across warehouses.
    :param low: true when ``available`` is at or below the SKU's low-stock threshold.

    Called after the change is committed, at least once. Return value ignored.
    """


@hookspec
def shipment_changed(order_id: int, shipment_id: int, status: str) -> None:
    """Notification: a shipment was created, confirmed to the channel, or changed tracking state.

    :param order_id: the hub's id of the order; :param shipment_id: the hub's id of the shipment
        (``GET /api/v1/shipments/{id}`` shows it);
    :param status: the shipment's status after the change: ``pending`` (just recorded; the
        channel is still to be told), ``confirmed`` (the channel knows), ``not_supported`` (the
        shop's connector cannot confirm shipments) or ``failed`` (the channel refused, or
        attempts ran out; the reason is on the shipment).

    Called after commit, at least once, each change in its own queue message: notices of one
    shipment may arrive out of order (the confirmation can overtake the creation notice), so
    read ``status`` as "this happened", not as the latest state. Return value ignored; an
    exception is logged and does not undo the change.
    """


@hookspec
def aftersale_changed(aftersale_id: int, order_id: int | None, status: str) -> None:
    """Notification: an after-sale case was created or changed status.

    Called after commit, at least once. Return value ignored.
    """


@hookspec
def aftersale_due(aftersale_id: int, order_id: int | None, shop: str, deadline: datetime, status: str) -> None:
    """Notification: an open after-sale case's platform deadline is near.

    Called once per case when the deadline enters ``[aftersales] deadline_alert_hours``, after the
    alert is recorded in the case's history; ``deadline`` is timezone-aware (UTC). Past it, the
    platform decides for the buyer (usually: refunds). Use it to page someone. Return value
    ignored; an exception is logged and does not undo the alert.
    """


# --------------------------------------------------------------------------- service orders


@hookspec(firstresult=True)
def assign_service_order(service_order: ServiceOrder, service_order_id: int,
                         technicians: list[Technician]) -> str | None:
    """Choose the technician who does ``service_order`` (installation, repair, …).

    :param technicians: the candidates, best first by the hub's own rule: active technicians with
        the skill (the order's type) who serve its region (most specific region first; one without
        regions serves everywhere), then the lightest load; each with ``open_load`` and
        ``today_load``, those at their ``daily_capacity`` of appointments today last. Never empty:
        when nobody fits the hub records why and the hook is not called.
    :return: the ``code`` of one of ``technicians`` to override the hub's choice, or ``None`` to
        let the next implementation (and finally the hub's rule) decide. A code that is not among
        ``technicians`` is ignored (logged) and the hub's rule decides.

    Called once per automatic assignment (a new service order, or one whose technician was
    deactivated), never for a person's manual assignment. The first non-None result wins.
    """


@hookspec
def service_order_due(service_order_id: int, shop: str, deadline: datetime, milestone: str, level: str) -> None:
    """Notification: a service order is about to miss a service-level deadline, or missed it.

    :param milestone: which deadline — ``contact`` (an appointment booked), ``on_site`` or
        ``complete`` — or ``platform`` for the platform's own alert (Tmall's service monitor).
    :param level: ``soon`` (within ``[service_orders] due_soon_hours``) or ``overdue``; for a
        platform alert its level: ``warning``, ``alert`` or ``critical``.

    Called once per service order, milestone and level (once per platform alert), after the flag is
    recorded in the order's history (the hub's scheduler looks every minute); ``deadline`` is
    timezone-aware (UTC; for a platform alert, when it was raised). Use it to page someone. Return
    value ignored; an exception is logged and does not undo the flag.
    """

