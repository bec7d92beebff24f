"""What a WMS tells the hub through its callbacks: a delivery order shipped (Qimen
``deliveryorder.confirm``) and stock that changed in its warehouse (``stockchange.report``).

``apply_confirmation`` turns a confirmation into parcels (one per package, by courier and
waybill), a shipment per order of the delivery order (``shipments.record_shipment``, which tells
the channel) and the delivery order's new status; ``apply_stock_changes`` puts each reported
change through the stock ledger (``adjustments.adjust_stock``) once per WMS dedupe key. Both are
idempotent: the same callback again changes nothing. Not for verifying or answering the callback
(``hub.api.routes.fulfilment_warehouse``) nor for the XML (the connector's ``parse_warehouse_push``).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.inventory import StockChange, StockChangeCause
from contracts.shipments import Parcel, ParcelItem, canonical_courier_code
from hub.context import Hub
from hub.db.tables import DeliveryLineRow, DeliveryOrderRow, OrderLineRow, ParcelRow, ShipmentRow, utcnow
from hub.db.upsert import insert_ignore
from hub.errors import NotFoundError
from hub.services.fulfilment import aftersale_deliveries, shipments
from hub.services.stock import adjustments

log = structlog.get_logger(__name__)

#: Confirmation statuses (``WarehouseOrderStatus`` values) that mean goods left the warehouse.
SHIPPED_STATUSES = frozenset({"shipped", "partially_shipped"})
#: How many confirmation dedupe keys a delivery order remembers (a WMS confirms a few times at most).
MAX_REMEMBERED = 50


def actor_of(warehouse: str) -> str:
    """Who a WMS callback's changes are attributed to."""
    return f"wms:{warehouse}"


@dataclass
class ConfirmOutcome:
    delivery_order_id: int
    status: str
    shipment_ids: list[int] = field(default_factory=list)
    parcel_ids: list[int] = field(default_factory=list)
    repeated: bool = False


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def locked_delivery_order(session: AsyncSession, *, code: str | None = None,
                                delivery_order_id: int | None = None) -> DeliveryOrderRow | None:
    """The delivery order (by code or id), locked for update on PostgreSQL."""
    stmt = select(DeliveryOrderRow).execution_options(populate_existing=True)
    stmt = stmt.where(DeliveryOrderRow.code == code) if code is not None else stmt.where(
        DeliveryOrderRow.id == delivery_order_id)
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def parcel_key(code: str, courier_code: str, waybill: str) -> str:
    """A parcel's unique key for a package a WMS reported (the hub asked for no waybill)."""
    digest = hashlib.sha256(f"{code}\x00{courier_code}\x00{waybill}".encode()).hexdigest()[:40]
    return f"wms-{digest}"


@dataclass(frozen=True)
class _Line:
    order_id: int
    line_external_id: str
    merchant_sku: str | None
    quantity: int


async def remaining_lines(session: AsyncSession, delivery_order_id: int) -> list[_Line]:
    """The delivery order's lines with the units of each not shipped yet (over all the orders'
    shipments), in line order; lines with nothing left are dropped."""
    lines = list((await session.execute(select(DeliveryLineRow).where(
        DeliveryLineRow.delivery_order_id == delivery_order_id).order_by(DeliveryLineRow.id))).scalars())
    order_ids = sorted({line.order_id for line in lines})
    shipped: dict[int, Counter[str]] = {}
    ordered: dict[tuple[int, str], int] = {}
    for order_id in order_ids:
        rows = list((await session.execute(select(ShipmentRow).where(ShipmentRow.order_id == order_id))).scalars())
        shipped[order_id] = shipments.shipped_quantities(rows)
    for row in (await session.execute(select(OrderLineRow).where(OrderLineRow.order_id.in_(order_ids)))).scalars():
        ordered[(row.order_id, row.external_id)] = row.quantity
    left = []
    for line in lines:
        of_order = ordered.get((line.order_id, line.line_external_id), line.quantity)
        done = shipped[line.order_id][line.line_external_id]
        qty = min(line.quantity, max(0, of_order - done))
        if qty > 0:
            left.append(_Line(line.order_id, line.line_external_id, line.merchant_sku, qty))
    return left


def _allocate(left: list[_Line], sku: str, quantity: int, taken: Counter[tuple[int, str]]
              ) -> list[tuple[_Line, int]]:
    """Spread ``quantity`` units of ``sku`` over the lines that still have some, in order."""
    out = []
    for line in left:
        if quantity <= 0:
            break
        if line.merchant_sku != sku:
            continue
        free = line.quantity - taken[(line.order_id, line.line_external_id)]
        if free <= 0:
            continue
        n = min(free, quantity)
        taken[(line.order_id, line.line_external_id)] += n
        out.append((line, n))
        quantity -= n
    return out


