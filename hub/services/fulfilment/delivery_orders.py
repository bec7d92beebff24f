"""Delivery orders: sent to a WMS (or taken by the own warehouse), and cancelled when a refund or
a cancellation overtakes them.

``send_delivery_orders`` (the ``send_delivery_orders`` actor) makes the WMS call
(``WarehouseConnector.create_delivery_order``) with the delivery order's ``code`` as the key: the
WMS keys its order by it (Qimen ``deliveryOrderCode``) and the connector looks an existing one up
before refusing, so a retry after a timeout never creates a second one; the idempotency table
records the attempt and its result, so a crash between the answer and its recording does not call
again. A permanent refusal makes the delivery order ``failed``, holds its orders
(``warehouse_refused``, with the WMS's message) and opens a fulfilment exception; a transient
fault is retried by the queue. ``cancel_delivery_order`` / ``cancel_for_order`` cancel locally
what no warehouse has yet (or the own warehouse has not packed) and ask the WMS for the rest.
The list and detail reads for the API and the console are here too. Not for choosing a warehouse
(``routing``, ``flow``), waybills (``waybills``) or the own warehouse's pick/pack/ship.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.connectors import Capability, declared
from contracts.fulfilment import Hold
from contracts.orders import Order
from hub.context import Hub
from hub.db import idempotency
from hub.db.cursors import decode_id_cursor, encode_id_cursor
from hub.db.tables import (
    DeliveryLineRow,
    DeliveryOrderRow,
    FulfilmentExceptionRow,
    OrderEventRow,
    OrderRow,
    ParcelRow,
    utcnow,
)
from hub.db.upsert import insert_ignore
from hub.errors import BadInputError, ConfigError, NotFoundError, PermanentError, describe_error
from hub.services import orders
from hub.services.access.owners import of_orders_in
from hub.services.fulfilment import aftersale_deliveries, waybills
from hub.services.order_holds import add_holds

log = structlog.get_logger(__name__)

SEND_ACTOR = "send_delivery_orders"
#: Retries of a WMS send; after this many transient failures the delivery order is ``failed``.
SEND_MAX_RETRIES = 6
SEND_MIN_BACKOFF_MS = 2_000
SEND_MAX_BACKOFF_MS = 300_000

WMS, OWN = "wms", "own"
PENDING, SENT, PICKING, PACKED, SHIPPED = "pending", "sent", "picking", "packed", "shipped"
CANCELLING, CANCELLED, FAILED = "cancelling", "cancelled", "failed"
STATUSES = (PENDING, SENT, PICKING, PACKED, SHIPPED, CANCELLING, CANCELLED, FAILED)
#: A delivery order in one of these no longer holds its lines (they may be routed again).
CLOSED = (CANCELLED, FAILED)
REFUSED_HOLD = "warehouse_refused"
#: Orders in these statuses are not sent to a warehouse (nor while on hold).
NOT_SENDABLE = ("cancelled", "closed")
REFUSED_EXCEPTION = "warehouse_refused"


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def warehouse_kind(hub: Hub, name: str) -> str:
    """``wms`` when the warehouse's connector takes delivery orders (``Capability.DELIVERY_ORDERS``),
    else ``own``: the hub's own warehouse (``platform = "manual"``, or the embedded ``default``)."""
    config = hub.config.warehouses.get(name)
    if config is None:
        return OWN
    cls = hub.plugins.connector_class("warehouse", config.platform)
    return WMS if cls is not None and declared(cls, Capability.DELIVERY_ORDERS) else OWN


def history_entry(event: str, actor: str | None, **detail: Any) -> dict[str, Any]:
    return {"at": datetime.now(UTC).isoformat(), "event": event, "actor": actor, **detail}


def _with_history(row: DeliveryOrderRow, event: str, actor: str | None, **detail: Any) -> dict[str, Any]:
    """The row's ``data`` with one more history entry (a new dict, so the JSON column is written)."""
    data = dict(row.data or {})
    data["history"] = [*data.get("history", []), history_entry(event, actor, **detail)]
    return data


