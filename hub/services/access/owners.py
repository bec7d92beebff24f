"""Which shop owns an object a write names, and the check that a shop-limited caller may touch it.

A write route names its object by id (an order, a delivery order, a parcel, a fulfilment
exception, a merge, an after-sale case, a service order); before acting it calls
``await ensure_owned(hub, principal, kind, ids)``, which answers "not found" when any of them
belongs to a shop the caller may not see, exactly as if it did not exist. One set-based query
per call, and none at all for a caller limited to no shops (the usual case). Ids that do not
exist are left for the route to report as it always did. Not for lists (``scope.shop_condition``)
nor for roles (``hub.api.auth``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import false, select, true

from hub.db.tables import (
    AfterSaleRow,
    DeliveryOrderRow,
    FulfilmentExceptionRow,
    FulfilmentPlanRow,
    OrderRow,
    ParcelRow,
    ServiceOrderRow,
    ShipmentRow,
)
from hub.errors import NotFoundError
from hub.services.access.scope import ShopLimited, shops_of

if TYPE_CHECKING:
    from hub.context import Hub

Kind = Literal["order", "delivery_order", "parcel", "exception", "merge", "aftersale", "service_order", "shipment"]

#: What each kind is called in the "does not exist" answer.
_WHAT: dict[str, str] = {
    "order": "order", "delivery_order": "delivery order", "parcel": "parcel", "exception": "exception",
    "merge": "merge", "aftersale": "after-sale case", "service_order": "service order", "shipment": "shipment",
}


def _owner_query(kind: Kind, ids: list[Any]) -> Any:
    """SELECT (id, shop) for ``ids`` of ``kind``."""
    if kind == "order":
        return select(OrderRow.id, OrderRow.shop).where(OrderRow.id.in_(ids))
    if kind == "aftersale":
        return select(AfterSaleRow.id, AfterSaleRow.shop).where(AfterSaleRow.id.in_(ids))
    if kind == "service_order":
        return select(ServiceOrderRow.id, ServiceOrderRow.shop).where(ServiceOrderRow.id.in_(ids))
    table: Any = {"delivery_order": DeliveryOrderRow, "parcel": ParcelRow, "exception": FulfilmentExceptionRow,
                  "merge": FulfilmentPlanRow, "shipment": ShipmentRow}[kind]
    key = table.merge_id if kind == "merge" else table.id
    return select(key, OrderRow.shop).join(OrderRow, OrderRow.id == table.order_id).where(key.in_(ids))


async def ensure_owned(hub: Hub, principal: ShopLimited | None, kind: Kind, ids: Iterable[Any]) -> None:
    """``NotFoundError`` when any of ``ids`` (of ``kind``) belongs to a shop outside the caller's shops."""
    shops = shops_of(principal)
    wanted = list(dict.fromkeys(ids))
    if shops is None or not wanted:
        return
    async with hub.database().session() as session:
        rows = (await session.execute(_owner_query(kind, wanted))).all()
    for object_id, shop in rows:
        if shop not in shops:
            raise NotFoundError(f"{_WHAT[kind]} {object_id} does not exist")


async def sees_order(hub: Hub, principal: ShopLimited | None, order_id: int) -> bool:
    """Whether the caller may see order ``order_id`` (True for an unknown id: the caller says so)."""
    try:
        await ensure_owned(hub, principal, "order", [order_id])
    except NotFoundError:
        return False
    return True


def of_orders_in(order_id_column: Any, shops: frozenset[str] | None) -> Any:
    """A WHERE condition for lists of things that belong to an order (delivery orders, parcels,
    exceptions): keep those whose order is of ``shops`` (always true for None, every shop)."""
    if shops is None:
        return true()
    if not shops:
        return false()
    return order_id_column.in_(select(OrderRow.id).where(OrderRow.shop.in_(sorted(shops))))


def ensure_shop_named(principal: ShopLimited | None, shop: str) -> None:
    """``NotFoundError`` for a route naming a shop outside the caller's shops (no such shop, to them)."""
    shops = shops_of(principal)
    if shops is not None and shop not in shops:
        raise NotFoundError(f"no shop named {shop!r}")
