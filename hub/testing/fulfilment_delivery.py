"""Test helpers for routing and delivery orders: a merchant's warehouses (a Qimen WMS sandbox and
an own warehouse), approved orders stored as the review leaves them, and stock per warehouse.

Used by the delivery step's integration, end-to-end and browser tests. Not for production.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from contracts.orders import Order
from hub.context import Hub
from hub.db.tables import DeliveryOrderRow, OrderRow, OutboxRow
from hub.services import orders
from hub.services.fulfilment import flow
from hub.services.stock import adjustments, skus
from hub.testing.factories import make_order


def warehouses_config(wms_settings: dict[str, Any] | None, *, wms_regions: list[str] | None = None,
                      own_regions: list[str] | None = None) -> dict[str, Any]:
    """``[warehouses]``: ``wms-hz`` (Qimen, priority 10) when ``wms_settings`` are given, and
    ``own`` (the hub's own, priority 20) with a sender address."""
    out: dict[str, Any] = {}
    if wms_settings is not None:
        out["wms-hz"] = {"platform": "qimen", "priority": 10, "settings": wms_settings,
                         "regions": wms_regions or []}
    out["own"] = {"platform": "manual", "priority": 20, "regions": own_regions or [],
                  "address": {"name": "Own warehouse", "phone": "0571-00000000", "province": "浙江省",
                              "city": "杭州市", "district": "余杭区", "street": "仓前街道 1 号"}}
    return out


COURIERS = {"sf": {"platform": "kuaidi100_label", "courier_code": "SF"}}


async def approved_order(hub: Hub, order: Order) -> int:
    """Store ``order`` (paid) and mark it approved, as the review would; returns its id."""
    async with hub.database().transaction() as session:
        result = await orders.apply_order(session, order, cause="poll")
        await session.execute(update(OrderRow).where(OrderRow.id == result.order_id)
                              .values(review_status="approved"))
    return result.order_id


async def stock(hub: Hub, levels: dict[tuple[str, str], int]) -> None:
    """Set on hand per (warehouse, SKU), defining the SKUs."""
    async with hub.database().transaction() as session:
        for sku in sorted({s for _, s in levels}):
            await skus.define_sku(session, sku)
    await adjustments.adjust_stock(hub, [adjustments.Adjustment(warehouse=wh, merchant_sku=sku, on_hand=n)
                                         for (wh, sku), n in levels.items()], actor="test")


async def delivery_orders_of(hub: Hub, order_id: int) -> list[DeliveryOrderRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(DeliveryOrderRow).where(DeliveryOrderRow.order_id == order_id)
                                           .order_by(DeliveryOrderRow.id))).scalars())


async def outbox_args(hub: Hub, actor: str) -> list[list[Any]]:
    """The first argument of every outbox row written for ``actor``, oldest first."""
    async with hub.database().session() as session:
        rows = (await session.execute(select(OutboxRow).where(OutboxRow.actor == actor)
                                      .order_by(OutboxRow.id))).scalars()
        return [next(iter(r.args)) for r in rows]


def order_to(province: str, lines: list[tuple[str, int]]) -> Any:
    """A paid order of ``lines`` to an address in ``province``."""
    base = make_order(lines=lines)
    assert base.shipping_address is not None
    return base.model_copy(update={"shipping_address": base.shipping_address.model_copy(
        update={"province": province})})


async def routed(hub: Hub, province: str, lines: list[tuple[str, int]]) -> tuple[int, DeliveryOrderRow]:
    """An approved order to ``province``, routed by the flow into its one delivery order."""
    order_id = await approved_order(hub, order_to(province, lines))
    await flow.fulfil_orders(hub, [order_id])
    [do] = await delivery_orders_of(hub, order_id)
    return order_id, do