async def _lock(session: AsyncSession, do_id: int) -> DeliveryOrderRow | None:
    stmt = select(DeliveryOrderRow).where(DeliveryOrderRow.id == do_id).execution_options(populate_existing=True)
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def _lines(session: AsyncSession, do_id: int) -> list[DeliveryLineRow]:
    return list((await session.execute(select(DeliveryLineRow).where(DeliveryLineRow.delivery_order_id == do_id)
                                       .order_by(DeliveryLineRow.id))).scalars())


def _events(order_ids: set[int], kind: str, actor: str | None, detail: dict[str, Any]) -> list[OrderEventRow]:
    return [OrderEventRow(order_id=o, at=utcnow(), kind=kind, old_status=None, new_status=None, cause="fulfilment",
                          actor=actor, detail=detail) for o in sorted(order_ids)]


async def raise_exception(session: AsyncSession, order_id: int, kind: str, subject: str, reason: str) -> None:
    """Open a fulfilment exception (once per kind and subject)."""
    await session.execute(insert_ignore(FulfilmentExceptionRow, _dialect(session)).values(
        order_id=order_id, kind=kind, subject=subject, reason=reason, raised_at=utcnow()))


# --------------------------------------------------------------------------- sending to a WMS


@dataclass(frozen=True)
class _Attempt:
    do_id: int
    code: str
    warehouse: str
    order: Order
    lines: list[str]
    attempts: int
    done: str | None = None  # the WMS's answer, recorded before a crash: nothing to call


def _key(code: str) -> str:
    return f"delivery_order:{code}"


def wms_order(stored: dict[int, Order], lines: list[DeliveryLineRow]) -> tuple[Order, list[str]]:
    """The order a WMS is sent for ``lines``: the first order with exactly these lines (quantities
    and SKUs as in the delivery order); lines of several merged orders are named ``<order id>/<line>``."""
    first_id = lines[0].order_id
    merged = len({line.order_id for line in lines}) > 1
    picked = []
    for line in lines:
        base = next((ol for ol in stored[line.order_id].lines if ol.external_id == line.line_external_id), None)
        if base is None:
            continue
        shown = f"{line.order_id}/{line.line_external_id}" if merged else line.line_external_id
        # The delivery line's SKU wins: an exchange's replacement may send another SKU than was sold.
        picked.append(base.model_copy(update={"external_id": shown, "quantity": line.quantity,
                                              "merchant_sku": line.merchant_sku or base.merchant_sku}))
    return stored[first_id].model_copy(update={"lines": picked}), [ol.external_id for ol in picked]


async def _begin(hub: Hub, do_id: int) -> _Attempt | None:
    async with hub.database().transaction() as session:
        row = await _lock(session, do_id)
        if row is None or row.kind != WMS or row.status != PENDING:
            return None
        lines = await _lines(session, do_id)
        order_rows = list((await session.execute(select(OrderRow).where(
            OrderRow.id.in_({line.order_id for line in lines})))).scalars())
        blocked = [r.id for r in order_rows if r.on_hold or r.status in NOT_SENDABLE]
        replacement = aftersale_deliveries.aftersale_of(row.data) is not None  # its order shipped long ago
        if order_rows and not replacement and all(r.fulfilment_status == SHIPPED for r in order_rows):
            # Shipped by hand meanwhile: the WMS must not ship it again (``hand_shipments`` cancels it).
            await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == do_id).values(
                last_error=f"not sent: order(s) {', '.join(str(r.id) for r in order_rows)} shipped already "
                           "(recorded by hand)", updated_at=utcnow()))
            return None
        if blocked:  # a hold (or a cancellation) overtook it: it waits; the sweep sends it once released
            await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == do_id).values(
                last_error=f"waiting: order(s) {', '.join(map(str, blocked))} on hold or cancelled",
                updated_at=utcnow()))
            return None
        stored = {r.id: orders.stored_order(r) for r in order_rows}
        order, line_ids = wms_order(stored, lines)
        key = _key(row.code)
        if not await idempotency.claim(session, key):
            previous = await idempotency.recall(session, key) or {}
            if previous.get("state") == "done":
                return _Attempt(do_id, row.code, row.warehouse, order, line_ids, row.attempts,
                                done=str(previous.get("warehouse_order_id") or row.code))
        await idempotency.remember(session, key, {"state": "calling", "since": datetime.now(UTC).isoformat()})
        attempts = row.attempts + 1
        await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == do_id)
                              .values(attempts=attempts, updated_at=utcnow()))
        return _Attempt(do_id, row.code, row.warehouse, order, line_ids, attempts)


