"""The fulfilment flow's driver: an approved order is routed, sent to its warehouse and, for the
hub's own warehouse, given parcels that wait for waybills; each step idempotent and at least once.

``FULFIL_ACTOR`` (``fulfil_orders``) takes approved orders' ids from the outbox (the review writes
them); ``fulfil_orders`` moves each as far as it can go without a person.
"""

from __future__ import annotations

from hub.context import Hub

FULFIL_ACTOR = "fulfil_orders"


async def fulfil_orders(hub: Hub, order_ids: list[int]) -> None:
    """Route and send every approved, unheld, unfulfilled order of ``order_ids`` (not yet built)."""
