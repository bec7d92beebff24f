"""The after-sales list as export rows: the list's own ``CaseFilter`` and conditions
(``hub.services.aftersales.queries``; query parameters as ``GET /api/v1/aftersales`` names them:
``status``, ``type``, ``open``…), limited to the caller's shops, by id in chunks. Cases carry no
buyer's contact details here; nothing is masked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import select

from hub.db.tables import AfterSaleRow
from hub.services.access.scope import shop_condition
from hub.services.aftersales import queries
from hub.services.export.cells import when
from hub.services.export.chunks import keyset_chunks
from hub.services.export.spec import Cell, ExportContext, ExportList

HEADER = (
    "id", "platform", "shop", "case_no", "order_id", "order_no", "type", "status", "platform_status",
    "refund_amount", "currency", "reason", "applied_at", "deadline", "received", "resolution", "decided_by",
    "updated_at",
)


async def case_rows(context: ExportContext, flt: queries.CaseFilter) -> AsyncIterator[list[Cell]]:
    stmt = queries._filtered(select(AfterSaleRow), flt).where(shop_condition(AfterSaleRow.shop, context.principal))
    async for chunk in keyset_chunks(context.database, stmt, AfterSaleRow.id, size=context.chunk_rows):
        for (row,) in chunk:
            yield [row.id, row.platform, row.shop, row.external_id, row.order_id, row.order_external_id, row.type,
                   row.status, row.raw_status, row.refund_amount, row.currency, row.reason,
                   when(row.applied_at, context.zone), when(row.deadline, context.zone), row.received,
                   row.resolution, row.decided_by, when(row.updated_at, context.zone)]


AFTERSALES = ExportList(
    name="aftersales", filters=queries.CaseFilter, header=HEADER, rows=case_rows, read_permission="orders.read",
    aliases={"status": "statuses", "type": "types", "open": "open_only"}, check=queries.check_filter,
)