def parcels_by_order(confirmation: Any, left: list[_Line]) -> dict[int, list[Parcel]]:
    """Each order's parcels in this confirmation, items matched to the delivery order's lines by
    SKU. Packages that list no items: the confirmation's ``orderLines`` (by line number, then SKU)
    or, without those, every unshipped line, go in the first package."""
    taken: Counter[tuple[int, str]] = Counter()
    items_of: list[list[tuple[_Line, int]]] = [[] for _ in confirmation.packages]
    if any(p.items for p in confirmation.packages):
        for i, package in enumerate(confirmation.packages):
            for item in package.items:
                items_of[i] += _allocate(left, item.item_code, item.quantity, taken)
    elif confirmation.packages:
        by_no = {line.line_external_id: line for line in left}
        for confirmed in confirmation.lines:
            line = by_no.get(confirmed.order_line_no)
            if line is not None and line.merchant_sku in (confirmed.item_code, None, ""):
                n = min(confirmed.actual_qty, line.quantity - taken[(line.order_id, line.line_external_id)])
                if n > 0:
                    taken[(line.order_id, line.line_external_id)] += n
                    items_of[0].append((line, n))
            else:
                items_of[0] += _allocate(left, confirmed.item_code, confirmed.actual_qty, taken)
        if not confirmation.lines:
            items_of[0] = [(line, line.quantity) for line in left]
    result: dict[int, list[Parcel]] = {}
    for package, items in zip(confirmation.packages, items_of, strict=True):
        per_order: dict[int, list[ParcelItem]] = {}
        for line, n in items:
            per_order.setdefault(line.order_id, []).append(ParcelItem(
                line_external_id=line.line_external_id, merchant_sku=line.merchant_sku, quantity=n))
        for order_id, parcel_items in per_order.items():
            result.setdefault(order_id, []).append(Parcel(
                courier_code=canonical_courier_code(package.logistics_code), tracking_number=package.express_code,
                weight_grams=getattr(package, "weight_grams", None), items=parcel_items))
    return result


async def apply_confirmation(hub: Hub, warehouse: str, confirmation: Any) -> ConfirmOutcome:
    """Record a ``deliveryorder.confirm`` (a parsed ``DeliveryOrderConfirmation``) of ``warehouse``.

    Raises ``NotFoundError`` when no delivery order of that warehouse has the code (nothing is
    stored), ``shipments.ShipmentRefused`` / ``BadInputError`` from the shipment. A confirmation
    whose dedupe key (``outBizCode``) was applied before changes nothing (``repeated``).
    """
    code = confirmation.delivery_order_code
    dedupe = confirmation.dedupe_key
    actor = actor_of(warehouse)
    async with hub.database().transaction() as session:
        row = await locked_delivery_order(session, code=code)
        if row is None or row.warehouse != warehouse:
            raise NotFoundError(f"warehouse {warehouse!r} has no delivery order {code!r}")
        if dedupe in (row.data or {}).get("confirmations", []):
            return ConfirmOutcome(row.id, row.status, repeated=True)
        delivery_order_id = row.id
        left = await remaining_lines(session, row.id)
        by_order = parcels_by_order(confirmation, left) if confirmation.status.value in SHIPPED_STATUSES else {}
        parcel_ids = await _upsert_parcels(session, row, confirmation) if by_order or confirmation.packages else []
        # An after-sale case's goods sent again: no shipment of its (long shipped) order, no second
        # confirmation to the channel; the case is told the parcel instead (``aftersale_deliveries``).
        replacement = aftersale_deliveries.aftersale_of(row.data)
        replacement_left = replacement is not None and bool(by_order)
        if replacement is not None:
            by_order = {}

    shipment_ids: list[int] = []
    for order_id, parcels in sorted(by_order.items()):
        recorded = await shipments.record_shipment(
            hub, order_id, parcels, warehouse=warehouse, shipped_at=confirmation.confirmed_at, actor=actor,
            delivery_order_id=delivery_order_id)
        shipment_ids.append(recorded.shipment.id)

    async with hub.database().transaction() as session:
        row = await locked_delivery_order(session, delivery_order_id=delivery_order_id)
        assert row is not None  # deleted only with its order, which a shipment keeps
        data = dict(row.data or {})
        data["confirmations"] = ([*data.get("confirmations", []), dedupe])[-MAX_REMEMBERED:]
        data["wms_status"] = confirmation.raw_status
        values: dict[str, Any] = {"data": data, "updated_at": utcnow()}
        if confirmation.delivery_order_id and not row.warehouse_order_id:
            values["warehouse_order_id"] = confirmation.delivery_order_id
        new_status = _new_status(row.status, confirmation)
        if new_status is not None:
            values["status"] = new_status
            if new_status == "shipped":
                values["shipped_at"] = confirmation.confirmed_at or utcnow()
        if confirmation.status.value in ("exception", "rejected"):
            values["last_error"] = f"the WMS reported {confirmation.raw_status}"
        await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == row.id).values(**values))
        for parcel_id, shipment_id in _link(parcel_ids, confirmation, by_order, shipment_ids):
            await session.execute(update(ParcelRow).where(ParcelRow.id == parcel_id).values(
                shipment_id=shipment_id, status="shipped", updated_at=utcnow()))
        if replacement_left:
            await session.execute(update(ParcelRow).where(ParcelRow.id.in_(parcel_ids)).values(
                status="shipped", updated_at=utcnow()))
            aftersale_deliveries.replacement_shipped(session, row.id, row.data, [
                (canonical_courier_code(p.logistics_code), p.express_code) for p in confirmation.packages], actor)
        status = values.get("status", row.status)
    log.info("wms.delivery_confirmed", warehouse=warehouse, delivery_order_id=delivery_order_id,
             status=status, final=confirmation.final, shipments=shipment_ids, parcels=len(parcel_ids))
    return ConfirmOutcome(delivery_order_id, status, shipment_ids, parcel_ids)


