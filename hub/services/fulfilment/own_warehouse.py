"""The hub's own warehouse: the pick list, picking, packing and shipping of delivery orders of
kind ``own`` (the hub is the warehouse's system; people pick and pack, the hub issues waybills).

``pick_list`` lists what is to pick (sent or picking), ``pick`` moves delivery orders to picking,
``pack`` records the parcels' weights (more parcels than planned get new parcel rows whose waybills
``issue_waybills`` obtains), ``ship`` records the shipment (``shipments.record_shipment``, which tells
the channel) once every parcel has its waybill. Each is attributed, idempotent (the same call
again changes nothing) and refuses a state that does not allow it with ``StateConflict`` naming
the current state. Not for delivery orders sent to a WMS (``wms_callbacks``), nor for issuing
waybills (``waybills``).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.shipments import Parcel, ParcelItem
from hub.context import Hub
from hub.db import outbox
from hub.db.tables import DeliveryLineRow, DeliveryOrderRow, OrderEventRow, OrderRow, ParcelRow, utcnow
from hub.errors import BadInputError, HubError, NotFoundError
from hub.services.fulfilment import aftersale_deliveries, shipments
from hub.services.fulfilment.waybills import ISSUE_ACTOR
from hub.services.fulfilment.wms_callbacks import locked_delivery_order

log = structlog.get_logger(__name__)

OWN = "own"
PICKABLE = ("sent", "picking")
PACKABLE = ("picking", "packed")
#: Parcel statuses that carry a waybill a courier will accept.
WITH_WAYBILL = ("issued", "printed")
#: Parcel statuses no longer part of the delivery order.
GONE = ("cancelling", "cancelled", "failed")


class StateConflict(HubError):
    """The delivery order's state does not allow this step (HTTP 409); the message names it."""


@dataclass(frozen=True)
class PickLine:
    order_id: int
    line_external_id: str
    merchant_sku: str | None
    quantity: int


@dataclass(frozen=True)
class PickParcel:
    id: int
    seq: int
    courier_code: str
    waybill_number: str | None
    status: str
    weight_grams: int | None


@dataclass
class PickEntry:
    id: int
    code: str
    order_id: int
    warehouse: str
    status: str
    courier_code: str | None
    lines: list[PickLine] = field(default_factory=list)
    parcels: list[PickParcel] = field(default_factory=list)


