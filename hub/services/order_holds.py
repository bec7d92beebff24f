"""Holds for many orders at once: what ``orders.add_hold`` does for one, set-based.

The follow-up of a batch of order changes (audit rules, stock short, unknown SKUs) puts holds on
many orders in one transaction; this writes them in a number of statements that does not grow
with the batch: the holds inserted together (ignored when open already), a released hold due
again re-opened, the orders flagged and their history written together. Inside the caller's
transaction. Not for releasing holds (``orders.release_hold`` / ``orders.release_holds``) nor for
deciding which holds an order gets (``order_flow``, ``stock.effects``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.fulfilment import Hold
from hub.db.returning import returning_many
from hub.db.tables import OrderEventRow, OrderHoldRow, OrderRow
from hub.db.upsert import insert_ignore


async def add_holds(session: AsyncSession, holds: Sequence[tuple[int, Hold]], *, cause: str,
                    actor: str | None = None) -> list[tuple[int, str]]:
    """Put each ``(order id, hold)`` on its order, idempotent per order and code as
    ``orders.add_hold``; returns the (order id, code) pairs that are new or re-opened."""
    wanted: dict[tuple[int, str], Hold] = {}
    for order_id, hold in holds:
        wanted.setdefault((order_id, hold.code), hold)
    if not wanted:
        return []
    now = datetime.now(UTC)
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    table = OrderHoldRow.__table__
    inserted = await returning_many(
        session, insert_ignore(table, dialect).returning(table.c.order_id, table.c.code),
        [{"order_id": o, "code": code, "reason": hold.reason, "created_at": now} for (o, code), hold in wanted.items()])
    new = {(int(o), str(c)) for o, c in inserted}
    rest = [pair for pair in wanted if pair not in new]
    if rest:
        released = (await session.execute(select(OrderHoldRow.order_id, OrderHoldRow.code).where(
            tuple_(OrderHoldRow.order_id, OrderHoldRow.code).in_(rest), OrderHoldRow.released_at.is_not(None)))).all()
        for order_id, code in released:  # a hold lifted before and due again: rare, one by one
            reopened = await session.execute(
                update(OrderHoldRow)
                .where(OrderHoldRow.order_id == order_id, OrderHoldRow.code == code,
                       OrderHoldRow.released_at.is_not(None))
                .values(released_at=None, released_by=None, reason=wanted[(order_id, code)].reason)
                .execution_options(synchronize_session=False))
            if getattr(reopened, "rowcount", 0):
                new.add((int(order_id), str(code)))
    if not new:
        return []
    added = sorted(new)
    await session.execute(update(OrderRow).where(OrderRow.id.in_({o for o, _ in added})).values(on_hold=True)
                          .execution_options(synchronize_session=False))
    await session.execute(insert(OrderEventRow), [
        {"order_id": o, "at": now, "kind": "hold_added", "old_status": None, "new_status": None, "cause": cause,
         "actor": actor, "inbox_id": None, "detail": {"code": code, "reason": wanted[(o, code)].reason}}
        for o, code in added])
    return added