async def _revealed(hub: Hub, order: Order) -> Order:
    """The order with its shipping address revealed, when the channel encrypts it and can reveal it
    (in memory only: never stored). A WMS prints the label, so it needs the real address."""
    address = order.shipping_address
    if address is None or not address.encrypted:
        return order
    cls = hub.plugins.channel_class(order.ref.platform)
    if cls is None or not declared(cls, Capability.REVEAL_BUYER) or order.ref.shop not in hub.config.shops:
        return order  # the connector refuses it, naming the address: a visible refusal
    revealed = await hub.accounts().channel(order.ref.shop).reveal_address(order)
    return order.model_copy(update={"shipping_address": revealed})


async def _finish(hub: Hub, attempt: _Attempt, warehouse_order_id: str) -> bool:
    """Record the WMS's acceptance; True when the delivery order was cancelled meanwhile (the
    caller then cancels it at the WMS too)."""
    async with hub.database().transaction() as session:
        row = await _lock(session, attempt.do_id)
        if row is None:
            return False
        await idempotency.remember(session, _key(attempt.code), {
            "state": "done", "warehouse_order_id": warehouse_order_id, "at": datetime.now(UTC).isoformat()})
        order_ids = {line.order_id for line in await _lines(session, attempt.do_id)}
        if row.status != PENDING:
            return row.status in (CANCELLED, CANCELLING)
        await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == row.id).values(
            status=SENT, sent_at=utcnow(), warehouse_order_id=warehouse_order_id, last_error=None,
            updated_at=utcnow(), data=_with_history(row, "sent", "hub", warehouse_order_id=warehouse_order_id)))
        session.add_all(_events(order_ids, "delivery_order_sent", "hub", {
            "delivery_order_id": row.id, "code": row.code, "warehouse": row.warehouse,
            "warehouse_order_id": warehouse_order_id}))
        await session.flush()
        for order_id in sorted(order_ids):
            if not await _has_unsent(session, order_id):
                await orders.set_fulfilment_status(session, order_id, "sent_to_warehouse", cause="fulfilment",
                                                   actor="hub", detail={"delivery_order": row.code})
    return False


async def _has_unsent(session: AsyncSession, order_id: int) -> bool:
    found = await session.scalar(
        select(DeliveryOrderRow.id).join(DeliveryLineRow, DeliveryLineRow.delivery_order_id == DeliveryOrderRow.id)
        .where(DeliveryLineRow.order_id == order_id, DeliveryOrderRow.status == PENDING).limit(1))
    return found is not None


async def _fail(hub: Hub, attempt: _Attempt, reason: str) -> None:
    """A permanent refusal: the delivery order failed, its orders held with the WMS's reason."""
    async with hub.database().transaction() as session:
        row = await _lock(session, attempt.do_id)
        if row is None or row.status != PENDING:
            return
        await idempotency.release(session, _key(attempt.code))
        await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == row.id).values(
            status=FAILED, last_error=reason, updated_at=utcnow(), data=_with_history(row, "failed", "hub",
                                                                                     reason=reason)))
        order_ids = {line.order_id for line in await _lines(session, row.id)}
        hold = Hold(code=REFUSED_HOLD, reason=f"warehouse {row.warehouse} refused delivery order {row.code}: {reason}")
        await add_holds(session, [(o, hold) for o in sorted(order_ids)], cause="fulfilment", actor="hub")
        session.add_all(_events(order_ids, "delivery_order_refused", "hub", {
            "delivery_order_id": row.id, "code": row.code, "warehouse": row.warehouse, "reason": reason}))
        await raise_exception(session, row.order_id, REFUSED_EXCEPTION, f"delivery_order:{row.id}", hold.reason)