@dataclass
class PickList:
    entries: list[PickEntry]

    @property
    def sku_totals(self) -> dict[str, int]:
        """Units to pick per SKU over every listed delivery order (lines without SKU under "")."""
        totals: Counter[str] = Counter()
        for entry in self.entries:
            for line in entry.lines:
                totals[line.merchant_sku or ""] += line.quantity
        return dict(sorted(totals.items()))

    def csv(self) -> str:
        """One row per delivery line, with its parcels' waybills (or the parcels still waiting)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["delivery_order_id", "code", "status", "order_id", "line_external_id", "merchant_sku",
                         "quantity", "waybills"])
        for entry in self.entries:
            waybills = " ".join(p.waybill_number or f"(parcel {p.seq} {p.status})" for p in entry.parcels)
            for line in entry.lines:
                writer.writerow([entry.id, entry.code, entry.status, line.order_id, line.line_external_id,
                                 line.merchant_sku or "", line.quantity, waybills])
        return out.getvalue()


@dataclass(frozen=True)
class PackedParcel:
    """What the packer says of one parcel: its weight and, when there are several, its items
    (order line ids and units)."""

    weight_grams: int
    items: tuple[tuple[str, int], ...] = ()


@dataclass
class ShipOutcome:
    delivery_order_id: int
    shipment_ids: list[int]
    repeated: bool = False


async def pick_list(hub: Hub, *, warehouse: str | None = None, statuses: tuple[str, ...] = PICKABLE,
                    limit: int = 500) -> PickList:
    """Own-warehouse delivery orders in ``statuses`` (oldest first), with lines and parcels."""
    async with hub.database().session() as session:
        stmt = select(DeliveryOrderRow).where(DeliveryOrderRow.kind == OWN, DeliveryOrderRow.status.in_(statuses))
        if warehouse is not None:
            stmt = stmt.where(DeliveryOrderRow.warehouse == warehouse)
        rows = list((await session.execute(stmt.order_by(DeliveryOrderRow.id).limit(limit))).scalars())
        return PickList(await _entries(session, rows))


async def delivery_entry(hub: Hub, delivery_order_id: int) -> PickEntry:
    """One delivery order as the pick list shows it; ``NotFoundError`` when there is none."""
    async with hub.database().session() as session:
        row = await session.get(DeliveryOrderRow, delivery_order_id)
        if row is None:
            raise NotFoundError(f"delivery order {delivery_order_id} does not exist")
        return (await _entries(session, [row]))[0]


async def _entries(session: AsyncSession, rows: list[DeliveryOrderRow]) -> list[PickEntry]:
    ids = [row.id for row in rows]
    entries = {row.id: PickEntry(row.id, row.code, row.order_id, row.warehouse, row.status, row.courier_code)
               for row in rows}
    if not ids:
        return []
    for line in (await session.execute(select(DeliveryLineRow).where(DeliveryLineRow.delivery_order_id.in_(ids))
                                       .order_by(DeliveryLineRow.id))).scalars():
        entries[line.delivery_order_id].lines.append(
            PickLine(line.order_id, line.line_external_id, line.merchant_sku, line.quantity))
    for parcel in (await session.execute(select(ParcelRow).where(
            ParcelRow.delivery_order_id.in_(ids), ParcelRow.status.not_in(GONE)).order_by(ParcelRow.seq))).scalars():
        if parcel.delivery_order_id is not None:
            entries[parcel.delivery_order_id].parcels.append(PickParcel(
                parcel.id, parcel.seq, parcel.courier_code, parcel.waybill_number, parcel.status,
                parcel.weight_grams))
    return [entries[i] for i in ids]


def _event(order_id: int, kind: str, actor: str, detail: dict[str, Any]) -> OrderEventRow:
    return OrderEventRow(order_id=order_id, at=utcnow(), kind=kind, old_status=None, new_status=None,
                         cause="warehouse", actor=actor, detail=detail)


async def _own(session: AsyncSession, delivery_order_id: int) -> DeliveryOrderRow:
    row = await locked_delivery_order(session, delivery_order_id=delivery_order_id)
    if row is None:
        raise NotFoundError(f"delivery order {delivery_order_id} does not exist")
    if row.kind != OWN:
        raise StateConflict(f"delivery order {row.id} ({row.code}) goes to the WMS of warehouse {row.warehouse!r}, "
                            "not the hub's own warehouse; the WMS picks, packs and ships it")
    return row


async def pick(hub: Hub, delivery_order_ids: list[int], *, actor: str) -> list[int]:
    """Move every listed delivery order to ``picking`` (all or none); the ids that changed.

    Already picking: unchanged (not an error). Any other state: ``StateConflict`` naming it."""
    changed: list[int] = []
    async with hub.database().transaction() as session:
        for delivery_order_id in dict.fromkeys(delivery_order_ids):
            row = await _own(session, delivery_order_id)
            if row.status == "picking":
                continue
            if row.status not in PICKABLE:
                raise StateConflict(f"delivery order {row.id} ({row.code}) is {row.status}; only sent ones can be "
                                    "picked")
            data = {**(row.data or {}), "picked_by": actor, "picked_at": utcnow().isoformat()}
            await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == row.id)
                                  .values(status="picking", data=data, updated_at=utcnow()))
            session.add(_event(row.order_id, "warehouse_picking", actor, {"delivery_order_id": row.id,
                                                                         "code": row.code}))
            changed.append(row.id)
    log.info("warehouse.picked", delivery_orders=changed, by=actor)
    return changed


def _check_items(parcels: list[PackedParcel], lines: list[DeliveryLineRow]) -> None:
    if len(parcels) > 1:
        for i, parcel in enumerate(parcels):
            if not parcel.items:
                raise BadInputError(f"parcel {i} lists no items; when a delivery has several parcels, list the "
                                    "order lines in each", field=f"body.parcels.{i}.items")
    known = Counter[str]()
    for line in lines:
        known[line.line_external_id] += line.quantity
    packed: Counter[str] = Counter()
    for i, parcel in enumerate(parcels):
        for j, (line_id, quantity) in enumerate(parcel.items):
            if line_id not in known:
                raise BadInputError(f"line {line_id!r} is not in this delivery order; lines: "
                                    f"{', '.join(sorted(known))}", field=f"body.parcels.{i}.items.{j}.line_external_id")
            packed[line_id] += quantity
            if packed[line_id] > known[line_id]:
                raise BadInputError(f"line {line_id}: {packed[line_id]} units packed, the delivery order holds "
                                    f"{known[line_id]}", field=f"body.parcels.{i}.items.{j}.quantity")


async def pack(hub: Hub, delivery_order_id: int, parcels: list[PackedParcel], *, actor: str) -> PickEntry:
    """Record the packed parcels of a picked delivery order: weights (and items) of the planned
    parcels, new parcel rows (waybills asked for through ``issue_waybills``) for extra ones,
    pending planned parcels not needed any more cancelled. Packing again corrects the figures."""
    if not parcels:
        raise BadInputError("pack at least one parcel", field="body.parcels")
    async with hub.database().transaction() as session:
        row = await _own(session, delivery_order_id)
        if row.status not in PACKABLE:
            raise StateConflict(f"delivery order {row.id} ({row.code}) is {row.status}; pick it before packing"
                                if row.status in PICKABLE else
                                f"delivery order {row.id} ({row.code}) is {row.status}; it can no longer be packed")
        lines = list((await session.execute(select(DeliveryLineRow).where(
            DeliveryLineRow.delivery_order_id == row.id))).scalars())
        _check_items(parcels, lines)
        existing = list((await session.execute(select(ParcelRow).where(
            ParcelRow.delivery_order_id == row.id, ParcelRow.status.not_in(GONE)).order_by(ParcelRow.seq))).scalars())
        for extra in existing[len(parcels):]:
            if extra.waybill_number:
                raise StateConflict(f"parcel {extra.seq} of delivery order {row.id} has waybill "
                                    f"{extra.waybill_number}; pack it too, or cancel its waybill first")
        for extra in existing[len(parcels):]:
            await session.execute(update(ParcelRow).where(ParcelRow.id == extra.id)
                                  .values(status="cancelled", updated_at=utcnow()))
        template = existing[0] if existing else None
        courier = row.courier_code or (template.courier_code if template else None)
        if len(parcels) > len(existing) and courier is None:
            raise StateConflict(f"delivery order {row.id} ({row.code}) has no courier yet; route it to one "
                                "before packing more parcels")
        # Past every parcel the delivery order ever had (cancelled ones too): keys stay unique.
        seq = int(await session.scalar(select(func.max(ParcelRow.seq)).where(
            ParcelRow.delivery_order_id == row.id)) or 0)
        new_ids: list[int] = []
        items: dict[str, list[list[Any]]] = {}
        for index, packed in enumerate(parcels):
            if index < len(existing):
                parcel = existing[index]
                await session.execute(update(ParcelRow).where(ParcelRow.id == parcel.id)
                                      .values(weight_grams=packed.weight_grams, updated_at=utcnow()))
                parcel_id = parcel.id
            else:
                seq += 1
                new = ParcelRow(key=f"{row.code}-{seq}"[:64], delivery_order_id=row.id, order_id=row.order_id,
                                seq=seq, courier_code=str(courier),
                                courier_account=template.courier_account if template else None,
                                status="pending", print_data={}, weight_grams=packed.weight_grams, attempts=0,
                                created_at=utcnow())
                session.add(new)
                await session.flush()
                parcel_id = new.id
                new_ids.append(parcel_id)
            if packed.items:
                items[str(parcel_id)] = [[line, qty] for line, qty in packed.items]
        data = {**(row.data or {}), "packed_by": actor, "packed_at": utcnow().isoformat(), "parcel_items": items}
        await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == row.id)
                              .values(status="packed", data=data, updated_at=utcnow()))
        session.add(_event(row.order_id, "warehouse_packed", actor, {
            "delivery_order_id": row.id, "parcels": len(parcels), "new_parcels": new_ids}))
        if new_ids:
            outbox.add(session, ISSUE_ACTOR, new_ids)
    log.info("warehouse.packed", delivery_order_id=delivery_order_id, parcels=len(parcels), new=len(new_ids),
             by=actor)
    return await delivery_entry(hub, delivery_order_id)


def _parcels_by_order(row: DeliveryOrderRow, lines: list[DeliveryLineRow], parcels: list[ParcelRow]
                      ) -> dict[int, list[Parcel]]:
    """Each order's parcels: the items the packer listed, or (one parcel) every line."""
    listed: dict[str, list[list[Any]]] = (row.data or {}).get("parcel_items", {})
    line_by_id: dict[str, list[DeliveryLineRow]] = {}
    for line in lines:
        line_by_id.setdefault(line.line_external_id, []).append(line)
    out: dict[int, list[Parcel]] = {}
    for parcel in parcels:
        wanted = listed.get(str(parcel.id))
        if wanted is None and len(parcels) == 1:
            wanted = [[line.line_external_id, line.quantity] for line in lines]
        per_order: dict[int, list[ParcelItem]] = {}
        for line_id, quantity in wanted or []:
            line = line_by_id[line_id][0]
            per_order.setdefault(line.order_id, []).append(ParcelItem(
                line_external_id=line_id, merchant_sku=line.merchant_sku, quantity=int(quantity)))
        for order_id, items in per_order.items():
            out.setdefault(order_id, []).append(Parcel(
                courier_code=parcel.courier_code, tracking_number=str(parcel.waybill_number),
                weight_grams=parcel.weight_grams, items=items))
    return out


