"""Which of a batch's orders the caller may act on: the rest are answered "not found", as one by one.

Not for what a role may do (the action's permission, checked before a batch starts).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import OrderRow
from hub.services.access.scope import shop_condition
from hub.services.batch.registry import ItemOutcome

if TYPE_CHECKING:
    from hub.api.auth import Principal


async def orders_in_sight(session: AsyncSession, ids: Sequence[int], principal: Principal) -> dict[int, OrderRow]:
    """The orders of ``ids`` that exist in the caller's shops (one query)."""
    if not ids:
        return {}
    rows = (await session.execute(select(OrderRow).where(
        OrderRow.id.in_(sorted(set(ids))), shop_condition(OrderRow.shop, principal)))).scalars().all()
    return {row.id: row for row in rows}


def not_found(ids: Iterable[int], seen: Iterable[int], what: str = "order") -> dict[int, ItemOutcome]:
    """"<what> N does not exist" for each id not in ``seen`` (unknown, or another shop's)."""
    known = set(seen)
    return {i: ItemOutcome(False, f"{what} {i} does not exist") for i in ids if i not in known}
