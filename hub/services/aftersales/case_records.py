"""What the decision modules share about one stored case: reading it (row, contract copy, lines),
where each decision leads, and writing its history and a status the hub moved itself.

Reads the ``aftersales`` row and ``aftersale_lines`` directly; a case stored before lines had rows
(old intake) gets its lines from ``data["lines"]`` (positions from 1), and a case that names no
lines at all stands for every line of its order. Not for intake (``intake``) nor for lists
(``queries``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.aftersales import AfterSale, AfterSaleAction, AfterSaleStatus, aftersale_can_move
from hub.db import outbox
from hub.db.tables import AfterSaleEventRow, AfterSaleLineRow, AfterSaleRow, OrderLineRow
from hub.db.upsert import insert_ignore
from hub.errors import NotFoundError

#: Where each decision takes the case when the hub moves it itself (recorded only, or a platform
#: that took the decision without reporting the case back). A platform's report wins over this.
LEADS_TO: dict[AfterSaleAction, AfterSaleStatus] = {
    AfterSaleAction.APPROVE_REFUND: AfterSaleStatus.REFUNDING,
    AfterSaleAction.REFUSE: AfterSaleStatus.REJECTED,
    AfterSaleAction.AGREE_RETURN: AfterSaleStatus.AWAITING_RETURN,
    AfterSaleAction.CONFIRM_RETURN: AfterSaleStatus.REFUNDING,
    AfterSaleAction.REFUSE_RETURN: AfterSaleStatus.REJECTED,
    AfterSaleAction.AGREE_EXCHANGE: AfterSaleStatus.AWAITING_RETURN,
    AfterSaleAction.RECEIVE_EXCHANGE: AfterSaleStatus.RETURNED,
    AfterSaleAction.SHIP_EXCHANGE: AfterSaleStatus.REPLACEMENT_SHIPPED,
    AfterSaleAction.REISSUE: AfterSaleStatus.APPROVED,
}


@dataclass(frozen=True)
class LineQuality:
    """How the goods of one case line came back: ``good`` go back on hand, ``damaged`` to the
    defective location."""

    position: int
    good: int = 0
    damaged: int = 0


@dataclass(frozen=True)
class CaseLineRef:
    """One line of a case as the decisions need it."""

    position: int
    order_line_id: int | None
    line_external_id: str | None
    merchant_sku: str | None
    quantity: int
    refund_amount: Decimal | None
    #: False: built from ``data["lines"]`` or the order's lines; no ``aftersale_lines`` row yet.
    stored: bool = True


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def now() -> datetime:
    return datetime.now(UTC)


async def load_case(session: AsyncSession, case_id: int, *, lock: bool = False) -> AfterSaleRow:
    """The case row (locked for update on PostgreSQL with ``lock``); ``NotFoundError`` if none."""
    stmt = select(AfterSaleRow).where(AfterSaleRow.id == case_id).execution_options(populate_existing=True)
    if lock and _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"after-sale case {case_id} does not exist")
    return row


def case_of(row: AfterSaleRow) -> AfterSale:
    """The case as the connector mapped it (``data``), with the status the hub holds now."""
    return AfterSale.model_validate({**(row.data or {}), "status": row.status})


def is_local(row: AfterSaleRow) -> bool:
    """Whether a person opened the case in the hub (``hub.services.aftersales.local_cases``,
    ``extra.local = "true"``): the platform knows nothing of it, so nothing is written back."""
    extra = (row.data or {}).get("extra") or {}
    return str(extra.get("local", "")).lower() == "true"


async def case_lines(session: AsyncSession, row: AfterSaleRow) -> list[CaseLineRef]:
    """The case's lines: stored rows, else ``data["lines"]``, else every line of its order."""
    stored = list((await session.execute(select(AfterSaleLineRow).where(AfterSaleLineRow.aftersale_id == row.id)
                                         .order_by(AfterSaleLineRow.position))).scalars())
    if stored:
        # A platform may name the line but not its SKU (a Tmall exchange carries no outer id): the
        # order line it is linked to says which SKU comes back and goes out again.
        unnamed = [r.order_line_id for r in stored if not r.merchant_sku and r.order_line_id is not None]
        order_skus: dict[int | None, str | None] = dict((await session.execute(
            select(OrderLineRow.id, OrderLineRow.merchant_sku).where(OrderLineRow.id.in_(unnamed)))).tuples().all()
        ) if unnamed else {}
        return [CaseLineRef(r.position, r.order_line_id, r.line_external_id,
                            r.merchant_sku or order_skus.get(r.order_line_id), r.quantity, r.refund_amount)
                for r in stored]
    order_lines: list[OrderLineRow] = []
    if row.order_id is not None:
        order_lines = list((await session.execute(select(OrderLineRow).where(OrderLineRow.order_id == row.order_id)
                                                  .order_by(OrderLineRow.id))).scalars())
    by_external = {line.external_id: line for line in order_lines}
    by_sku = {line.merchant_sku: line for line in order_lines if line.merchant_sku}
    reported = (row.data or {}).get("lines") or []
    out: list[CaseLineRef] = []
    for i, raw in enumerate(reported, start=1):
        external, sku = raw.get("line_external_id"), raw.get("merchant_sku")
        match = by_external.get(external) if external else None
        match = match or (by_sku.get(sku) if sku else None)
        amount = (raw.get("refund_amount") or {}).get("amount")
        out.append(CaseLineRef(i, match.id if match else None, external or (match.external_id if match else None),
                               sku or (match.merchant_sku if match else None), int(raw.get("quantity", 1)),
                               Decimal(str(amount)) if amount is not None else None, stored=False))
    if out:
        return out
    return [CaseLineRef(i, line.id, line.external_id, line.merchant_sku, line.quantity, None, stored=False)
            for i, line in enumerate(order_lines, start=1)]


