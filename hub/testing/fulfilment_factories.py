"""Test rows for the fulfilment steps, inserted directly: a paid order, a delivery order with its
lines (``own`` or ``wms``), and its parcels with or without a waybill — what the delivery and
waybill steps would have written. Not for production code.
"""

from __future__ import annotations

from sqlalchemy import update

from contracts import Order, OrderStatus
from hub.context import Hub
from hub.db.tables import DeliveryLineRow, DeliveryOrderRow, ParcelRow, utcnow
from hub.services import orders
from hub.testing.factories import make_order


async def paid_order(hub: Hub, *, platform: str, shop: str, lines: list[tuple[str, int]]) -> tuple[int, Order]:
    """A paid order stored directly (no workers: nothing reserves or holds it)."""
    order = make_order(platform=platform, shop=shop, status=OrderStatus.PAID, lines=lines)
    async with hub.database().transaction() as session:
        result = await orders.apply_order(session, order, cause="test")
    return result.order_id, order


async def delivery_order(hub: Hub, order_id: int, order: Order, *, code: str, warehouse: str, kind: str = "own",
                         status: str = "sent", courier_code: str | None = "sf") -> int:
    """A delivery order of every line of ``order``; its id."""
    async with hub.database().transaction() as session:
        row = DeliveryOrderRow(code=code, order_id=order_id, warehouse=warehouse, kind=kind, status=status,
                               courier_code=courier_code, data={}, attempts=0, created_by="test",
                               created_at=utcnow(), sent_at=utcnow())
        session.add(row)
        await session.flush()
        for line in order.lines:
            session.add(DeliveryLineRow(delivery_order_id=row.id, order_id=order_id, line_external_id=line.external_id,
                                        merchant_sku=line.merchant_sku, quantity=line.quantity))
        return int(row.id)


async def parcel(hub: Hub, delivery_order_id: int, order_id: int, *, seq: int = 1, courier_code: str = "sf",
                 waybill_number: str | None = None, key: str | None = None) -> int:
    """A parcel of the delivery order: pending without ``waybill_number``, issued with one."""
    async with hub.database().transaction() as session:
        row = ParcelRow(key=key or f"test-{delivery_order_id}-{seq}", delivery_order_id=delivery_order_id,
                        order_id=order_id, seq=seq, courier_code=courier_code, courier_account="test-courier",
                        waybill_number=waybill_number, status="issued" if waybill_number else "pending",
                        print_data={}, attempts=0, created_at=utcnow())
        session.add(row)
        await session.flush()
        return int(row.id)


async def issue_waybill(hub: Hub, parcel_id: int, waybill_number: str) -> None:
    """What the waybill step does for a pending parcel: its waybill, status issued."""
    async with hub.database().transaction() as session:
        await session.execute(update(ParcelRow).where(ParcelRow.id == parcel_id).values(
            waybill_number=waybill_number, status="issued", updated_at=utcnow()))
