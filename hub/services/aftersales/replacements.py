"""An exchange's replacement or a reissue (补发) as a new delivery through fulfilment: a delivery
order for the case's lines (the exchange SKU where the buyer asked for another), routed, given a
waybill and shipped like any order's; once per case. Not for the write-back of the shipment to the
platform (``decisions``: ``ship_exchange``).
"""

from __future__ import annotations

from typing import Any


async def send_replacement(hub: Any, case_id: int, *, actor: str, warehouse: str | None = None) -> int:
    """Create (once) the delivery order that sends the case's goods again; returns its id."""
    raise NotImplementedError
