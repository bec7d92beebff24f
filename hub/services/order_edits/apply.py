"""Putting an edit on the stored order: its data and columns (notes, address, province, the seller
flag, lines and total, the status for a cancellation), one version step, and an ``order_events``
row holding before/after/who/why — all in the caller's transaction. Not for deciding whether the
edit is allowed (``changes``) or telling the platform (``writeback``).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.orders import OrderStatus
from hub.db.tables import OrderEditRow, OrderEventRow, OrderLineRow, OrderRow, utcnow
from hub.errors import ConflictError
from hub.services.order_edits.changes import Change


async def apply_change(session: AsyncSession, order: OrderRow, edit: OrderEditRow, change: Change, *, actor: str,
                       cause: str) -> int:
    """Store ``change`` on ``order`` (whose version must still be the one loaded); returns the new version."""
    edited = change.order
    values: dict[str, Any] = {
        "data": edited.model_dump(mode="json"), "version": order.version + 1, "updated_at": utcnow(),
        "total_amount": edited.total.amount, "status": edited.status.value,
        "province": edited.shipping_address.province if edited.shipping_address else None}
    if change.flag is not None:
        values["seller_flag"] = change.flag
    done = await session.execute(update(OrderRow).where(OrderRow.id == order.id, OrderRow.version == order.version)
                                 .values(**values).execution_options(synchronize_session=False))
    if not getattr(done, "rowcount", 0):
        raise ConflictError(f"order {order.id} changed while the edit was being applied; reload it and try again")
    lines = [{"k_order": order.id, "k_line": line.external_id, "k_quantity": line.quantity,
              "k_price": line.unit_price.amount} for line in edited.lines]
    if edit.kind in ("price", "quantity"):
        table = cast(Table, OrderLineRow.__table__)
        await session.execute(table.update().where(
            table.c.order_id == bindparam("k_order"), table.c.external_id == bindparam("k_line"))
            .values(quantity=bindparam("k_quantity"), unit_price=bindparam("k_price")), lines)
    new_status = edited.status.value if edited.status.value != order.status else None
    session.add(OrderEventRow(
        order_id=order.id, at=utcnow(), kind="cancelled_by_merchant" if edit.kind == "cancel" else "edited",
        old_status=order.status if new_status else None, new_status=new_status, cause=cause, actor=actor[:100],
        detail={"edit_id": edit.id, "kind": edit.kind, "before": edit.before, "after": edit.after,
                "reason": edit.reason}))
    return order.version + 1


def cancels(change: Change) -> bool:
    """Whether ``change`` cancels the order (its stock goes back after the commit)."""
    return change.order.status is OrderStatus.CANCELLED