async def _keep_pending(hub: Hub, attempt: _Attempt, reason: str) -> None:
    async with hub.database().transaction() as session:
        await idempotency.remember(session, _key(attempt.code), {"state": "retry", "error": reason})
        await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == attempt.do_id)
                              .values(last_error=reason, updated_at=utcnow()))


async def send_one(hub: Hub, do_id: int) -> str:
    """Send one pending WMS delivery order; returns what happened (``sent``, ``failed``, ``skipped``).
    A transient fault is re-raised after it is recorded (the queue retries)."""
    attempt = await _begin(hub, do_id)
    if attempt is None:
        return "skipped"
    if attempt.done is not None:
        cancelled = await _finish(hub, attempt, attempt.done)
    else:
        try:
            connector = hub.accounts().warehouse(attempt.warehouse)
            order = await _revealed(hub, attempt.order)
            answer = await connector.create_delivery_order(order, attempt.lines, key=attempt.code)
        except (PermanentError, BadInputError, NotFoundError, ConfigError) as exc:
            await _fail(hub, attempt, describe_error(exc))
            log.warning("delivery_order.refused", delivery_order_id=do_id, warehouse=attempt.warehouse,
                        reason=describe_error(exc))
            return FAILED
        except Exception as exc:
            if attempt.attempts > SEND_MAX_RETRIES:
                await _fail(hub, attempt, f"gave up after {attempt.attempts} attempts; last: {describe_error(exc)}")
                return FAILED
            await _keep_pending(hub, attempt, f"attempt {attempt.attempts}: {describe_error(exc)}")
            raise
        cancelled = await _finish(hub, attempt, str(answer or attempt.code))
    if cancelled:  # a cancellation overtook the send: the WMS has it now, so cancel it there too
        await _cancel_at_wms(hub, do_id, reason="cancelled while it was being sent", actor="hub")
        return CANCELLED
    log.info("delivery_order.sent", delivery_order_id=do_id, warehouse=attempt.warehouse, code=attempt.code)
    return SENT


async def send_delivery_orders(hub: Hub, do_ids: list[int]) -> dict[int, str]:
    """Send each pending WMS delivery order of ``do_ids`` (the actor); the others are left alone.
    Every one is tried; the first transient fault is re-raised at the end so the queue retries
    (those already sent are skipped then)."""
    outcomes: dict[int, str] = {}
    first_fault: BaseException | None = None
    for do_id in sorted(set(do_ids)):
        try:
            outcomes[do_id] = await send_one(hub, do_id)
        except Exception as exc:
            outcomes[do_id] = "retry"
            first_fault = first_fault or exc
    if first_fault is not None:
        raise first_fault
    return outcomes


# --------------------------------------------------------------------------- cancelling


@dataclass
class CancelOutcome:
    """What cancelling an order's delivery orders did: ``cancelled`` (delivery order ids now
    cancelled or never sent), ``too_late`` (already shipped, or the WMS refused: an exception)."""

    cancelled: list[int] = field(default_factory=list)
    too_late: list[int] = field(default_factory=list)


#: The own warehouse can still stop these; packed or shipped is too late.
OWN_CANCELLABLE = (PENDING, SENT, PICKING)


async def _settle_cancel(session: AsyncSession, row: DeliveryOrderRow, ok: bool, *, reason: str, actor: str | None,
                         back_to: str | None = None, message: str | None = None) -> list[int]:
    """Record a cancellation (``ok``) or its refusal; returns the issued parcels to cancel waybills of."""
    order_ids = {line.order_id for line in await _lines(session, row.id)}
    detail = {"delivery_order_id": row.id, "code": row.code, "warehouse": row.warehouse, "reason": reason}
    if ok:
        await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == row.id).values(
            status=CANCELLED, cancelled_at=utcnow(), updated_at=utcnow(),
            data=_with_history(row, "cancelled", actor, reason=reason)))
        parcels = list((await session.execute(select(ParcelRow.id, ParcelRow.status).where(
            ParcelRow.delivery_order_id == row.id))).all())
        pending = [pid for pid, status in parcels if status == "pending"]
        if pending:
            await session.execute(update(ParcelRow).where(ParcelRow.id.in_(pending), ParcelRow.status == "pending")
                                  .values(status="cancelled", updated_at=utcnow()))
        session.add_all(_events(order_ids, "delivery_order_cancelled", actor, detail))
        return [pid for pid, status in parcels if status in ("issued", "printed")]
    values: dict[str, Any] = {"updated_at": utcnow(), "data": _with_history(
        row, "cancel_refused", actor, reason=reason, message=message)}
    if back_to is not None:
        values["status"] = back_to
    await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == row.id).values(**values))
    session.add_all(_events(order_ids, "delivery_order_cancel_too_late", actor, {**detail, "message": message}))
    return []