async def store_lines(session: AsyncSession, case_id: int, lines: list[CaseLineRef]) -> None:
    """Give lines built from the report their ``aftersale_lines`` rows (ignored where intake wrote them)."""
    for line in lines:
        if line.stored:
            continue
        await session.execute(insert_ignore(AfterSaleLineRow, _dialect(session)).values(
            aftersale_id=case_id, position=line.position, order_line_id=line.order_line_id,
            line_external_id=line.line_external_id, merchant_sku=line.merchant_sku, quantity=line.quantity,
            refund_amount=line.refund_amount, received_good=0, received_damaged=0))


def add_event(session: AsyncSession, case_id: int, kind: str, *, cause: str, actor: str | None,
              old_status: str | None = None, new_status: str | None = None, **detail: Any) -> None:
    """One entry of the case's history."""
    session.add(AfterSaleEventRow(aftersale_id=case_id, at=now(), kind=kind, old_status=old_status,
                                  new_status=new_status, cause=cause, actor=actor, detail=detail))


async def advance(session: AsyncSession, row: AfterSaleRow, status: AfterSaleStatus, *, kind: str, cause: str,
                  actor: str | None, **detail: Any) -> bool:
    """Move the case to ``status`` when that is a forward move (``aftersale_can_move``), with a
    history entry ``kind`` either way; True when the status changed. Tells ``aftersale_changed``."""
    current = AfterSaleStatus(row.status)
    moved = aftersale_can_move(current, status)
    if moved:
        data = {**(row.data or {}), "status": status.value}
        await session.execute(update(AfterSaleRow).where(AfterSaleRow.id == row.id).values(
            status=status.value, data=data, updated_at=now()).execution_options(synchronize_session=False))
        row.status, row.data = status.value, data
        outbox.add(session, "aftersale_changed", row.id, row.order_id, status.value, cause)
    add_event(session, row.id, kind, cause=cause, actor=actor, old_status=current.value,
              new_status=status.value if moved else current.value, **detail)
    return moved
