"""Service orders as export rows: the list's ``ServiceFilter`` and conditions
(``hub.services.service_orders.queries``; ``status``, ``type``, ``technician``, ``region``, ``shop``,
``due_before``, ``overdue``, ``q``), limited to the caller's shops, by id in chunks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from hub.db.tables import ServiceOrderRow
from hub.services.access.scope import shop_condition
from hub.services.export.cells import when
from hub.services.export.chunks import keyset_chunks
from hub.services.export.spec import Cell, ExportContext, ExportList
from hub.services.service_orders import queries

HEADER = (
    "id", "platform", "shop", "work_order_no", "order_no", "type", "status", "origin", "sku", "product",
    "quantity", "province", "city", "district", "technician_code", "technician", "appointment_start",
    "appointment_end", "due_at", "due_milestone", "sla_state", "created_at",
)


async def service_rows(context: ExportContext, flt: queries.ServiceFilter) -> AsyncIterator[list[Cell]]:
    now = context.now or datetime.now(UTC)
    stmt = (queries._summary_select().where(*queries._conditions(flt, now))
            .where(shop_condition(ServiceOrderRow.shop, context.principal)))
    zone = context.zone
    async for chunk in keyset_chunks(context.database, stmt, ServiceOrderRow.id, size=context.chunk_rows):
        for row, order_no, code, name in chunk:
            yield [row.id, row.platform, row.shop, row.external_id, order_no, row.type, row.status, row.origin,
                   row.merchant_sku, row.product_title, row.quantity, row.region_province, row.region_city,
                   row.region_district, code, name, when(row.appointment_start, zone),
                   when(row.appointment_end, zone), when(row.due_at, zone), row.due_milestone, row.sla_state,
                   when(row.created_at, zone)]


SERVICE_ORDERS = ExportList(
    name="service-orders", filters=queries.ServiceFilter, header=HEADER, rows=service_rows,
    read_permission="orders.read", skip=frozenset({"limit", "offset"}), check=queries.check_filter,
)