async def _cancel_at_wms(hub: Hub, do_id: int, *, reason: str, actor: str | None,
                         back_to: str = SENT) -> bool:
    """Ask the WMS to cancel; True when it did. A fault leaves the delivery order as it was and is
    re-raised (the caller retries)."""
    async with hub.database().session() as session:
        row = (await session.execute(select(DeliveryOrderRow).where(DeliveryOrderRow.id == do_id))).scalar_one()
        code, warehouse = row.code, row.warehouse
    connector = hub.accounts().warehouse(warehouse)
    try:
        ok = bool(await connector.cancel_delivery_order(code))
    except Exception as exc:
        async with hub.database().transaction() as session:
            await session.execute(update(DeliveryOrderRow).where(
                DeliveryOrderRow.id == do_id, DeliveryOrderRow.status == CANCELLING).values(
                status=back_to, last_error=f"cancel: {describe_error(exc)}", updated_at=utcnow()))
        raise
    async with hub.database().transaction() as session:
        locked = await _lock(session, do_id)
        if locked is None or locked.status == CANCELLED:
            return ok
        await _settle_cancel(session, locked, ok, reason=reason, actor=actor,
                             back_to=back_to if locked.status == CANCELLING else None,
                             message=None if ok else "the warehouse refused the cancellation (already shipped?)")
    return ok


async def cancel_delivery_order(hub: Hub, do_id: int, *, reason: str, actor: str | None,
                                own_packed: bool = False) -> bool:
    """Cancel one delivery order; True when it is cancelled (now or before), False when too late.
    Raises ``NotFoundError``; a WMS fault is re-raised with the delivery order unchanged.
    ``own_packed``: an own-warehouse delivery order that is packed is cancelled too (its goods left
    another way: a shipment recorded by hand), not too late."""
    issued: list[int] = []
    back_to = SENT
    async with hub.database().transaction() as session:
        row = await _lock(session, do_id)
        if row is None:
            raise NotFoundError(f"delivery order {do_id} does not exist")
        if row.status in CLOSED:
            if row.status == FAILED:  # never reached a warehouse
                await _settle_cancel(session, row, True, reason=reason, actor=actor)
            return True
        own_ok = (*OWN_CANCELLABLE, PACKED) if own_packed else OWN_CANCELLABLE
        if row.status == SHIPPED or (row.kind == OWN and row.status not in own_ok):
            await _settle_cancel(session, row, False, reason=reason, actor=actor,
                                 message=f"the delivery order is {row.status}")
            return False
        if row.kind == OWN or row.status == PENDING:
            # Not at a WMS yet (a send in flight sees it cancelled and cancels at the WMS after).
            issued = await _settle_cancel(session, row, True, reason=reason, actor=actor)
            at_wms = False
        else:
            back_to = row.status if row.status != CANCELLING else SENT
            await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id == row.id).values(
                status=CANCELLING, updated_at=utcnow()))
            at_wms = True
    if issued:
        await waybills.cancel_waybills(hub, issued, actor=actor)
    if not at_wms:
        log.info("delivery_order.cancelled", delivery_order_id=do_id, where="hub")
        return True
    ok = await _cancel_at_wms(hub, do_id, reason=reason, actor=actor, back_to=back_to)
    log.info("delivery_order.cancel", delivery_order_id=do_id, where="wms", cancelled=ok)
    return ok


