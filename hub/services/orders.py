"""The order service: turns a channel's canonical ``Order`` into the hub's stored order.

Upsert by (platform, shop, external id) on a unique constraint — never check-then-insert; the
canonical state machine applied monotonically (a stale or repeated report is recorded in the
history but never moves the state backwards); a channel cancellation after fulfilment started
becomes a ``cancel_requested`` hold for a person; every change written to ``order_events`` with
its cause; follow-up work written to the outbox in the same transaction. ``apply_orders`` does
this for a whole inbox batch with a few set-based statements (``apply_order`` is a batch of one).
Not for fetching orders from partners (the pipeline does that) nor for stock (``hub.services.stock``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.fulfilment import Hold
from contracts.orders import (
    FulfilmentStatus,
    Order,
    OrderStatus,
    TransitionVerdict,
    fulfilment_after,
    fulfilment_reported_by,
    judge_transition,
)
from hub.db import bindings, outbox
from hub.db.returning import returning_many
from hub.db.tables import DeliveryLineRow, DeliveryOrderRow, OrderEventRow, OrderHoldRow, OrderLineRow, OrderRow
from hub.db.upsert import insert_ignore
from hub.services.search.hashing import order_hashes

#: Fulfilment states after which a channel cancellation can no longer simply be applied.
FULFILMENT_STARTED = frozenset({"routed", "sent_to_warehouse", "partially_shipped", "shipped"})
CANCEL_STATUSES = frozenset({OrderStatus.CANCELLED, OrderStatus.CLOSED})


class Change(StrEnum):
    CREATED = "created"
    STATUS_CHANGED = "status_changed"
    REPEATED = "repeated"
    STALE = "stale"
    CANCEL_REQUESTED = "cancel_requested"
    DETAILS_UPDATED = "details_updated"


@dataclass(frozen=True)
class ApplyResult:
    order_id: int
    change: Change
    old_status: OrderStatus | None
    new_status: OrderStatus


def _order_values(order: Order) -> dict[str, Any]:
    return {
        "platform": order.ref.platform,
        "shop": order.ref.shop,
        "external_id": order.ref.external_id,
        "status": order.status.value,
        "raw_status": order.raw_status,
        "channel_created_at": order.created_at.astimezone(UTC),
        "channel_updated_at": order.updated_at.astimezone(UTC),
        "paid_at": order.paid_at.astimezone(UTC) if order.paid_at else None,
        "total_amount": order.total.amount,
        "currency": order.total.currency,
        "buyer_nick": order.buyer.nick,
        "data": order.model_dump(mode="json"),
        "tags": list(order.tags),
        "province": order.shipping_address.province if order.shipping_address else None,
        "platform_fee": _platform_fee(order),
        **order_hashes(order),  # keyed hashes of the recipient's name and phone, for search
    }


def _platform_fee(order: Order) -> Decimal | None:
    """The fees the channel charged on this order (commission, service fee) when its connector
    reported them as ``extra["platform_fee"]`` (a decimal string in the order's currency)."""
    value = order.extra.get("platform_fee")
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except ArithmeticError:
        return None


def _event(
    order_id: int,
    kind: Change | str,
    *,
    old: OrderStatus | None,
    new: OrderStatus | None,
    cause: str,
    inbox_id: int | None,
    actor: str | None,
    detail: dict[str, Any] | None = None,
) -> OrderEventRow:
    return OrderEventRow(
        order_id=order_id,
        at=datetime.now(UTC),
        kind=str(kind),
        old_status=old.value if old else None,
        new_status=new.value if new else None,
        cause=cause,
        actor=actor,
        inbox_id=inbox_id,
        detail=detail or {},
    )


async def add_hold(
    session: AsyncSession, order_id: int, hold: Hold, *, cause: str, actor: str | None = None
) -> bool:
    """Put a hold on an order (idempotent per hold code); returns True when it is new or re-opened."""
    is_new = await _open_hold(session, order_id, hold)
    if is_new:
        session.add(
            _event(order_id, "hold_added", old=None, new=None, cause=cause, inbox_id=None, actor=actor,
                   detail={"code": hold.code, "reason": hold.reason})
        )
    return is_new


async def _open_hold(session: AsyncSession, order_id: int, hold: Hold) -> bool:
    """``add_hold`` without its history entry (the caller writes it): True when new or re-opened."""
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    inserted = await session.execute(
        insert_ignore(OrderHoldRow, dialect)
        .values(order_id=order_id, code=hold.code, reason=hold.reason, created_at=datetime.now(UTC))
        .returning(OrderHoldRow.id)
    )
    is_new = inserted.scalar_one_or_none() is not None
    if not is_new:
        reopened = await session.execute(
            update(OrderHoldRow)
            .where(
                OrderHoldRow.order_id == order_id,
                OrderHoldRow.code == hold.code,
                OrderHoldRow.released_at.is_not(None),
            )
            .values(released_at=None, released_by=None, reason=hold.reason)
        )
        is_new = bool(getattr(reopened, "rowcount", 0))
    if is_new:
        await session.execute(update(OrderRow).where(OrderRow.id == order_id).values(on_hold=True))
    return is_new


async def release_hold(session: AsyncSession, order_id: int, code: str, *, actor: str, cause: str = "api",
                       reason: str | None = None) -> bool:
    """Release an open hold; the order stays on hold while any other hold is open. ``reason`` (a
    person's words) goes into the history."""
    result = await session.execute(
        update(OrderHoldRow)
        .where(OrderHoldRow.order_id == order_id, OrderHoldRow.code == code, OrderHoldRow.released_at.is_(None))
        .values(released_at=datetime.now(UTC), released_by=actor)
    )
    if not getattr(result, "rowcount", 0):
        return False
    still_open = await session.scalar(
        select(OrderHoldRow.id).where(OrderHoldRow.order_id == order_id, OrderHoldRow.released_at.is_(None)).limit(1)
    )
    await session.execute(update(OrderRow).where(OrderRow.id == order_id).values(on_hold=still_open is not None))
    session.add(_event(order_id, "hold_released", old=None, new=None, cause=cause, inbox_id=None, actor=actor,
                       detail={"code": code, **({"reason": reason} if reason else {})}))
    outbox.add(session, "order_hold_released", order_id)
    return True


async def release_holds(
    session: AsyncSession, code: str, order_ids: list[int], *, actor: str, cause: str = "api"
) -> list[int]:
    """Release the open ``code`` hold of each of ``order_ids`` at once, as ``release_hold`` would one
    by one: set-based (one UPDATE per table, the history and outbox rows inserted together), in the
    caller's transaction. Returns the orders whose hold this released (others had none open)."""
    if not order_ids:
        return []
    released = sorted((await session.execute(
        update(OrderHoldRow)
        .where(OrderHoldRow.code == code, OrderHoldRow.order_id.in_(order_ids), OrderHoldRow.released_at.is_(None))
        .values(released_at=datetime.now(UTC), released_by=actor)
        .returning(OrderHoldRow.order_id)
        .execution_options(synchronize_session=False)
    )).scalars().all())
    if not released:
        return []
    still_open = select(OrderHoldRow.id).where(
        OrderHoldRow.order_id == OrderRow.id, OrderHoldRow.released_at.is_(None)).exists()
    await session.execute(update(OrderRow).where(OrderRow.id.in_(released)).values(on_hold=still_open)
                          .execution_options(synchronize_session=False))
    session.add_all([_event(order_id, "hold_released", old=None, new=None, cause=cause, inbox_id=None, actor=actor,
                            detail={"code": code}) for order_id in released])
    for order_id in released:
        outbox.add(session, "order_hold_released", order_id)
    return released


@dataclass(frozen=True)
class OrderReport:
    """One channel report of an order, as ``apply_orders`` takes it: the order, what brought it
    (``cause``: push, message_channel, poll…), the inbox row it came from and who, if a person."""

    order: Order
    cause: str
    inbox_id: int | None = None
    actor: str | None = None


#: The order columns a report may change (everything but the key, the hold flag and the bookkeeping).
_MUTABLE = ("status", "raw_status", "channel_created_at", "channel_updated_at", "paid_at", "total_amount",
            "currency", "buyer_nick", "data", "tags", "fulfilment_status",
            "recipient_hash", "phone_hash", "phone_last4_hash")
_KEY = ("platform", "shop", "external_id")
_ORDERS: Table = OrderRow.__table__  # type: ignore[assignment]
_LINES: Table = OrderLineRow.__table__  # type: ignore[assignment]
_EVENTS: Table = OrderEventRow.__table__  # type: ignore[assignment]


@dataclass
class _Stored:
    """An order row as a batch sees it — locked or inserted by this transaction — with the changes
    the batch's reports made to it so far (written with one UPDATE per order at the end)."""

    id: int
    values: dict[str, Any]
    created: bool = False
    bumps: int = 0  # version steps (status or details changes); fulfilment alone is not one
    dirty: bool = False

    @property
    def status(self) -> OrderStatus:
        return OrderStatus(self.values["status"])


_statements: dict[tuple[str, str], Any] = {}


def _statement(name: str, dialect: str) -> Any:
    """The batch's statements, built once per dialect: SQLAlchemy caches their compiled form, and
    executemany sends each as one (multi-row) round trip whatever the batch size."""
    stmt = _statements.get((name, dialect))
    if stmt is not None:
        return stmt
    if name == "insert_orders":
        stmt = insert_ignore(_ORDERS, dialect).returning(_ORDERS.c.id, *(_ORDERS.c[k] for k in _KEY))
    elif name == "lock_orders":
        stmt = (select(_ORDERS.c.id, *(_ORDERS.c[k] for k in _KEY), *(_ORDERS.c[k] for k in _MUTABLE))
                .where(tuple_(*(_ORDERS.c[k] for k in _KEY)).in_(bindparam("keys", expanding=True)))
                .order_by(_ORDERS.c.id))
        if dialect == "postgresql":
            stmt = stmt.with_for_update()
    elif name == "update_orders":
        stmt = (update(_ORDERS).where(_ORDERS.c.id == bindparam("oid"))
                .values(version=_ORDERS.c.version + bindparam("bumps")))
    elif name == "insert_lines":
        stmt = insert_ignore(_LINES, dialect)
    elif name == "insert_events":
        stmt = insert(_EVENTS)
    else:  # pragma: no cover - a typo in this module
        raise KeyError(name)
    _statements[(name, dialect)] = stmt
    return stmt


def _line_rows(order_id: int, order: Order) -> list[dict[str, Any]]:
    return [
        {
            "order_id": order_id,
            "external_id": line.external_id,
            "merchant_sku": line.merchant_sku,
            "channel_item_id": line.channel_item_id,
            "channel_sku_id": line.channel_sku_id,
            "title": line.title,
            "quantity": line.quantity,
            "unit_price": line.unit_price.amount,
            "status": line.status.value if line.status else None,
        }
        for line in order.lines
    ]


def _event_row(order_id: int, kind: Change | str, *, old: OrderStatus | None, new: OrderStatus | None, cause: str,
               inbox_id: int | None, actor: str | None, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"order_id": order_id, "at": datetime.now(UTC), "kind": str(kind),
            "old_status": old.value if old else None, "new_status": new.value if new else None,
            "cause": cause, "actor": actor, "inbox_id": inbox_id, "detail": detail or {}}


def _key(order: Order) -> tuple[str, str, str]:
    return (order.ref.platform, order.ref.shop, order.ref.external_id)


class _Batch:
    """The writes a batch of reports makes, gathered in the order ``apply_order`` made them one by
    one, then sent with one statement per table."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lines: list[dict[str, Any]] = []
        self.changes: list[list[Any]] = []
        self.intercept: list[int] = []  # orders newly held cancel_requested: their shipment is stopped

    def follow_channel_fulfilment(self, stored: _Stored, report: OrderReport) -> None:
        """``_follow_channel_fulfilment`` on the batch's copy of the row: forward only."""
        reached = fulfilment_reported_by(report.order.status)
        if reached is None:
            return
        old = stored.values["fulfilment_status"]
        if fulfilment_after(old, reached) is None:
            return
        stored.values["fulfilment_status"] = reached.value
        stored.dirty = True
        self.events.append(_event_row(stored.id, "fulfilment_changed", old=None, new=None, cause=report.cause,
                                      inbox_id=None, actor=report.actor,
                                      detail={"from": old, "to": reached.value,
                                              "reported_by_channel": report.order.raw_status}))


async def apply_orders(session: AsyncSession, reports: Sequence[OrderReport]) -> list[ApplyResult]:
    """Create or update many stored orders from channel reports, in the caller's transaction, with
    exactly the outcome of ``apply_order`` called for each report in turn (several reports of one
    order are applied in the order given); returns one result per report, in that order.

    Set-based: the new orders are inserted with one ``INSERT … ON CONFLICT DO NOTHING RETURNING``
    (in key order, so concurrent batches take their locks in one order), the others locked with
    one ``SELECT … FOR UPDATE`` (by id), the transitions judged here, and the history, lines,
    bindings and row updates written with one statement each; the follow-up is one outbox
    message, ``orders_changed``, listing ``[order_id, old_status, new_status, cause]`` per change.
    """
    if not reports:
        return []
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    connection = await session.connection()
    first: dict[tuple[str, str, str], OrderReport] = {}
    for report in reports:
        first.setdefault(_key(report.order), report)

    # 1. Insert the orders not stored yet (each from its first report of the batch).
    candidates = []
    for key in sorted(first):
        order = first[key].order
        values = _order_values(order)
        reached = fulfilment_reported_by(order.status)
        values["fulfilment_status"] = (reached or FulfilmentStatus.UNFULFILLED).value
        candidates.append(values)
    inserted = await returning_many(connection, _statement("insert_orders", dialect), candidates)
    stored: dict[tuple[str, str, str], _Stored] = {}
    by_key = {(v["platform"], v["shop"], v["external_id"]): v for v in candidates}
    for row in inserted:
        key = (row.platform, row.shop, row.external_id)
        values = by_key[key]
        stored[key] = _Stored(int(row.id), {k: values[k] for k in _MUTABLE}, created=True)
        stored[key].values["fulfilment_status"] = FulfilmentStatus.UNFULFILLED.value

    # 2. Lock the ones that were there already (PostgreSQL row locks; SQLite serialises writers).
    existing = [list(key) for key in sorted(first) if key not in stored]
    if existing:
        for row in await connection.execute(_statement("lock_orders", dialect), {"keys": existing}):
            mapping = row._mapping
            stored[(row.platform, row.shop, row.external_id)] = _Stored(
                int(row.id), {k: mapping[k] for k in _MUTABLE})

    # 3. Judge every report against the row as the reports before it left it.
    batch = _Batch()
    results: list[ApplyResult] = []
    fresh: set[int] = set()
    binds: list[tuple[str, str, str, int]] = []
    for report in reports:
        target = stored[_key(report.order)]
        if target.created and target.id not in fresh:
            fresh.add(target.id)
            results.append(_created(batch, target, report))
            binds.append((*_key(report.order), target.id))
        else:
            results.append(await _judge(session, batch, target, report))

    # 4. Write: rows changed after their insert or lock, lines, bindings, history, one follow-up.
    updates = [{"oid": o.id, "bumps": o.bumps, **o.values} for o in stored.values() if o.dirty]
    if updates:
        await connection.execute(_statement("update_orders", dialect), updates)
    if batch.lines:
        await connection.execute(_statement("insert_lines", dialect), batch.lines)
    if binds:
        await bindings.bind_many(session, "order", binds)
    if batch.events:
        await connection.execute(_statement("insert_events", dialect), batch.events)
    if batch.changes:
        outbox.add(session, "orders_changed", batch.changes)
    if batch.intercept:
        # hub.services.fulfilment.interception.INTERCEPT_ACTOR (not imported: it imports this module)
        outbox.add(session, "intercept_orders", sorted(set(batch.intercept)))
    return results


def _created(batch: _Batch, row: _Stored, report: OrderReport) -> ApplyResult:
    order = report.order
    batch.lines.extend(_line_rows(row.id, order))
    batch.events.append(_event_row(row.id, Change.CREATED, old=None, new=order.status, cause=report.cause,
                                   inbox_id=report.inbox_id, actor=report.actor,
                                   detail={"raw_status": order.raw_status}))
    # The row was inserted with the fulfilment the channel reports: record the move from unfulfilled.
    batch.follow_channel_fulfilment(row, report)
    row.dirty = False  # the insert already wrote that fulfilment status
    batch.changes.append([row.id, None, order.status.value, report.cause])
    return ApplyResult(row.id, Change.CREATED, None, order.status)


async def _still_going_out(session: AsyncSession, order_id: int, fulfilment_status: str) -> bool:
    """Whether a cancellation reported now must wait for a person: something of the order shipped,
    a delivery order for it is still live at a warehouse, or fulfilment started without one the hub
    knows. Once the interception has cancelled every delivery of an order nothing of which shipped
    (a refund before shipment, then the platform closing the order), the cancellation simply
    applies. One query, only for a cancellation that arrives after fulfilment started."""
    if fulfilment_status not in FULFILMENT_STARTED:
        return False
    if fulfilment_status in ("partially_shipped", "shipped"):
        return True
    statuses = set((await session.execute(
        select(DeliveryOrderRow.status).join(DeliveryLineRow, DeliveryOrderRow.id == DeliveryLineRow.delivery_order_id)
        .where(DeliveryLineRow.order_id == order_id).distinct())).scalars())
    # No delivery order at all: fulfilment started outside what the hub tracks, so a person decides.
    return not statuses or bool(statuses - {"cancelled", "failed"})


async def _judge(session: AsyncSession, batch: _Batch, row: _Stored, report: OrderReport) -> ApplyResult:
    order, cause, actor, inbox_id = report.order, report.cause, report.actor, report.inbox_id
    current = row.status
    verdict = judge_transition(current, order.status)
    reported_at = order.updated_at.astimezone(UTC)
    newer = reported_at >= row.values["channel_updated_at"]
    detail = {"raw_status": order.raw_status, "reported_updated_at": order.updated_at.isoformat()}

    if verdict is TransitionVerdict.APPLY and order.status in CANCEL_STATUSES and (
        await _still_going_out(session, row.id, row.values["fulfilment_status"])
    ):
        reason = (
            f"the channel reports the order {order.status.value} ({order.raw_status}) after fulfilment "
            f"started ({row.values['fulfilment_status']}); stop the shipment or refuse the cancellation"
        )
        hold = Hold(code="cancel_requested", reason=reason)
        if await _open_hold(session, row.id, hold):
            batch.events.append(_event_row(row.id, "hold_added", old=None, new=None, cause=cause, inbox_id=None,
                                           actor=actor, detail={"code": hold.code, "reason": hold.reason}))
            batch.intercept.append(row.id)
        batch.events.append(_event_row(row.id, Change.CANCEL_REQUESTED, old=current, new=order.status, cause=cause,
                                       inbox_id=inbox_id, actor=actor, detail=detail))
        return ApplyResult(row.id, Change.CANCEL_REQUESTED, current, current)

    if verdict is TransitionVerdict.APPLY:
        if newer:
            values = _order_values(order)
            row.values.update({k: values[k] for k in _MUTABLE if k in values})
            batch.lines.extend(_line_rows(row.id, order))
        else:
            # A forward move reported with an older timestamp (clock skew between platform
            # services): take the status, keep the fresher details already stored.
            row.values.update(status=order.status.value, raw_status=order.raw_status,
                              data={**row.values["data"], "status": order.status.value,
                                    "raw_status": order.raw_status})
        row.bumps += 1
        row.dirty = True
        batch.events.append(_event_row(row.id, Change.STATUS_CHANGED, old=current, new=order.status, cause=cause,
                                       inbox_id=inbox_id, actor=actor, detail=detail))
        batch.follow_channel_fulfilment(row, report)
        batch.changes.append([row.id, current.value, order.status.value, cause])
        return ApplyResult(row.id, Change.STATUS_CHANGED, current, order.status)

    kind = Change.REPEATED if verdict is TransitionVerdict.SAME else Change.STALE
    if verdict is TransitionVerdict.SAME and newer and reported_at > row.values["channel_updated_at"]:
        # Same status, newer details (address change, memo, fee change): keep the fresher copy.
        values = _order_values(order)
        row.values.update({k: values[k] for k in _MUTABLE if k in values and k != "status"})
        row.bumps += 1
        row.dirty = True
        kind = Change.DETAILS_UPDATED
    batch.events.append(_event_row(row.id, kind, old=current, new=order.status, cause=cause, inbox_id=inbox_id,
                                   actor=actor, detail=detail))
    if verdict is TransitionVerdict.SAME:
        # A repeat of the stored status still carries the channel's word on shipping (heals an
        # order stored shipped while fulfilment stayed behind).
        batch.follow_channel_fulfilment(row, report)
    return ApplyResult(row.id, kind, current, current)


async def apply_order(
    session: AsyncSession,
    order: Order,
    *,
    cause: str,
    inbox_id: int | None = None,
    actor: str | None = None,
) -> ApplyResult:
    """Create or update the stored order from a channel report, in the caller's transaction
    (``apply_orders`` of one report)."""
    return (await apply_orders(session, [OrderReport(order, cause, inbox_id, actor)]))[0]


async def set_fulfilment_status(session: AsyncSession, order_id: int, status: FulfilmentStatus | str, *,
                                cause: str, actor: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Record how far fulfilment got (routed, sent_to_warehouse, shipped...) with a history entry.
    Never backwards: a status behind the stored one (a partial shipment recorded after the channel
    said shipped) leaves it as it is."""
    old = await session.scalar(select(OrderRow.fulfilment_status).where(OrderRow.id == order_id))
    if old is None or fulfilment_after(old, FulfilmentStatus(status)) is None:
        return
    await session.execute(update(OrderRow).where(OrderRow.id == order_id)
                          .values(fulfilment_status=FulfilmentStatus(status).value))
    session.add(_event(order_id, "fulfilment_changed", old=None, new=None, cause=cause, inbox_id=None, actor=actor,
                       detail={"from": old, "to": FulfilmentStatus(status).value, **(detail or {})}))


def stored_order(row: OrderRow) -> Order:
    """The canonical order as stored (personal data included: mask before showing)."""
    return Order.model_validate(row.data)
