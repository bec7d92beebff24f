"""After-sale intake: stores refund/return/exchange cases and service work orders as platforms report them.

Upsert by (platform, shop, external id); status moves only forward along the contracts' state
machines. A report of the same status that is *newer* than the stored one (its ``updated_at``
after ``channel_updated_at``) still refreshes the case — a platform extending its reply deadline
or bumping the case's version must reach the hub, or the next write-back carries a stale version
— while an older one is ignored. Every report that changed something leaves one
``aftersale_events`` row (kind ``reported``); the case's lines are kept in ``aftersale_lines``,
linked to the order's lines when the order is known, and replaced when a newer report changes
them. A case stored before its order is linked when the order is stored (``link_orders``, called
by the inbox worker, ``hub.services.ingest``, in the transaction that stores new orders). Stock
consequences (release or restock) are the inventory service's, triggered through the outbox. Not
for fetching from partners.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.aftersales import (
    AfterSale,
    AfterSaleLine,
    AfterSaleStatus,
    aftersale_can_move,
)
from hub.db import bindings, outbox
from hub.db.tables import AfterSaleEventRow, AfterSaleLineRow, AfterSaleRow, OrderLineRow
from hub.db.upsert import insert_ignore

_CASES: Table = AfterSaleRow.__table__  # type: ignore[assignment]
#: The columns a report refreshes besides the status (compared to tell whether a report changed anything).
_REFRESHED = ("raw_status", "deadline", "version", "refund_amount", "currency", "reason")


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind else "sqlite"


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def case_values(case: AfterSale) -> dict[str, Any]:
    """The row values a report sets (everything but the order link)."""
    return {
        "platform": case.ref.platform,
        "shop": case.ref.shop,
        "external_id": case.ref.external_id,
        "order_external_id": case.order_ref.external_id,
        "type": case.type.value,
        "status": case.status.value,
        "raw_status": case.raw_status,
        "channel_updated_at": case.updated_at.astimezone(UTC),
        "data": case.model_dump(mode="json"),
        "applied_at": case.created_at.astimezone(UTC),
        "deadline": _utc(case.deadline),
        "version": case.version,
        "refund_amount": case.refund_amount.amount if case.refund_amount else None,
        "currency": case.refund_amount.currency if case.refund_amount else None,
        "reason": case.reason[:500] if case.reason else None,
    }


async def apply_aftersale(session: AsyncSession, case: AfterSale, *, cause: str) -> tuple[int, bool]:
    """Create, advance or refresh an after-sale case in the caller's transaction; returns (id, changed).

    ``cause`` (push, message_channel, poll, api...) goes to the history row and the follow-up."""
    order_id = await bindings.lookup(session, "order", case.order_ref.platform, case.order_ref.shop,
                                     case.order_ref.external_id)
    values = case_values(case)
    inserted = await session.execute(
        insert_ignore(AfterSaleRow, _dialect(session)).values(**values, order_id=order_id).returning(AfterSaleRow.id)
    )
    new_id = inserted.scalar_one_or_none()
    if new_id is not None:
        await bindings.bind(session, "aftersale", case.ref.platform, case.ref.shop, case.ref.external_id, new_id)
        await store_lines(session, new_id, order_id, case.lines)
        add_event(session, new_id, "reported", old=None, new=case.status.value, cause=cause,
                  detail={"raw_status": case.raw_status})
        outbox.add(session, "aftersale_changed", new_id, order_id, case.status.value, cause)
        await _intercept(session, case, order_id)
        return new_id, True
    stmt = select(AfterSaleRow).where(
        AfterSaleRow.platform == case.ref.platform,
        AfterSaleRow.shop == case.ref.shop,
        AfterSaleRow.external_id == case.ref.external_id,
    )
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()  # concurrent reports of one case are judged one after the other
    row = (await session.execute(stmt)).scalar_one()
    order_id = order_id or row.order_id
    current = AfterSaleStatus(row.status)
    moves = aftersale_can_move(current, case.status)
    newer = case.status is current and values["channel_updated_at"] > row.channel_updated_at
    if not moves and not newer:
        if order_id is not None and row.order_id is None:  # the order arrived meanwhile
            await session.execute(update(AfterSaleRow).where(AfterSaleRow.id == row.id).values(order_id=order_id))
        return row.id, False
    changed = [name for name in _REFRESHED if _differs(getattr(row, name), values[name])]
    if case.lines and await _lines_differ(session, row.id, case.lines):
        changed.append("lines")
        await store_lines(session, row.id, order_id, case.lines, replace=True)
    if not moves and not changed:
        if _same_report(row.data, values["data"]):
            # The same observation again with a later stamp: keep the stamp, no history row.
            await session.execute(update(AfterSaleRow).where(AfterSaleRow.id == row.id).values(
                channel_updated_at=values["channel_updated_at"], data=values["data"], order_id=order_id))
            return row.id, False
        changed.append("details")  # description, evidence, return parcel...: what only ``data`` holds
    refreshed = {k: v for k, v in values.items() if k not in ("platform", "shop", "external_id", "applied_at")}
    # A forward move reported with an older stamp must not let the stamp go back (a later
    # same-status report would then be taken for news).
    refreshed["channel_updated_at"] = max(values["channel_updated_at"], row.channel_updated_at)
    if "deadline" in changed:
        refreshed["alerted_at"] = None  # an alert was for the old deadline; the new one gets its own
    await session.execute(
        update(AfterSaleRow).where(AfterSaleRow.id == row.id, AfterSaleRow.status == current.value)
        .values(**refreshed, order_id=order_id, updated_at=datetime.now(UTC))
    )
    detail: dict[str, Any] = {"raw_status": case.raw_status}
    if changed:
        detail["changed"] = changed
    if "deadline" in changed:
        detail["deadline"] = values["deadline"].isoformat() if values["deadline"] else None
    if "version" in changed:
        detail["version"] = case.version
    add_event(session, row.id, "reported", old=current.value, new=case.status.value, cause=cause, detail=detail)
    if moves:
        outbox.add(session, "aftersale_changed", row.id, order_id, case.status.value, cause)
        await _intercept(session, case, order_id)
    return row.id, True


def _differs(stored: Any, reported: Any) -> bool:
    if isinstance(stored, Decimal) or isinstance(reported, Decimal):
        return (None if stored is None else Decimal(stored)) != (None if reported is None else Decimal(reported))
    return bool(stored != reported)


def _same_report(stored: dict[str, Any], reported: dict[str, Any]) -> bool:
    """Whether two reports say the same apart from their modification time."""
    return {k: v for k, v in stored.items() if k != "updated_at"} == {
        k: v for k, v in reported.items() if k != "updated_at"}


def add_event(session: AsyncSession, case_id: int, kind: str, *, old: str | None, new: str | None, cause: str,
              actor: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Append a row to the case's history (in the caller's transaction)."""
    session.add(AfterSaleEventRow(aftersale_id=case_id, at=datetime.now(UTC), kind=kind, old_status=old,
                                  new_status=new, cause=cause[:50], actor=actor, detail=detail or {}))


