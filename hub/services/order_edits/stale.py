"""Withdrawing the money changes an order outgrew: a price or quantity edit waiting for approval
can only be applied while its order waits for payment, so once the order is paid (or cancelled)
the edit is set ``cancelled`` (shown as "withdrawn") by ``system`` with a note saying why, and the
order's history gets an ``edit_withdrawn`` entry. Set-based: one UPDATE (… RETURNING) for every
stale edit and one INSERT for their history, whatever their number; running it again changes
nothing more. Run by the periodic job in ``hub.pipeline.order_edits``. Not for people's
decisions (``approvals``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.orders import OrderStatus
from hub.db.tables import OrderEditRow, OrderEventRow, OrderRow, utcnow
from hub.services.order_edits.changes import BEFORE_PAYMENT_KINDS
from hub.services.order_edits.records import CANCELLED, PENDING_APPROVAL

log = structlog.get_logger(__name__)

#: Who withdraws them (``decided_by``, the history entry's actor).
ACTOR = "system"
PAID_NOTE = ("withdrawn by the hub: the order was paid before approval, and prices and quantities change only "
             "while it waits for payment")
CANCELLED_NOTE = "withdrawn by the hub: the order was cancelled before approval"
#: The console's words for each note (stored in English, shown in the reader's language).
NOTE_WORDS = {PAID_NOTE: "edits.withdrawn_paid", CANCELLED_NOTE: "edits.withdrawn_cancelled"}


async def withdraw_stale(session: AsyncSession, *, at: datetime | None = None) -> list[int]:
    """Withdraw, in the caller's transaction, every price or quantity edit waiting for approval
    whose order no longer waits for payment; returns their ids (none on a second run)."""
    at = at or utcnow()
    order_status = select(OrderRow.status).where(OrderRow.id == OrderEditRow.order_id).scalar_subquery()
    withdrawn = (await session.execute(
        update(OrderEditRow)
        .where(OrderEditRow.status == PENDING_APPROVAL,
               OrderEditRow.kind.in_(sorted(kind.value for kind in BEFORE_PAYMENT_KINDS)),
               order_status != OrderStatus.PENDING_PAYMENT.value)
        .values(status=CANCELLED, decided_by=ACTOR, decided_at=at,
                decision_note=case((order_status == OrderStatus.CANCELLED.value, CANCELLED_NOTE), else_=PAID_NOTE))
        .returning(OrderEditRow.id, OrderEditRow.order_id, OrderEditRow.kind, OrderEditRow.decision_note)
        .execution_options(synchronize_session=False))).all()
    if withdrawn:
        await session.execute(insert(OrderEventRow), [
            dict(order_id=order_id, at=at, kind="edit_withdrawn", cause="system", actor=ACTOR,
                 detail={"edit_id": edit_id, "kind": kind, "note": note})
            for edit_id, order_id, kind, note in withdrawn])
    return sorted(edit_id for edit_id, _, _, _ in withdrawn)


async def withdraw_stale_edits(hub: Any) -> int:
    """``withdraw_stale`` in a transaction of its own; returns how many edits it withdrew."""
    async with hub.database().transaction() as session:
        ids = await withdraw_stale(session)
    if ids:
        log.info("order_edit.withdrawn", count=len(ids), edit_ids=ids[:50])
    return len(ids)