async def cancel_for_order(hub: Hub, order_id: int, *, reason: str, actor: str | None,
                           only: Collection[int] | None = None, own_packed: bool = False) -> CancelOutcome:
    """Cancel every open delivery order holding lines of ``order_id``: those no warehouse has yet
    (or the own warehouse has not packed) locally, those at a WMS there (``order.cancel``).
    Shipped ones, and those the WMS would not cancel, are ``too_late``: the caller raises the
    exception a person must see. A WMS fault is re-raised (the caller's actor retries; what was
    cancelled stays cancelled, so the retry only does the rest). ``only``: just these delivery
    orders (of the order); ``own_packed``: see ``cancel_delivery_order``."""
    async with hub.database().session() as session:
        ids = sorted(set((await session.execute(
            select(DeliveryOrderRow.id).join(DeliveryLineRow, DeliveryLineRow.delivery_order_id == DeliveryOrderRow.id)
            .where(DeliveryLineRow.order_id == order_id, DeliveryOrderRow.status != CANCELLED))).scalars()))
    if only is not None:
        wanted = set(only)
        ids = [i for i in ids if i in wanted]
    outcome = CancelOutcome()
    for do_id in ids:
        if await cancel_delivery_order(hub, do_id, reason=reason, actor=actor, own_packed=own_packed):
            outcome.cancelled.append(do_id)
        else:
            outcome.too_late.append(do_id)
    return outcome


# --------------------------------------------------------------------------- reading


_CURSOR_PREFIX = "do:"


@dataclass(frozen=True)
class DeliveryFilters:
    status: tuple[str, ...] = ()
    warehouse: str | None = None
    kind: str | None = None
    order_id: int | None = None
    #: The shops the caller may see (``Principal.shops``); None: every shop.
    shops: frozenset[str] | None = None


@dataclass(frozen=True)
class DeliveryPage:
    rows: list[DeliveryOrderRow]
    next_cursor: str | None


async def list_delivery_orders(session: AsyncSession, filters: DeliveryFilters, *, limit: int = 50,
                               cursor: str | None = None) -> DeliveryPage:
    """One page, newest first; ``BadInputError`` naming ``query.cursor`` for a cursor not ours."""
    stmt = select(DeliveryOrderRow).order_by(DeliveryOrderRow.id.desc()).limit(limit + 1)
    if filters.status:
        stmt = stmt.where(DeliveryOrderRow.status.in_(filters.status))
    if filters.warehouse:
        stmt = stmt.where(DeliveryOrderRow.warehouse == filters.warehouse)
    if filters.kind:
        stmt = stmt.where(DeliveryOrderRow.kind == filters.kind)
    if filters.shops is not None:
        stmt = stmt.where(of_orders_in(DeliveryOrderRow.order_id, filters.shops))
    if filters.order_id is not None:
        stmt = stmt.where(DeliveryOrderRow.id.in_(select(DeliveryLineRow.delivery_order_id).where(
            DeliveryLineRow.order_id == filters.order_id)))
    if cursor:
        stmt = stmt.where(DeliveryOrderRow.id < decode_id_cursor(_CURSOR_PREFIX, cursor))
    rows = list((await session.execute(stmt)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return DeliveryPage(rows, encode_id_cursor(_CURSOR_PREFIX, rows[-1].id) if more and rows else None)


@dataclass(frozen=True)
class DeliveryDetail:
    row: DeliveryOrderRow
    lines: list[DeliveryLineRow]
    parcels: list[ParcelRow]


async def delivery_detail(session: AsyncSession, do_id: int) -> DeliveryDetail | None:
    row = (await session.execute(select(DeliveryOrderRow).where(DeliveryOrderRow.id == do_id))).scalar_one_or_none()
    if row is None:
        return None
    parcels = list((await session.execute(select(ParcelRow).where(ParcelRow.delivery_order_id == do_id)
                                          .order_by(ParcelRow.seq, ParcelRow.id))).scalars())
    return DeliveryDetail(row, await _lines(session, do_id), parcels)


async def for_order(session: AsyncSession, order_id: int) -> list[DeliveryDetail]:
    """Every delivery order with lines of ``order_id``, oldest first, with lines and parcels."""
    ids = sorted(set((await session.execute(select(DeliveryLineRow.delivery_order_id).where(
        DeliveryLineRow.order_id == order_id))).scalars()))
    found = [await delivery_detail(session, do_id) for do_id in ids]
    return [d for d in found if d is not None]