def _line_key(line: AfterSaleLine) -> tuple[Any, ...]:
    return (line.line_external_id, line.merchant_sku, line.quantity,
            line.refund_amount.amount if line.refund_amount else None)


async def _lines_differ(session: AsyncSession, case_id: int, lines: Sequence[AfterSaleLine]) -> bool:
    stored = (await session.execute(
        select(AfterSaleLineRow.line_external_id, AfterSaleLineRow.merchant_sku, AfterSaleLineRow.quantity,
               AfterSaleLineRow.refund_amount).where(AfterSaleLineRow.aftersale_id == case_id)
        .order_by(AfterSaleLineRow.position))).all()
    if len(stored) != len(lines):
        return True
    return any(tuple(old[:3]) != _line_key(new)[:3] or _differs(old[3], _line_key(new)[3])
               for old, new in zip(stored, lines, strict=True))


async def store_lines(session: AsyncSession, case_id: int, order_id: int | None, lines: Sequence[AfterSaleLine], *,
                      replace: bool = False) -> None:
    """Write a case's lines, each linked to its order line (by the line's external id, else the
    first line of the merchant SKU) when the order is known. ``replace``: the case had lines; what
    the hub recorded as received on a position is kept."""
    received: dict[int, tuple[int, int]] = {}
    if replace:
        received = {int(p): (int(g), int(d)) for p, g, d in (await session.execute(
            select(AfterSaleLineRow.position, AfterSaleLineRow.received_good, AfterSaleLineRow.received_damaged)
            .where(AfterSaleLineRow.aftersale_id == case_id))).all()}
        await session.execute(delete(AfterSaleLineRow).where(AfterSaleLineRow.aftersale_id == case_id))
    if not lines:
        return
    by_external: dict[str, int] = {}
    by_sku: dict[str, int] = {}
    sku_of: dict[int, str] = {}  # the order line's SKU, for a report that names the line only
    if order_id is not None:
        for line_id, external_id, sku in (await session.execute(
                select(OrderLineRow.id, OrderLineRow.external_id, OrderLineRow.merchant_sku)
                .where(OrderLineRow.order_id == order_id).order_by(OrderLineRow.id))).all():
            by_external.setdefault(external_id, int(line_id))
            if sku:
                by_sku.setdefault(sku, int(line_id))
                sku_of[int(line_id)] = sku
    rows = []
    for position, line in enumerate(lines, start=1):  # positions from 1, as the case shows and decisions take
        good, damaged = received.get(position, (0, 0))
        linked = (by_external.get(line.line_external_id or "") or by_sku.get(line.merchant_sku or ""))
        rows.append({"aftersale_id": case_id, "position": position, "order_line_id": linked,
                     "line_external_id": line.line_external_id,
                     "merchant_sku": line.merchant_sku or (sku_of.get(linked) if linked else None),
                     "quantity": line.quantity,
                     "refund_amount": line.refund_amount.amount if line.refund_amount else None,
                     "received_good": good, "received_damaged": damaged})
    await session.execute(insert(AfterSaleLineRow), rows)


