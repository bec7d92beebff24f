"""Triage by hand: an order's priority (−9..9, higher first in the work queues) and the manual hold
(code ``manual``) a person puts on orders that must not go on, with a reason.

A manual hold goes through the same hold machinery as the automatic ones (``order_holds``), so
the order stops exactly like a stock-short or audit hold and is released the same way
(``hub.services.orders.release_hold``, attributed, with a reason in the history). Each change is
written to the order's history. In the caller's transaction; callers limit the ids to the shops
the person may see (``visible_orders``). Not for tags (``hub.services.search.tags``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.fulfilment import Hold
from hub.db.tables import OrderEventRow, OrderRow
from hub.errors import BadInputError
from hub.services.access.scope import ShopLimited, shop_condition
from hub.services.order_holds import add_holds

MANUAL_HOLD = "manual"
MIN_PRIORITY, MAX_PRIORITY = -9, 9


def check_priority(priority: int, field: str = "priority") -> int:
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise BadInputError(f"priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}", field=field)
    return priority


def check_reason(reason: str | None, field: str = "reason") -> str:
    value = (reason or "").strip()
    if not value:
        raise BadInputError("a reason is required", field=field)
    if len(value) > 500:
        raise BadInputError("at most 500 characters", field=field)
    return value


async def visible_orders(session: AsyncSession, order_ids: Sequence[int], principal: ShopLimited | None) -> set[int]:
    """The ids among ``order_ids`` that exist in a shop ``principal`` may see (one query)."""
    if not order_ids:
        return set()
    return {int(i) for i in (await session.execute(select(OrderRow.id).where(
        OrderRow.id.in_(sorted(set(order_ids))), shop_condition(OrderRow.shop, principal)))).scalars()}


async def set_priority(session: AsyncSession, order_ids: Sequence[int], priority: int, *, actor: str,
                       reason: str | None = None, cause: str = "api") -> list[int]:
    """Give each order ``priority``; returns those whose priority changed (history says from → to)."""
    check_priority(priority)
    ids = sorted(set(order_ids))
    if not ids:
        return []
    before = {int(i): int(p) for i, p in (await session.execute(select(OrderRow.id, OrderRow.priority).where(
        OrderRow.id.in_(ids), OrderRow.priority != priority))).all()}
    if not before:
        return []
    changed = sorted(int(i) for i in before)
    await session.execute(update(OrderRow).where(OrderRow.id.in_(changed)).values(priority=priority)
                          .execution_options(synchronize_session=False))
    now = datetime.now(UTC)
    await session.execute(insert(OrderEventRow), [
        {"order_id": o, "at": now, "kind": "priority_changed", "old_status": None, "new_status": None,
         "cause": cause, "actor": actor, "inbox_id": None,
         "detail": {"from": int(before[o]), "to": priority, **({"reason": reason} if reason else {})}}
        for o in changed])
    return changed


async def hold_orders(session: AsyncSession, order_ids: Sequence[int], *, reason: str, actor: str,
                      cause: str = "api") -> list[int]:
    """Put the ``manual`` hold on each order; returns those newly held (or held again)."""
    hold = Hold(code=MANUAL_HOLD, reason=check_reason(reason))
    added = await add_holds(session, [(o, hold) for o in sorted(set(order_ids))], cause=cause, actor=actor)
    return [o for o, _ in added]