def _new_status(current: str, confirmation: Any) -> str | None:
    """The delivery order's status after ``confirmation``: shipped once a final confirmation says
    everything left (an intermediate one, ``confirmType`` 1, or PARTDELIVERED leaves it open)."""
    status = confirmation.status.value
    if current in ("shipped", "cancelled"):
        return None
    if status == "shipped" and confirmation.final:
        return "shipped"
    if status in SHIPPED_STATUSES:
        return "picking" if current in ("pending", "sent") else None
    if status == "cancelled":
        return "cancelled"
    if status in ("exception", "rejected"):
        return "failed"
    return None


async def _upsert_parcels(session: AsyncSession, row: DeliveryOrderRow, confirmation: Any) -> list[int]:
    """One parcel per package, upserted by (courier, waybill); ids in package order."""
    ids = []
    seq = int(await session.scalar(select(ParcelRow.seq).where(ParcelRow.delivery_order_id == row.id)
                                   .order_by(ParcelRow.seq.desc()).limit(1)) or 0)
    for package in confirmation.packages:
        courier = canonical_courier_code(package.logistics_code)
        waybill = package.express_code
        weight = getattr(package, "weight_grams", None)
        seq += 1
        await session.execute(insert_ignore(ParcelRow, _dialect(session)).values(
            key=parcel_key(row.code, courier, waybill), delivery_order_id=row.id, order_id=row.order_id, seq=seq,
            courier_code=courier, waybill_number=waybill, status="issued", print_data={}, weight_grams=weight,
            attempts=0, created_at=utcnow()))
        parcel = (await session.execute(select(ParcelRow).where(
            ParcelRow.courier_code == courier, ParcelRow.waybill_number == waybill))).scalar_one()
        values: dict[str, Any] = {"updated_at": utcnow()}
        if parcel.delivery_order_id is None:
            values["delivery_order_id"] = row.id
        if weight is not None:
            values["weight_grams"] = weight
        await session.execute(update(ParcelRow).where(ParcelRow.id == parcel.id).values(**values))
        ids.append(parcel.id)
    return ids


def _link(parcel_ids: list[int], confirmation: Any, by_order: dict[int, list[Parcel]],
          shipment_ids: list[int]) -> list[tuple[int, int]]:
    """(parcel id, shipment id) for every package that went into a shipment."""
    shipment_of: dict[str, int] = {}
    for (_, parcels), shipment_id in zip(sorted(by_order.items()), shipment_ids, strict=True):
        for parcel in parcels:
            shipment_of.setdefault(parcel.tracking_number, shipment_id)
    return [(pid, shipment_of[package.express_code])
            for pid, package in zip(parcel_ids, confirmation.packages, strict=True)
            if package.express_code in shipment_of]


# --------------------------------------------------------------------------- stock reports


@dataclass
class StockOutcome:
    applied: int = 0
    repeated: int = 0
    on_hand_delta: int = 0


def _stock_key(warehouse: str, change: StockChange) -> str:
    """The ledger's idempotency key of one reported change: the WMS's ``outBizCode``; a report
    without one is keyed by what it says (order type and code, SKU, quantity)."""
    reference = change.reference or f"{change.note or ''}:{change.merchant_sku}:{change.delta}"
    digest = hashlib.sha256(reference.encode()).hexdigest()[:32]
    return f"wms.stock:{warehouse}:{digest}"


async def apply_stock_changes(hub: Hub, warehouse: str, changes: list[StockChange]) -> StockOutcome:
    """Put each reported change through the stock ledger (cause ``warehouse_report``, reference the
    WMS's ``outBizCode``), each at most once per warehouse and reference.

    Raises ``BadInputError`` naming the item (unknown SKU, on hand below what is reserved): the
    changes before it stay applied, and the WMS sending the report again applies only the rest.
    """
    outcome = StockOutcome()
    actor = actor_of(warehouse)
    for index, change in enumerate(changes):
        adjustment = adjustments.Adjustment(warehouse=warehouse, merchant_sku=change.merchant_sku, delta=change.delta,
                                            note=change.note)
        report = await adjustments.adjust_stock(
            hub, [adjustment], actor=actor, cause=StockChangeCause.WAREHOUSE_REPORT, reference=change.reference,
            labels=[f"items.item[{index}]"], idempotency_key=_stock_key(warehouse, change))
        if report.repeated:
            outcome.repeated += 1
        else:
            outcome.applied += 1
            outcome.on_hand_delta += report.on_hand_delta
    log.info("wms.stock_reported", warehouse=warehouse, applied=outcome.applied, repeated=outcome.repeated)
    return outcome
