"""The approval queue: money changes (``[order_edits] approval_kinds``, price and quantity by
default) wait in ``pending_approval`` until someone with ``orders.approve`` approves — the edit is
then applied to the order as it was asked for, or refused if the order moved on — or rejects it.
Nobody approves their own edit. Each id gets its own outcome (one refused edit does not undo the
others). Not for asking for edits (``request``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.order_edits import OrderEditKind
from hub.db.tables import OrderEditRow, OrderRow, utcnow
from hub.errors import BadInputError, ConflictError, NotFoundError
from hub.services.access.scope import ShopLimited, check_shop, shop_condition
from hub.services.order_edits import changes, writeback
from hub.services.order_edits.apply import apply_change
from hub.services.order_edits.records import APPROVED, PENDING, PENDING_APPROVAL, REJECTED
from hub.services.orders import stored_order

NOTE_MAX = 500


@dataclass(frozen=True)
class Outcome:
    """What became of one edit: ``ok``, or refused with ``message``."""

    ok: bool
    message: str = ""


@dataclass
class Decisions:
    """Per-id outcomes, and the approved edits whose write-back goes out after the commit."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)
    to_send: list[int] = field(default_factory=list)


def _decided(edit: OrderEditRow, status: str, actor: str, note: str | None) -> None:
    edit.status, edit.decided_by, edit.decided_at, edit.decision_note = status, actor[:100], utcnow(), note


async def _decide_one(session: AsyncSession, hub: Any, edit: OrderEditRow, *, approve: bool, actor: str,
                      note: str | None, decisions: Decisions) -> Outcome:
    if edit.status != PENDING_APPROVAL:
        return Outcome(False, f"edit {edit.id} is {edit.status}, not waiting for approval")
    if approve and edit.requested_by == actor:
        return Outcome(False, f"edit {edit.id} was asked for by you: someone else approves it")
    if not approve:
        _decided(edit, REJECTED, actor, note)
        return Outcome(True, "rejected")
    order = (await session.execute(select(OrderRow).where(OrderRow.id == edit.order_id).with_for_update()
                                   .execution_options(populate_existing=True))).scalar_one()
    if order.version != edit.order_version:
        return Outcome(False, f"order {order.id} changed since edit {edit.id} was asked for (version "
                              f"{edit.order_version}, now {order.version}): reject it and ask again")
    from hub.services.order_edits.writeback import values_of

    try:
        change = changes.work_out(stored_order(order), order.fulfilment_status, order.seller_flag,
                                  OrderEditKind(edit.kind), values_of(edit.kind, dict(edit.after or {}), edit.reason),
                                  note_max=hub.config.order_edits.note_max_chars)
    except (ConflictError, BadInputError) as exc:
        return Outcome(False, str(exc))
    _decided(edit, APPROVED, actor, note)
    edit.writeback = writeback.writeback_state(hub, order.platform, order.shop, OrderEditKind(edit.kind))
    await session.flush()
    await apply_change(session, order, edit, change, actor=actor, cause="approval")
    if edit.writeback == PENDING:
        decisions.to_send.append(edit.id)
    return Outcome(True, "approved")


async def decide_edits(session: AsyncSession, hub: Any, edit_ids: Sequence[int], *, approve: bool, actor: str,
                       note: str | None, principal: ShopLimited | None) -> Decisions:
    """Approve or reject the edits ``edit_ids`` in the caller's transaction; another shop's edit
    is "not found". Send ``to_send`` (``writeback.deliver``) once the transaction committed."""
    if note is not None and len(note) > NOTE_MAX:
        raise BadInputError(f"note: at most {NOTE_MAX} characters", field="note")
    if not approve and not (note or "").strip():
        raise BadInputError("note: say why the edit is rejected", field="note")
    rows = {row.id: row for row in (await session.execute(
        select(OrderEditRow).where(OrderEditRow.id.in_(set(edit_ids))).with_for_update()
        .execution_options(populate_existing=True))).scalars()}
    decisions = Decisions()
    for edit_id in edit_ids:
        row = rows.get(edit_id)
        try:
            if row is None:
                raise NotFoundError(f"order edit {edit_id} does not exist")
            check_shop(principal, row.shop, f"order edit {edit_id}")
        except NotFoundError as exc:
            decisions.outcomes[edit_id] = Outcome(False, str(exc))
            continue
        decisions.outcomes[edit_id] = await _decide_one(session, hub, row, approve=approve, actor=actor, note=note,
                                                        decisions=decisions)
    return decisions


async def queue(session: AsyncSession, principal: ShopLimited | None, *, status: str = PENDING_APPROVAL,
                limit: int = 200) -> list[OrderEditRow]:
    """The edits in ``status`` (default: waiting for approval), oldest first, within the caller's shops."""
    return list((await session.execute(select(OrderEditRow).where(
        OrderEditRow.status == status, shop_condition(OrderEditRow.shop, principal))
        .order_by(OrderEditRow.id).limit(limit))).scalars())


async def decide(hub: Any, edit_ids: Sequence[int], *, approve: bool, actor: str, note: str | None,
                 principal: ShopLimited | None) -> dict[int, Outcome]:
    """``decide_edits`` in a transaction of its own, then the approved edits' write-back."""
    async with hub.database().transaction() as session:
        decisions = await decide_edits(session, hub, edit_ids, approve=approve, actor=actor, note=note,
                                       principal=principal)
    for edit_id in decisions.to_send:
        await writeback.deliver(hub, edit_id)
    return decisions.outcomes
