"""Returned goods back into stock, through the ledger: units that came back good go on hand in
the warehouse the order shipped from, damaged units to the defective location
(``[aftersales] defective_warehouse``), which is never counted as sellable. Once per case: a
case whose goods were received is not received again. Not for the decision itself (``decisions``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.services.aftersales.decisions import LineQuality


async def receive_goods(session: AsyncSession, config: Any, case_id: int, quality: Sequence[LineQuality], *,
                        actor: str | None) -> list[dict[str, Any]]:
    """Record the goods of ``case_id`` as back (``quality`` per line; empty: all good) and move
    the stock, in the caller's transaction; returns the stock movements
    (``{"sku", "warehouse", "quantity", "condition"}``). Marks the SKUs' shops dirty."""
    raise NotImplementedError
