"""One SKU's recent stock movements, newest first, from the stock ledger (every change of on hand
or reserved with its cause, reference, actor and note). Not for writes, nor for the levels
themselves (``hub.services.stock.levels.stock_of``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import StockLedgerRow


class Movement(BaseModel):
    id: int
    at: datetime
    warehouse: str | None
    on_hand_delta: int
    reserved_delta: int
    cause: str
    reference: str | None
    actor: str | None
    note: str | None


async def recent_movements(session: AsyncSession, merchant_sku: str, *, limit: int = 20,
                           before: int | None = None) -> list[Movement]:
    """The SKU's ledger rows, newest first; ``before`` (a movement id) pages further back."""
    stmt = select(StockLedgerRow).where(StockLedgerRow.merchant_sku == merchant_sku)
    if before is not None:
        stmt = stmt.where(StockLedgerRow.id < before)
    rows = (await session.execute(stmt.order_by(StockLedgerRow.id.desc()).limit(limit))).scalars()
    return [Movement(id=r.id, at=r.at, warehouse=r.warehouse, on_hand_delta=r.on_hand_delta,
                     reserved_delta=r.reserved_delta, cause=r.cause, reference=r.reference, actor=r.actor,
                     note=r.note) for r in rows]
