"""Stock as export rows: one row per warehouse × SKU with on hand, reserved and available there
(on hand − reserved; the catalogue-wide figure with safety stock is the stock screen's), filtered
by SKU prefix (as the stock screen's search) and warehouse. Warehouses belong to no shop, so a
shop-limited caller sees the same rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select

from hub.db.tables import StockRow
from hub.services.export.chunks import keyset_chunks
from hub.services.export.spec import Cell, ExportContext, ExportList

HEADER = ("warehouse", "sku", "on_hand", "reserved", "available")


@dataclass(frozen=True)
class StockFilter:
    """``prefix``: SKUs starting with this; ``warehouse``: only this warehouse."""

    prefix: str | None = None
    warehouse: str | None = None


async def stock_rows(context: ExportContext, flt: StockFilter) -> AsyncIterator[list[Cell]]:
    stmt = select(StockRow)
    if flt.prefix:
        stmt = stmt.where(StockRow.merchant_sku.startswith(flt.prefix, autoescape=True))
    if flt.warehouse:
        stmt = stmt.where(StockRow.warehouse == flt.warehouse)
    async for chunk in keyset_chunks(context.database, stmt, StockRow.id, size=context.chunk_rows):
        for (row,) in chunk:
            yield [row.warehouse, row.merchant_sku, row.on_hand, row.reserved, row.on_hand - row.reserved]


STOCK = ExportList(name="stock", filters=StockFilter, header=HEADER, rows=stock_rows, read_permission="stock.read")
