"""Closing the delivery orders of an order a person shipped by hand (the ``hand_shipped`` actor).

``shipments.record_shipment`` of a shipment recorded by hand (``POST /api/v1/orders/{id}/shipments``,
not through a delivery order) that leaves the order fully shipped writes ``hand_shipped`` to the
outbox when the order is still in open delivery orders. ``close_delivery`` then, once per shipment:

- marks the parcels whose waybill the person shipped with as shipped (``tracking.parcels_shipped``),
  so their waybills are never cancelled;
- sets ``shipped`` an own-warehouse delivery order whose every parcel left with that shipment (the
  person used the waybills the hub issued);
- cancels the other open delivery orders that hold only shipped orders (a merged one waits until all its
  orders shipped) through ``delivery_orders.cancel_for_order`` with the reason "shipped by hand":
  the own warehouse's (even packed) at the hub, their pending parcels never issued and their
  issued waybills cancelled at the provider; a WMS's at the WMS;
- raises a ``late_cancel`` fulfilment exception (as the interception does) for a delivery order the
  WMS would not cancel (it may ship the goods a second time) and for a waybill the provider would
  not cancel;
- writes the order event ``shipped_by_hand_closed`` attributed to whoever recorded the shipment.

A WMS fault is raised (the actor retries; what was cancelled stays cancelled). Not for recording
the shipment (``shipments``) nor for refunds overtaking a shipment (``interception``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import structlog
from sqlalchemy import select, update

from hub.context import Hub
from hub.db import idempotency
from hub.db.tables import DeliveryLineRow, DeliveryOrderRow, OrderEventRow, OrderRow, ParcelRow, ShipmentRow, utcnow
from hub.services.fulfilment import aftersale_deliveries, delivery_orders, tracking
from hub.services.fulfilment.interception import LATE_CANCEL
from hub.services.fulfilment.own_warehouse import GONE
from hub.services.fulfilment.shipments import OPEN_DELIVERY
from hub.services.fulfilment.wms_callbacks import locked_delivery_order

log = structlog.get_logger(__name__)

REASON = "shipped by hand"
CLOSED_EVENT = "shipped_by_hand_closed"
#: Parcel statuses whose waybill a courier could still take (an unused one must be cancelled).
UNUSED_WAYBILL = ("issued", "printed", "cancelling")


@dataclass
class HandOutcome:
    """What closing did: delivery orders ``cancelled``, ``shipped`` (own ones whose every parcel left
    with the shipment by hand, on the waybill the hub issued), ``too_late`` (an exception each), ``kept``
    (merged with orders not shipped yet: id → those orders), ``waybills_not_cancelled``
    (an exception each); ``repeated`` when the shipment was handled before, ``skipped`` why
    nothing was to do."""

    order_id: int
    shipment_id: int
    cancelled: list[int] = field(default_factory=list)
    shipped: list[int] = field(default_factory=list)
    too_late: list[int] = field(default_factory=list)
    kept: dict[int, list[int]] = field(default_factory=dict)
    waybills_not_cancelled: list[int] = field(default_factory=list)
    repeated: bool = False
    skipped: str | None = None


def _key(shipment_id: int) -> str:
    return f"hand_shipped:{shipment_id}"


async def close_delivery(hub: Hub, order_id: int, shipment_id: int) -> HandOutcome:
    """Close the open delivery orders of ``order_id`` after shipment ``shipment_id`` (recorded by
    hand) shipped it fully. At least once: a repeat after it finished changes nothing."""
    outcome = HandOutcome(order_id, shipment_id)
    async with hub.database().session() as session:
        if ((await idempotency.recall(session, _key(shipment_id))) or {}).get("state") == "done":
            outcome.repeated = True
            return outcome
        shipment = await session.get(ShipmentRow, shipment_id)
        fulfilment = await session.scalar(select(OrderRow.fulfilment_status).where(OrderRow.id == order_id))
        if shipment is None or fulfilment != "shipped":
            outcome.skipped = "no such shipment" if shipment is None else f"the order is {fulfilment}"
            return outcome
        actor = shipment.created_by or "hub"
        mine = select(DeliveryLineRow.delivery_order_id).where(DeliveryLineRow.order_id == order_id)
        # An after-sale case's goods sent again are not part of what the person shipped: left open.
        open_ids = sorted({do_id for do_id, data in (await session.execute(select(
            DeliveryOrderRow.id, DeliveryOrderRow.data).where(
            DeliveryOrderRow.id.in_(mine), DeliveryOrderRow.status.in_(OPEN_DELIVERY)))).all()
            if aftersale_deliveries.aftersale_of(data) is None})
        lines = (await session.execute(select(DeliveryLineRow.delivery_order_id, DeliveryLineRow.order_id).where(
            DeliveryLineRow.delivery_order_id.in_(open_ids or [-1])))).all()
        orders_of: dict[int, set[int]] = {}
        for do_id, line_order in lines:
            orders_of.setdefault(do_id, set()).add(line_order)
        involved = {o for found in orders_of.values() for o in found}
        shipped = set((await session.execute(select(OrderRow.id).where(
            OrderRow.id.in_(involved or {-1}), OrderRow.fulfilment_status == "shipped"))).scalars())
    closable = [do_id for do_id in open_ids if orders_of.get(do_id, set()) <= shipped]
    outcome.kept = {do_id: sorted(orders_of[do_id] - shipped) for do_id in open_ids if do_id not in closable}

    if closable:
        # The parcels the person shipped (a waybill the hub issued, used by hand) are shipped, not cancelled.
        await tracking.parcels_shipped(hub, order_id, shipment_id)
        outcome.shipped = await _shipped_with_their_waybills(hub, closable, actor, shipment_id)
        rest = [do_id for do_id in closable if do_id not in outcome.shipped]
        if rest:
            cancel = await delivery_orders.cancel_for_order(hub, order_id, reason=REASON, actor=actor, only=rest,
                                                            own_packed=True)
            outcome.cancelled, outcome.too_late = sorted(cancel.cancelled), sorted(cancel.too_late)
    await _record(hub, outcome, actor)
    if outcome.too_late or outcome.waybills_not_cancelled:
        log.warning("hand_shipment.too_late", order_id=order_id, shipment_id=shipment_id,
                    delivery_orders=outcome.too_late, parcels=outcome.waybills_not_cancelled)
    log.info("hand_shipment.closed", order_id=order_id, shipment_id=shipment_id, cancelled=outcome.cancelled,
             kept=sorted(outcome.kept))
    return outcome


async def _shipped_with_their_waybills(hub: Hub, do_ids: list[int], actor: str, shipment_id: int) -> list[int]:
    """Own-warehouse delivery orders whose every parcel left with the shipment by hand (the person
    used the waybills the hub issued) are ``shipped``, not cancelled; their ids."""
    done: list[int] = []
    async with hub.database().transaction() as session:
        for do_id in do_ids:
            row = await locked_delivery_order(session, delivery_order_id=do_id)
            if row is None or row.kind != delivery_orders.OWN or row.status not in OPEN_DELIVERY:
                continue
            statuses = list((await session.execute(select(ParcelRow.status).where(
                ParcelRow.delivery_order_id == do_id, ParcelRow.status.not_in(GONE)))).scalars())
            if not statuses or any(status != "shipped" for status in statuses):
                continue
            data = dict(row.data or {})
            data["history"] = [*data.get("history", []), delivery_orders.history_entry(
                "shipped", actor, reason=REASON, shipment_id=shipment_id)]
            await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == do_id).values(
                status="shipped", shipped_at=utcnow(), updated_at=utcnow(), data=data))
            done.append(do_id)
    return done


async def _record(hub: Hub, outcome: HandOutcome, actor: str) -> None:
    """Exceptions for what could not be stopped, the order event, and the shipment marked handled:
    one transaction, once (the first to claim the key writes; a concurrent duplicate writes nothing)."""
    async with hub.database().transaction() as session:
        if not await idempotency.claim(session, _key(outcome.shipment_id)):
            outcome.repeated = True
            return
        if outcome.cancelled:
            outcome.waybills_not_cancelled = sorted((await session.execute(select(ParcelRow.id).where(
                ParcelRow.delivery_order_id.in_(outcome.cancelled), ParcelRow.status.in_(UNUSED_WAYBILL)))).scalars())
        for do_id in outcome.too_late:
            status = await session.scalar(select(DeliveryOrderRow.status).where(DeliveryOrderRow.id == do_id))
            await delivery_orders.raise_exception(
                session, outcome.order_id, LATE_CANCEL, f"delivery_order:{do_id}",
                f"order {outcome.order_id} was shipped by hand (shipment {outcome.shipment_id}), but delivery order "
                f"{do_id} could not be cancelled (status {status}): the warehouse may ship the goods a second time; "
                "stop it with the warehouse or the courier")
        for parcel_id in outcome.waybills_not_cancelled:
            await delivery_orders.raise_exception(
                session, outcome.order_id, LATE_CANCEL, f"parcel:{parcel_id}",
                f"order {outcome.order_id} was shipped by hand, but the waybill of parcel {parcel_id} could not be "
                "cancelled: check it is not used")
        detail: dict[str, Any] = {k: v for k, v in asdict(outcome).items()
                                  if k in ("shipment_id", "cancelled", "shipped", "too_late", "waybills_not_cancelled")}
        detail["kept"] = {str(k): v for k, v in outcome.kept.items()}
        detail["reason"] = REASON
        if outcome.cancelled or outcome.shipped or outcome.too_late or outcome.kept:
            session.add(OrderEventRow(order_id=outcome.order_id, at=utcnow(), kind=CLOSED_EVENT, old_status=None,
                                      new_status=None, cause="shipment", actor=actor, detail=detail))
        await idempotency.remember(session, _key(outcome.shipment_id), {"state": "done", **detail})
