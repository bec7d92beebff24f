"""The order-edit record: its states, loading an order or an edit within the caller's shops, and
the edit as people see it (personal data masked for roles that may not read it). Not for
changing anything (``request``, ``apply``, ``approvals``, ``writeback``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.orders import Address
from hub.db.tables import OrderEditRow, OrderRow
from hub.errors import NotFoundError
from hub.services.access.scope import ShopLimited, check_shop

# status
APPLIED, PENDING_APPROVAL, APPROVED, REJECTED, CANCELLED = (
    "applied", "pending_approval", "approved", "rejected", "cancelled")
STATUSES = (APPLIED, PENDING_APPROVAL, APPROVED, REJECTED, CANCELLED)
# writeback
NOT_NEEDED, PENDING, SENT, FAILED, LOCAL_ONLY = "not_needed", "pending", "sent", "failed", "local_only"
WRITEBACKS = (NOT_NEEDED, PENDING, SENT, FAILED, LOCAL_ONLY)


@dataclass(frozen=True)
class EditView:
    """One edit as the API, the CLI and the console show it."""

    id: int
    order_id: int
    shop: str
    kind: str
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str
    requested_by: str
    requested_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    writeback: str
    writeback_error: str | None
    attempts: int
    idempotency_key: str
    order_version: int


def _masked(values: dict[str, Any]) -> dict[str, Any]:
    address = values.get("address")
    if not isinstance(address, dict):
        return dict(values)
    return {**values, "address": Address.model_validate(address).masked().model_dump(mode="json")}


def view(row: OrderEditRow, *, pii: bool) -> EditView:
    """``row`` for people; the address masked unless ``pii`` (``orders.read_pii``)."""
    before, after = dict(row.before or {}), dict(row.after or {})
    if not pii:
        before, after = _masked(before), _masked(after)
    return EditView(id=row.id, order_id=row.order_id, shop=row.shop, kind=row.kind, before=before, after=after,
                    reason=row.reason, requested_by=row.requested_by, requested_at=row.requested_at,
                    status=row.status, decided_by=row.decided_by, decided_at=row.decided_at,
                    decision_note=row.decision_note, writeback=row.writeback, writeback_error=row.writeback_error,
                    attempts=row.attempts, idempotency_key=row.idempotency_key, order_version=row.order_version)


async def _load(session: AsyncSession, model: Any, row_id: int, principal: ShopLimited | None, what: str,
                lock: bool) -> Any:
    """The ``model`` row ``row_id`` (locked when asked), or ``NotFoundError`` naming ``what`` when it
    does not exist or belongs to a shop the caller may not see."""
    query = select(model).where(model.id == row_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"{what} does not exist")
    check_shop(principal, row.shop, what)
    return row


async def load_order(session: AsyncSession, order_id: int, principal: ShopLimited | None, *,
                     lock: bool = False) -> OrderRow:
    """The order, or ``NotFoundError`` when it does not exist or belongs to a shop the caller may not see."""
    row: OrderRow = await _load(session, OrderRow, order_id, principal, f"order {order_id}", lock)
    return row


async def load_edit(session: AsyncSession, edit_id: int, principal: ShopLimited | None, *,
                    lock: bool = False) -> OrderEditRow:
    """The edit, or ``NotFoundError`` (also for another shop's edit)."""
    row: OrderEditRow = await _load(session, OrderEditRow, edit_id, principal, f"order edit {edit_id}", lock)
    return row
