"""Rows for merge, split and interception tests: stored orders of a buyer (approved or not),
delivery orders with their lines, and parcels, inserted straight into the tables.

``await approved_order(session, buyer="b1", street="...")`` stores a paid order as the order
service would and marks it approved; ``await delivery_order(session, {order_id: [line ids]})``
a delivery order in a given status; ``await parcel(session, do_id, order_id)`` an issued parcel.
Not a fake of the delivery or waybill steps: their functions are replaced by the tests.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import Address, Buyer
from hub.db.tables import DeliveryLineRow, DeliveryOrderRow, OrderLineRow, OrderRow, ParcelRow
from hub.services import orders
from hub.testing.factories import make_order

_seq = itertools.count(1)


def address(street: str = "文一西路969号", **fields: Any) -> Address:
    values: dict[str, Any] = {"name": "张三", "phone": "13812345678", "province": "浙江省", "city": "杭州市",
                              "district": "余杭区", "street": street}
    values.update(fields)
    return Address(**values)


async def approved_order(session: AsyncSession, *, shop: str = "shop-a", platform: str = "taobao",
                         buyer: str | None = "buyer-1", street: str = "文一西路969号",
                         lines: list[tuple[str, int]] | None = None, approved: bool = True,
                         ship_to: Address | None = None, **overrides: Any) -> int:
    """A paid order stored by the order service, approved by review unless ``approved=False``."""
    order = make_order(shop=shop, platform=platform, lines=lines,
                       buyer=Buyer(nick=buyer, platform_buyer_id=buyer) if buyer else Buyer(),
                       shipping_address=ship_to or address(street), **overrides)
    result = await orders.apply_order(session, order, cause="poll")
    if approved:
        await session.execute(update(OrderRow).where(OrderRow.id == result.order_id).values(
            review_status="approved", reviewed_at=datetime.now(UTC)))
    return result.order_id


async def order_rows(session: AsyncSession, order_ids: list[int]) -> list[OrderRow]:
    rows = (await session.execute(select(OrderRow).where(OrderRow.id.in_(order_ids)).order_by(OrderRow.id)
                                  .execution_options(populate_existing=True))).scalars().all()
    return list(rows)


async def line_ids(session: AsyncSession, order_id: int) -> list[str]:
    """The order's line external ids, in order."""
    return list((await session.execute(select(OrderLineRow.external_id).where(
        OrderLineRow.order_id == order_id).order_by(OrderLineRow.id))).scalars())


async def delivery_order(session: AsyncSession, lines: dict[int, list[str]] | list[int], *, status: str = "sent",
                         kind: str = "wms", warehouse: str = "wh1") -> int:
    """A delivery order holding ``lines`` ({order id: [line external ids]}, or order ids for all
    their lines), in ``status``; the order's fulfilment moves to sent_to_warehouse."""
    if isinstance(lines, list):
        lines = {oid: await line_ids(session, oid) for oid in lines}
    first = min(lines)
    inserted = await session.execute(insert(DeliveryOrderRow).values(
        code=f"DO-TEST-{next(_seq)}", order_id=first, warehouse=warehouse, kind=kind, status=status, data={},
        created_at=datetime.now(UTC)).returning(DeliveryOrderRow.id))
    do_id = int(inserted.scalar_one())
    await session.execute(insert(DeliveryLineRow), [
        {"delivery_order_id": do_id, "order_id": oid, "line_external_id": ext, "merchant_sku": None, "quantity": 1}
        for oid, exts in lines.items() for ext in exts])
    for oid in lines:
        await orders.set_fulfilment_status(session, oid, "sent_to_warehouse", cause="system")
    return do_id


async def parcel(session: AsyncSession, delivery_order_id: int | None, order_id: int, *, status: str = "issued",
                 courier: str = "SF") -> int:
    n = next(_seq)
    inserted = await session.execute(insert(ParcelRow).values(
        key=f"parcel-test-{n}", delivery_order_id=delivery_order_id, order_id=order_id, courier_code=courier,
        waybill_number=f"WB{n:08d}", status=status, print_data={}, created_at=datetime.now(UTC))
        .returning(ParcelRow.id))
    return int(inserted.scalar_one())