async def link_orders(session: AsyncSession, stored: Sequence[tuple[str, str, str, int]]) -> list[int]:
    """Link the cases stored before their order to the order just stored, and their lines to its
    lines: ``stored`` is (platform, shop, order external id, order id) of orders new in this
    transaction. Returns the ids of the cases linked.

    Set-based: one SELECT of the waiting cases, one UPDATE of them (executemany), one of their
    lines. Each linked case then gets what it would have had, had its order come first: the
    fulfilment interception (a refund requested before shipment holds the new order) and an
    ``aftersale_changed`` follow-up (cause ``order_linked``), so the rules see its order."""
    if not stored:
        return []
    waiting = await session.scalar(select(AfterSaleRow.id).where(AfterSaleRow.order_id.is_(None)).limit(1))
    if waiting is None:
        return []  # the common case: nothing waits for an order, so nothing to match
    order_of = {(p, s, e): oid for p, s, e, oid in stored}
    found = (await session.execute(
        select(AfterSaleRow.id, AfterSaleRow.platform, AfterSaleRow.shop, AfterSaleRow.order_external_id,
               AfterSaleRow.status, AfterSaleRow.data)
        .where(AfterSaleRow.order_id.is_(None),
               tuple_(AfterSaleRow.platform, AfterSaleRow.shop, AfterSaleRow.order_external_id)
               .in_([list(key) for key in sorted(order_of)]))
        .order_by(AfterSaleRow.id))).all()
    if not found:
        return []
    linked = [(int(r.id), order_of[(r.platform, r.shop, r.order_external_id)], r.status, r.data) for r in found]
    connection = await session.connection()
    await connection.execute(
        update(_CASES).where(_CASES.c.id == bindparam("cid")).values(order_id=bindparam("oid")),
        [{"cid": case_id, "oid": order_id} for case_id, order_id, _, _ in linked],
    )
    case_order = (select(AfterSaleRow.order_id).where(AfterSaleRow.id == AfterSaleLineRow.aftersale_id)
                  .scalar_subquery())
    by_external = (select(OrderLineRow.id).where(OrderLineRow.order_id == case_order,
                                                 OrderLineRow.external_id == AfterSaleLineRow.line_external_id)
                   .order_by(OrderLineRow.id).limit(1).scalar_subquery())
    by_sku = (select(OrderLineRow.id).where(OrderLineRow.order_id == case_order,
                                            OrderLineRow.merchant_sku == AfterSaleLineRow.merchant_sku)
              .order_by(OrderLineRow.id).limit(1).scalar_subquery())
    await session.execute(
        update(AfterSaleLineRow)
        .where(AfterSaleLineRow.order_line_id.is_(None),
               AfterSaleLineRow.aftersale_id.in_([case_id for case_id, *_ in linked]))
        .values(order_line_id=func.coalesce(by_external, by_sku))
        .execution_options(synchronize_session=False)
    )
    for case_id, order_id, status, data in linked:
        outbox.add(session, "aftersale_changed", case_id, order_id, status, "order_linked")
        try:
            case = AfterSale.model_validate(data)
        except ValueError:  # a stored report this hub can no longer read: linked, not intercepted
            continue
        await _intercept(session, case, order_id)
    return [case_id for case_id, *_ in linked]


async def _intercept(session: AsyncSession, case: AfterSale, order_id: int | None) -> None:
    """A refund before shipment holds the order and stops its shipment, in this transaction
    (``hub.services.fulfilment.interception``); a withdrawn one lifts that hold."""
    from hub.services.fulfilment import interception

    await interception.on_aftersale(session, case, order_id)
