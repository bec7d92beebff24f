"""Storing service orders and platform alerts as platforms report them.

``apply_service_order`` creates or advances one service order from a platform's report: typed by
the code table (``classify``), linked to its order and order line (by the order's binding and the
line's external id; ``link_orders`` links those that came before their order), its region,
expected date and appointment kept, its service-level deadlines set (``sla.values_for``), a
history row per change; a report never moves an order back (``service_order_can_move``), a newer
report of the same status may still change the appointment or worker. A new order (or one that
moved) queues ``service_order_changed`` through the outbox (automatic assignment, hooks).
``apply_service_alert`` stores a platform's SLA alert once, raises the order's ``alert_level`` and
writes a history row. Never buyer data in history or logs.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.service_orders import ServiceAlert, ServiceOrder
from hub.services.service_orders.settings import ServiceOrdersSection


async def apply_service_order(session: AsyncSession, work: ServiceOrder, *, cause: str,
                              settings: ServiceOrdersSection) -> tuple[int, bool]:
    """Create or advance ``work``; returns (service order id, changed)."""
    raise NotImplementedError


async def apply_service_alert(session: AsyncSession, alert: ServiceAlert, *, cause: str) -> tuple[int | None, bool]:
    """Store ``alert`` once (by platform, shop and alert id); returns (service order id or None when
    the hub has not seen the work card yet, new)."""
    raise NotImplementedError


async def link_orders(session: AsyncSession, created: list[tuple[str, str, str, int]]) -> int:
    """Link the service orders that arrived before their order to it and its line, now that the
    order is stored: ``created`` holds (platform, shop, order external id, order id) of the orders
    just created; returns how many were linked. Set-based (one statement, none for an empty list).
    Until this is built it links nothing."""
    return 0
