"""Delivery orders that send an after-sale case's goods again (an exchange's replacement, a
reissue): how fulfilment recognises them and what it does instead of a shipment when one ships.

Such a delivery order carries ``{"aftersale_id": id, "purpose": "replacement" | "reissue"}`` in
its ``data`` (``hub.services.aftersales.replacements`` makes it). Its order shipped long ago, so
the steps that skip the delivery orders of shipped orders (the WMS send, the waybill) must not skip
it, a shipment of the order recorded by hand must not close it (``hand_shipments``), and shipping
it must not record a shipment of the order nor confirm the order to the channel again:
``replacement_shipped`` queues ``aftersale_replacement_shipped`` instead, which takes its stock
out (the SKU its delivery lines name: for an exchange, the one the buyer asked for) and tells the
platform the parcel on the case (``ship_exchange``; for a reissue, ``reissue`` where the platform
takes it, e.g. Douyin's 补寄 ``afterSale.fillLogistics``). Not for making these delivery orders
(``replacements``) nor for the write-back (``hub.services.aftersales.decisions``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import outbox

#: The actor that settles a replacement that left (``hub.pipeline.aftersales_writeback``).
SHIPPED_ACTOR = "aftersale_replacement_shipped"
REPLACEMENT, REISSUE = "replacement", "reissue"


def aftersale_of(data: dict[str, Any] | None) -> int | None:
    """The after-sale case a delivery order sends goods for (its ``data``), or None: an order's."""
    value = (data or {}).get("aftersale_id")
    return int(value) if value is not None else None


def replacement_shipped(session: AsyncSession, delivery_order_id: int, data: dict[str, Any] | None,
                        parcels: list[tuple[str, str]], actor: str) -> None:
    """In the transaction that marks the delivery order shipped: queue its settlement with the
    parcels' ``(courier code, tracking number)`` (the first parcel's is the one platforms take)."""
    case_id = aftersale_of(data)
    assert case_id is not None
    outbox.add(session, SHIPPED_ACTOR, case_id, delivery_order_id,
               [[courier, number] for courier, number in parcels], actor)