async def _fully_shipped(hub: Hub, order_id: int) -> bool:
    async with hub.database().session() as session:
        return await session.scalar(select(OrderRow.fulfilment_status).where(OrderRow.id == order_id)) == "shipped"


async def ship(hub: Hub, delivery_order_id: int, *, actor: str) -> ShipOutcome:
    """Record that a packed delivery order left: a shipment per order (told to its channel), the
    parcels and the delivery order ``shipped``. Every parcel needs its waybill. An order of a merged
    delivery order that a person already shipped by hand is left out (nothing of it is left).
    Shipping a shipped delivery order again answers its shipments (``repeated``)."""
    async with hub.database().transaction() as session:
        row = await _own(session, delivery_order_id)
        parcels = list((await session.execute(select(ParcelRow).where(
            ParcelRow.delivery_order_id == row.id, ParcelRow.status.not_in(GONE)).order_by(ParcelRow.seq))).scalars())
        if row.status == "shipped":
            return ShipOutcome(row.id, sorted({p.shipment_id for p in parcels if p.shipment_id}), repeated=True)
        if row.status != "packed":
            raise StateConflict(f"delivery order {row.id} ({row.code}) is {row.status}; pack it before shipping"
                                if row.status in PICKABLE else
                                f"delivery order {row.id} ({row.code}) is {row.status}; it cannot be shipped")
        if not parcels:
            raise StateConflict(f"delivery order {row.id} ({row.code}) is packed but has no parcel; pack it again")
        waiting = [p for p in parcels if p.status not in (*WITH_WAYBILL, "shipped") or not p.waybill_number]
        if waiting:
            states = ", ".join(f"parcel {p.seq} {p.status}" for p in waiting)
            raise StateConflict(f"delivery order {row.id} ({row.code}) has parcels without a waybill ({states}); "
                                "ship it once every waybill is issued")
        lines = list((await session.execute(select(DeliveryLineRow).where(
            DeliveryLineRow.delivery_order_id == row.id).order_by(DeliveryLineRow.id))).scalars())
        by_order = _parcels_by_order(row, lines, parcels)
        warehouse, parcel_ids = row.warehouse, [p.id for p in parcels]
        # An after-sale case's goods sent again: its order shipped long ago and is not shipped or
        # confirmed again; the case is told the parcel instead (``aftersale_deliveries``).
        replacement = aftersale_deliveries.aftersale_of(row.data)
        if replacement is not None:
            by_order = {}

    shipment_ids: list[int] = []
    shipment_of: dict[str, int] = {}
    by_hand: list[int] = []
    for order_id, order_parcels in sorted(by_order.items()):
        try:
            recorded = await shipments.record_shipment(hub, order_id, order_parcels, warehouse=warehouse, actor=actor,
                                                       delivery_order_id=delivery_order_id)
        except (shipments.ShipmentRefused, BadInputError) as exc:
            if len(by_order) > 1 and await _fully_shipped(hub, order_id):
                by_hand.append(order_id)  # a merged order a person shipped by hand: nothing of it left here
                continue
            if isinstance(exc, BadInputError):
                raise
            raise StateConflict(str(exc)) from exc
        shipment_ids.append(recorded.shipment.id)
        for parcel in order_parcels:
            shipment_of.setdefault(parcel.tracking_number, recorded.shipment.id)

    if by_hand and not shipment_ids:
        raise StateConflict(f"delivery order {delivery_order_id}: every order in it was shipped by hand "
                            f"({', '.join(map(str, by_hand))}); it is being cancelled")
    async with hub.database().transaction() as session:
        row = await _own(session, delivery_order_id)
        if row.status != "shipped":
            await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == row.id).values(
                status="shipped", shipped_at=utcnow(), updated_at=utcnow(),
                data={**(row.data or {}), "shipped_by": actor}))
            session.add(_event(row.order_id, "warehouse_shipped", actor, {
                "delivery_order_id": row.id, "shipments": shipment_ids, "shipped_by_hand": by_hand}))
            if replacement is not None:
                aftersale_deliveries.replacement_shipped(session, row.id, row.data, [
                    (p.courier_code, str(p.waybill_number)) for p in parcels], actor)
        for parcel_row in (await session.execute(select(ParcelRow).where(ParcelRow.id.in_(parcel_ids)))).scalars():
            await session.execute(update(ParcelRow).where(ParcelRow.id == parcel_row.id).values(
                status="shipped", shipment_id=shipment_of.get(str(parcel_row.waybill_number)), updated_at=utcnow()))
    log.info("warehouse.shipped", delivery_order_id=delivery_order_id, shipments=shipment_ids, by=actor)
    return ShipOutcome(delivery_order_id, shipment_ids)
