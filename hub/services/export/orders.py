"""The orders list and its lines as export rows: the same ``OrderFilters`` and query the orders
API and screen use (``hub.api.queries.orders``), limited to the caller's shops, read by id in
chunks. The recipient's name, phone and street are masked (``contracts.privacy``, as
``Order.masked()`` does) unless the export reveals personal data; region fields stay.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import select

from contracts.orders import OrderStatus
from contracts.privacy import mask_name, mask_phone, mask_text
from hub.api.queries.orders import OrderFilters, _filtered
from hub.db.tables import OrderLineRow, OrderRow
from hub.errors import BadInputError
from hub.services.access.scope import shop_condition
from hub.services.export.cells import joined, when
from hub.services.export.chunks import keyset_chunks
from hub.services.export.spec import Cell, ExportContext, ExportList

ORDER_HEADER = (
    "id", "platform", "shop", "order_no", "status", "fulfilment", "on_hold", "paid_at", "created_at", "total",
    "currency", "buyer_nick", "recipient_name", "phone", "province", "city", "district", "street", "seller_note",
    "tags", "priority",
)
LINE_HEADER = (
    "order_id", "platform", "shop", "order_no", "status", "line_no", "sku", "title", "quantity", "unit_price",
    "currency",
)


def check_orders(filters: OrderFilters) -> None:
    """Refuse a status no order has (a typo would otherwise export nothing, silently)."""
    known = {s.value for s in OrderStatus}
    for status in filters.status:
        if status not in known:
            raise BadInputError(f"status {status!r} is not one of {', '.join(sorted(known))}", field="query.status")


def _address(part: str) -> Any:
    return OrderRow.data["shipping_address"][part].as_string()


#: What an orders row reads: the columns, and from ``orders.data`` only the address parts and the
#: note (extracted by the database, so no row's whole canonical order is decoded here).
_ORDER_COLUMNS = (
    OrderRow.id, OrderRow.platform, OrderRow.shop, OrderRow.external_id, OrderRow.status,
    OrderRow.fulfilment_status, OrderRow.on_hold, OrderRow.paid_at, OrderRow.channel_created_at,
    OrderRow.total_amount, OrderRow.currency, OrderRow.buyer_nick, _address("name").label("recipient_name"),
    _address("phone").label("phone"), _address("province").label("province"), _address("city").label("city"),
    _address("district").label("district"), _address("street").label("street"),
    OrderRow.data["seller_note"].as_string().label("seller_note"), OrderRow.tags, OrderRow.priority,
)
_LINE_ORDER_COLUMNS = (OrderRow.id, OrderRow.platform, OrderRow.shop, OrderRow.external_id, OrderRow.status,
                       OrderRow.currency)


def _statement(context: ExportContext, filters: OrderFilters, columns: tuple[Any, ...]) -> Any:
    return (_filtered(filters, context.database.dialect).where(shop_condition(OrderRow.shop, context.principal))
            .with_only_columns(*columns))


async def _order_chunks(context: ExportContext, filters: OrderFilters,
                        columns: tuple[Any, ...]) -> AsyncIterator[Sequence[Any]]:
    async for chunk in keyset_chunks(context.database, _statement(context, filters, columns), OrderRow.id,
                                     size=context.chunk_rows, key=lambda row: row.id):
        yield chunk


def _recipient(row: Any, reveal: bool) -> tuple[str | None, ...]:
    name, phone, street = row.recipient_name, row.phone, row.street
    if not reveal:
        name, phone, street = mask_name(name), mask_phone(phone), mask_text(street)
    return name, phone, row.province, row.city, row.district, street


def order_cells(row: Any, context: ExportContext) -> list[Cell]:
    return [
        row.id, row.platform, row.shop, row.external_id, row.status, row.fulfilment_status, row.on_hold,
        when(row.paid_at, context.zone), when(row.channel_created_at, context.zone), row.total_amount,
        row.currency, row.buyer_nick, *_recipient(row, context.reveal), row.seller_note, joined(row.tags),
        row.priority,
    ]


async def order_rows(context: ExportContext, filters: OrderFilters) -> AsyncIterator[list[Cell]]:
    async for chunk in _order_chunks(context, filters, _ORDER_COLUMNS):
        for row in chunk:
            yield order_cells(row, context)


async def line_rows(context: ExportContext, filters: OrderFilters) -> AsyncIterator[list[Cell]]:
    """One row per order line, orders by id and lines in their order; one query per chunk of orders."""
    async for chunk in _order_chunks(context, filters, _LINE_ORDER_COLUMNS):
        orders = {row.id: row for row in chunk}
        async with context.database.session() as session:
            lines = (await session.execute(select(OrderLineRow).where(OrderLineRow.order_id.in_(list(orders)))
                                           .order_by(OrderLineRow.order_id, OrderLineRow.id))).scalars().all()
        for line in lines:
            order = orders[line.order_id]
            yield [order.id, order.platform, order.shop, order.external_id, order.status, line.external_id,
                   line.merchant_sku, line.title, line.quantity, line.unit_price, order.currency]


ORDERS = ExportList(name="orders", filters=OrderFilters, header=ORDER_HEADER, rows=order_rows,
                    read_permission="orders.read", check=check_orders, personal=True)
LINES = ExportList(name="lines", filters=OrderFilters, header=LINE_HEADER, rows=line_rows,
                   read_permission="orders.read", check=check_orders)
