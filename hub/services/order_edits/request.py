"""Asking for an edit of an order: check it (the order within the caller's shops, the version the
person saw, the state and the values), record it, and either apply it at once or — for the kinds
``[order_edits] approval_kinds`` names (money changes) — leave it waiting in the approval queue.
An applied edit is then written back (``writeback``) and a cancellation gives back the order's
stock and stops its fulfilment (``order_flow``). Asking twice with one idempotency key records
one edit. Not for deciding approvals (``approvals``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import select

from contracts.order_edits import OrderEditKind, OrderEditValues
from contracts.orders import OrderStatus
from hub.db.tables import OrderEditRow, OrderRow, utcnow
from hub.errors import ConflictError
from hub.services.access.scope import ShopLimited
from hub.services.order_edits import changes, records, writeback
from hub.services.order_edits.apply import apply_change, cancels
from hub.services.order_edits.records import APPLIED, NOT_NEEDED, PENDING, PENDING_APPROVAL, EditView
from hub.services.orders import stored_order

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class EditAsk:
    """One edit a person asks for. ``version``: the order's version their page showed."""

    kind: OrderEditKind
    values: OrderEditValues
    reason: str
    version: int
    key: str | None = None


def needs_approval(hub: Any, kind: OrderEditKind) -> bool:
    return kind.value in hub.config.order_edits.approval_kinds


async def record_edit(hub: Any, session: Any, order: OrderRow, ask: EditAsk, *, actor: str, cause: str,
                      approved: bool = False) -> tuple[OrderEditRow, bool]:
    """Check and record ``ask`` on ``order`` (loaded in ``session``, the caller's transaction); apply it
    unless it must wait for an approval. Returns (the edit, whether it cancelled the order)."""
    if ask.version != order.version:
        raise ConflictError(f"order {order.id} changed since version {ask.version} (it is at version "
                            f"{order.version} now); reload it and edit again")
    change = changes.work_out(stored_order(order), order.fulfilment_status, order.seller_flag, ask.kind, ask.values,
                              note_max=hub.config.order_edits.note_max_chars)
    waits = needs_approval(hub, ask.kind) and not approved
    edit = OrderEditRow(order_id=order.id, shop=order.shop, kind=ask.kind.value, before=change.before,
                        after=change.after, reason=ask.reason.strip()[:changes.REASON_MAX], requested_by=actor[:100],
                        requested_at=utcnow(), status=PENDING_APPROVAL if waits else APPLIED,
                        writeback=NOT_NEEDED if waits else writeback.writeback_state(hub, order.platform, order.shop,
                                                                                      ask.kind),
                        attempts=0, idempotency_key=(ask.key or uuid.uuid4().hex)[:100], order_version=order.version)
    session.add(edit)
    await session.flush()
    if waits:
        return edit, False
    await apply_change(session, order, edit, change, actor=actor, cause=cause)
    return edit, cancels(change)


async def after_commit(hub: Any, edit_id: int, order_id: int, *, cancelled: bool, was: str | None,
                       write: bool) -> None:
    """Once the edit committed: a cancelled order gives back its stock and its holds (as a channel's
    cancellation does), and the write-back goes out (the person waits for its first try)."""
    if cancelled:
        from hub.services import order_flow

        await order_flow.after_order_change(hub, order_id, was, OrderStatus.CANCELLED, "manual")
    if write:
        await writeback.deliver(hub, edit_id)


async def request_edit(hub: Any, order_id: int, ask: EditAsk, *, actor: str, principal: ShopLimited | None,
                       pii: bool = False, cause: str = "api") -> EditView:
    """Record (and apply, unless it waits for an approval) one edit; returns it as it stands after
    its first write-back try. ``NotFoundError`` for an order the caller may not see,
    ``ConflictError`` for a stale version or a state that refuses the kind, ``BadInputError``
    naming the field for a bad value."""
    async with hub.database().transaction() as session:
        if ask.key:
            found = (await session.execute(select(OrderEditRow).where(
                OrderEditRow.idempotency_key == ask.key))).scalar_one_or_none()
            if found is not None:
                if found.order_id != order_id:
                    raise ConflictError(f"idempotency key {ask.key!r} was used for another order's edit")
                records.check_shop(principal, found.shop, f"order {order_id}")
                return records.view(found, pii=pii)
        order = await records.load_order(session, order_id, principal, lock=True)
        was = order.status
        edit, cancelled = await record_edit(hub, session, order, ask, actor=actor, cause=cause)
        edit_id, write = edit.id, edit.writeback == PENDING
    log.info("order_edit.recorded", edit_id=edit_id, order_id=order_id, kind=ask.kind.value, status=edit.status)
    await after_commit(hub, edit_id, order_id, cancelled=cancelled, was=was, write=write)
    async with hub.database().session() as session:
        return records.view(await records.load_edit(session, edit_id, None), pii=pii)
