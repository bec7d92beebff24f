"""Interception: stopping a shipment that a refund or a channel cancellation overtook.

At once, in the transaction that stores the after-sale case (``on_aftersale``) or the channel's
cancellation (``hub.services.orders`` already holds ``cancel_requested`` there), the order gets a
hold and an ``intercept_orders`` message goes to the outbox. The actor (``intercept``) then
cancels the order's delivery orders (``delivery_orders.cancel_for_order``: at the WMS once sent)
and the issued waybills of parcels whose delivery order is cancelled
(``waybills.cancel_waybills``). What comes too late (shipped, or the WMS refused) becomes a
``late_cancel`` fulfilment exception, never a silent shipment. Every step writes an order event;
everything is idempotent (holds unique per code, exceptions unique per subject) and a periodic
sweep sends the message again for held orders still holding something open. A refund withdrawn
or refused releases the hold (as ``system``) only while nothing was cancelled yet; otherwise the
hold stays for a person with its reason updated. Once nothing of the order is on its way any more,
its standing refunds give back the stock of their lines (``hub.services.aftersales.refund_release``,
once per line): this module itself never touches reservations. Not for deciding refunds (the
channel does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.aftersales import AfterSale, AfterSaleStatus, AfterSaleType
from contracts.fulfilment import Hold
from hub.context import Hub
from hub.db import outbox
from hub.db.tables import (
    AfterSaleRow,
    DeliveryLineRow,
    DeliveryOrderRow,
    FulfilmentExceptionRow,
    OrderEventRow,
    OrderHoldRow,
    OrderRow,
    ParcelRow,
)
from hub.db.upsert import insert_ignore
from hub.services import orders as order_service

log = structlog.get_logger(__name__)

INTERCEPT_ACTOR = "intercept_orders"
REFUND_HOLD = "refund_requested"
CANCEL_HOLD = "cancel_requested"  # put by hub.services.orders on a channel cancellation after routing
MANUAL_HOLD = "intercept_requested"
PARTNER_HOLD = "merged_delivery_cancelled"
HOLDS = (REFUND_HOLD, CANCEL_HOLD, MANUAL_HOLD)
LATE_CANCEL = "late_cancel"
REFUND_TYPES = frozenset({AfterSaleType.REFUND_ONLY, AfterSaleType.RETURN_AND_REFUND})
#: A refund case in these statuses stops the shipment; in WITHDRAWN it no longer does.
ACTIVE = frozenset({AfterSaleStatus.REQUESTED, AfterSaleStatus.APPROVED, AfterSaleStatus.AWAITING_RETURN,
                    AfterSaleStatus.REFUNDING, AfterSaleStatus.REFUNDED})
WITHDRAWN = frozenset({AfterSaleStatus.CLOSED, AfterSaleStatus.REJECTED})
#: Fulfilment before the goods all left: a refund here is intercepted.
BEFORE_SHIPPED = frozenset({"unfulfilled", "routed", "sent_to_warehouse", "partially_shipped"})
#: Parcels whose waybill is issued and unused.
OPEN_PARCELS = ("issued", "printed")
CANCELLED_EVENT = "intercept_cancelled"


#: Orders the platform has ended: a refund reported afterwards (messages arrive in any order) must
#: not put a hold back on them.
CLOSED_ORDER_STATUSES = frozenset({"cancelled", "closed"})


def _event(order_id: int, kind: str, actor: str | None, detail: dict[str, Any], cause: str = "system"
           ) -> dict[str, Any]:
    return {"order_id": order_id, "at": datetime.now(UTC), "kind": kind, "old_status": None, "new_status": None,
            "cause": cause, "actor": actor, "inbox_id": None, "detail": detail}


async def on_aftersale(session: AsyncSession, case: AfterSale, order_id: int | None) -> None:
    """An after-sale case was stored or moved (in its transaction): a refund requested before the
    goods all left holds the order and queues its interception; a refund withdrawn or refused
    lifts the hold if nothing was cancelled yet."""
    if order_id is None or case.type not in REFUND_TYPES:
        return
    if case.status in WITHDRAWN:
        await _refund_withdrawn(session, order_id, case)
        return
    if case.status not in ACTIVE:
        return
    found = (await session.execute(select(OrderRow.fulfilment_status, OrderRow.status)
                                   .where(OrderRow.id == order_id))).one_or_none()
    if found is None:
        return
    fulfilment, order_status = found
    if fulfilment not in BEFORE_SHIPPED:
        return  # shipped already: a return, not an interception
    if order_status in CLOSED_ORDER_STATUSES:
        return  # the platform closed the order already (a full refund): nothing left to stop or hold
    lines = ", ".join(line.line_external_id or line.merchant_sku or "?" for line in case.lines) or "all lines"
    hold = Hold(code=REFUND_HOLD, reason=(
        f"refund {case.ref.external_id} ({case.type.value}, {case.status.value}) requested before shipment "
        f"({lines}); the shipment is being stopped"))
    if await order_service.add_hold(session, order_id, hold, cause="aftersale", actor=None):
        outbox.add(session, INTERCEPT_ACTOR, [order_id])


def queue_interception(session: AsyncSession, order_ids: list[int]) -> None:
    """Queue the interception of ``order_ids`` (after a ``cancel_requested`` hold, in its transaction)."""
    if order_ids:
        outbox.add(session, INTERCEPT_ACTOR, sorted(set(order_ids)))


async def anything_cancelled(session: AsyncSession, order_id: int) -> bool:
    return (await session.scalar(select(OrderEventRow.id).where(
        OrderEventRow.order_id == order_id, OrderEventRow.kind == CANCELLED_EVENT).limit(1))) is not None


async def _refund_withdrawn(session: AsyncSession, order_id: int, case: AfterSale) -> None:
    hold = (await session.execute(select(OrderHoldRow).where(
        OrderHoldRow.order_id == order_id, OrderHoldRow.code == REFUND_HOLD,
        OrderHoldRow.released_at.is_(None)))).scalar_one_or_none()
    if hold is None:
        return
    others = (await session.scalar(select(AfterSaleRow.id).where(
        AfterSaleRow.order_id == order_id, AfterSaleRow.external_id != case.ref.external_id,
        AfterSaleRow.type.in_([t.value for t in REFUND_TYPES]),
        AfterSaleRow.status.in_([s.value for s in ACTIVE])).limit(1)))
    if others is not None:
        return  # another refund of this order still stands
    if not await anything_cancelled(session, order_id):
        await order_service.release_hold(session, order_id, REFUND_HOLD, actor="system", cause="aftersale")
        return
    reason = (f"refund {case.ref.external_id} was {case.status.value} after the shipment was stopped: send the "
              "order again (route it) and release this hold")
    await session.execute(update(OrderHoldRow).where(OrderHoldRow.id == hold.id).values(reason=reason))
    await session.execute(insert(OrderEventRow), [_event(order_id, "intercept_withdrawn", None, {
        "aftersale": case.ref.external_id, "status": case.status.value}, cause="aftersale")])


async def request(session: AsyncSession, order_id: int, *, actor: str, reason: str = "") -> bool:
    """A person asks to stop the order's shipment: hold ``intercept_requested`` and queue the
    interception; False when the goods already all left."""
    fulfilment = await session.scalar(select(OrderRow.fulfilment_status).where(OrderRow.id == order_id))
    if fulfilment not in BEFORE_SHIPPED:
        return False
    hold = Hold(code=MANUAL_HOLD, reason=reason or f"{actor} stopped the shipment")
    await order_service.add_hold(session, order_id, hold, cause="api", actor=actor)
    outbox.add(session, INTERCEPT_ACTOR, [order_id])
    return True


@dataclass
class Targets:
    held: list[str] = field(default_factory=list)
    delivery_orders: dict[int, str] = field(default_factory=dict)  # id → status
    parcels: dict[int, tuple[int | None, str]] = field(default_factory=dict)  # id → (delivery order, status)


def _delivery_orders_of(order_id: int) -> Any:
    mine = select(DeliveryLineRow.delivery_order_id).where(DeliveryLineRow.order_id == order_id)
    return select(DeliveryOrderRow).where(or_(DeliveryOrderRow.order_id == order_id, DeliveryOrderRow.id.in_(mine)))


async def targets(session: AsyncSession, order_id: int) -> Targets:
    """The order's interception holds, delivery orders and parcels as they stand."""
    out = Targets()
    out.held = sorted((await session.execute(select(OrderHoldRow.code).where(
        OrderHoldRow.order_id == order_id, OrderHoldRow.code.in_(HOLDS),
        OrderHoldRow.released_at.is_(None)))).scalars())
    dos = (await session.execute(_delivery_orders_of(order_id))).scalars().all()
    out.delivery_orders = {d.id: d.status for d in dos}
    parcels = (await session.execute(select(ParcelRow).where(or_(
        ParcelRow.order_id == order_id, ParcelRow.delivery_order_id.in_(list(out.delivery_orders) or [-1]))))).scalars()
    out.parcels = {p.id: (p.delivery_order_id, p.status) for p in parcels}
    return out


async def _raise(session: AsyncSession, order_id: int, subject: str, reason: str) -> bool:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    inserted = await session.execute(insert_ignore(FulfilmentExceptionRow, dialect).values(
        order_id=order_id, kind=LATE_CANCEL, subject=subject, reason=reason, raised_at=datetime.now(UTC))
        .returning(FulfilmentExceptionRow.id))
    return inserted.scalar_one_or_none() is not None


async def intercept(hub: Hub, order_id: int, *, actor: str | None = None) -> dict[str, Any]:
    """Stop what can be stopped of one held order's shipment; returns what happened."""
    from hub.services.fulfilment import delivery_orders, waybills

    async with hub.database().session() as session:
        state = await targets(session, order_id)
    if not state.held:
        return {"order_id": order_id, "skipped": "no interception hold open"}
    open_dos = [i for i, s in state.delivery_orders.items() if s != "cancelled"]
    result: dict[str, Any] = {"order_id": order_id, "cancelled": [], "too_late": [], "waybills_cancelled": [],
                              "waybills_not_cancelled": []}
    if not open_dos and not any(s in OPEN_PARCELS for _, s in state.parcels.values()):
        async with hub.database().transaction() as session:
            seen = await session.scalar(select(OrderEventRow.id).where(
                OrderEventRow.order_id == order_id, OrderEventRow.kind == "intercept_nothing_sent").limit(1))
            if seen is None:
                await session.execute(insert(OrderEventRow), [_event(order_id, "intercept_nothing_sent", actor, {
                    "holds": state.held})])
        result["nothing_sent"] = True
        # Also after a run that cancelled the deliveries but stopped before giving the stock back.
        await _refunds_give_back(hub, order_id)
        return result
    reason = f"interception ({', '.join(state.held)})"
    outcome = await delivery_orders.cancel_for_order(hub, order_id, reason=reason, actor=actor)
    cancelled = set(outcome.cancelled) | {i for i, s in state.delivery_orders.items() if s == "cancelled"}
    parcel_ids = sorted(p for p, (do, s) in state.parcels.items()
                        if s in OPEN_PARCELS and (do is None or do in cancelled))
    done_parcels = await waybills.cancel_waybills(hub, parcel_ids, actor=actor) if parcel_ids else []
    result.update(cancelled=sorted(outcome.cancelled), too_late=sorted(outcome.too_late),
                  waybills_cancelled=sorted(done_parcels),
                  waybills_not_cancelled=sorted(set(parcel_ids) - set(done_parcels)))
    await _record(hub, order_id, result, actor)
    if result["cancelled"]:
        await _refunds_give_back(hub, order_id)
    return result


async def _refunds_give_back(hub: Hub, order_id: int) -> None:
    """The refunded lines were waiting for their delivery to be stopped: their stock goes back now
    (each line once, whatever the repeats: ``refund_release``)."""
    from hub.services.aftersales import refund_release

    await refund_release.release_for_order(hub, order_id)


async def _record(hub: Hub, order_id: int, result: dict[str, Any], actor: str | None) -> None:
    events: list[dict[str, Any]] = []
    async with hub.database().transaction() as session:
        stmt = select(OrderRow.status).where(OrderRow.id == order_id)
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        order_status = await session.scalar(stmt)  # one recorder per order at a time
        if result["cancelled"] or result["waybills_cancelled"]:
            events.append(_event(order_id, CANCELLED_EVENT, actor, {
                "delivery_orders": result["cancelled"], "parcels": result["waybills_cancelled"]}))
        for do_id in result["too_late"]:
            status = await session.scalar(select(DeliveryOrderRow.status).where(DeliveryOrderRow.id == do_id))
            why = (f"delivery order {do_id} could not be cancelled (status {status}): it shipped or the warehouse "
                   "refused; stop the parcel with the courier or handle it as a return")
            if await _raise(session, order_id, f"delivery_order:{do_id}", why):
                events.append(_event(order_id, "intercept_too_late", actor, {"delivery_order": do_id,
                                                                             "status": status}))
        for parcel_id in result["waybills_not_cancelled"]:
            why = f"the waybill of parcel {parcel_id} could not be cancelled: check it is not used"
            if await _raise(session, order_id, f"parcel:{parcel_id}", why):
                events.append(_event(order_id, "intercept_too_late", actor, {"parcel": parcel_id}))
        if result["cancelled"]:
            await _hold_partners(session, order_id, result["cancelled"], events, actor)
            # A refund withdrawn while this ran released its hold: the order needs a person now. Not
            # an order closed meanwhile (its holds were lifted because nothing of it ships any more).
            held = (await session.execute(select(OrderHoldRow.code).where(
                OrderHoldRow.order_id == order_id, OrderHoldRow.code.in_(HOLDS),
                OrderHoldRow.released_at.is_(None)))).scalars().first()
            if held is None and order_status not in CLOSED_ORDER_STATUSES:
                await order_service.add_hold(session, order_id, Hold(code=REFUND_HOLD, reason=(
                    "its delivery was cancelled by an interception whose cause was withdrawn meanwhile: send the "
                    "order again (route it) and release this hold")), cause="system")
        if events:
            await session.execute(insert(OrderEventRow), events)
    if result["too_late"] or result["waybills_not_cancelled"]:
        log.warning("interception.too_late", order_id=order_id, delivery_orders=result["too_late"],
                    parcels=result["waybills_not_cancelled"])


async def _hold_partners(session: AsyncSession, order_id: int, cancelled: list[int], events: list[dict[str, Any]],
                         actor: str | None) -> None:
    """Orders merged into a cancelled delivery order with the intercepted one wait for a person."""
    partners = sorted(set((await session.execute(select(DeliveryLineRow.order_id).where(
        DeliveryLineRow.delivery_order_id.in_(cancelled), DeliveryLineRow.order_id != order_id))).scalars()))
    for partner in partners:
        hold = Hold(code=PARTNER_HOLD, reason=(
            f"its merged delivery was cancelled because order {order_id} in it was intercepted: send it again"))
        await order_service.add_hold(session, partner, hold, cause="system", actor=actor)


async def intercept_orders(hub: Hub, order_ids: list[int], *, actor: str | None = None) -> list[dict[str, Any]]:
    """``intercept`` each order in turn (the actor's body)."""
    return [await intercept(hub, int(order_id), actor=actor) for order_id in order_ids]


async def due(hub: Hub, limit: int = 200) -> list[int]:
    """Held orders that still have a delivery order not cancelled and no open ``late_cancel``
    exception: their interception message was lost or is still owed (the sweep sends it again)."""
    async with hub.database().session() as session:
        held = select(OrderHoldRow.order_id).where(OrderHoldRow.code.in_(HOLDS), OrderHoldRow.released_at.is_(None))
        late = select(FulfilmentExceptionRow.order_id).where(FulfilmentExceptionRow.kind == LATE_CANCEL,
                                                              FulfilmentExceptionRow.resolved_at.is_(None))
        open_dos = select(DeliveryLineRow.order_id).join(
            DeliveryOrderRow, DeliveryOrderRow.id == DeliveryLineRow.delivery_order_id).where(
            DeliveryOrderRow.status != "cancelled")
        rows = await session.execute(select(OrderRow.id).where(
            OrderRow.id.in_(held), OrderRow.id.in_(open_dos), OrderRow.id.not_in(late)).order_by(OrderRow.id)
            .limit(limit))
        return [int(i) for i in rows.scalars()]


@dataclass
class InterceptionView:
    holds: list[dict[str, Any]] = field(default_factory=list)
    delivery_orders: dict[int, str] = field(default_factory=dict)
    parcels: dict[int, str] = field(default_factory=dict)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


async def view(session: AsyncSession, order_id: int) -> InterceptionView:
    """The order's interception state for the order panel and the API."""
    out = InterceptionView()
    holds = (await session.execute(select(OrderHoldRow).where(
        OrderHoldRow.order_id == order_id, OrderHoldRow.code.in_((*HOLDS, PARTNER_HOLD))))).scalars()
    out.holds = [{"code": h.code, "reason": h.reason, "open": h.released_at is None, "released_by": h.released_by}
                 for h in holds]
    state = await targets(session, order_id)
    out.delivery_orders = state.delivery_orders
    out.parcels = {p: s for p, (_, s) in state.parcels.items()}
    exc = (await session.execute(select(FulfilmentExceptionRow).where(
        FulfilmentExceptionRow.order_id == order_id, FulfilmentExceptionRow.kind == LATE_CANCEL))).scalars()
    out.exceptions = [{"subject": e.subject, "reason": e.reason, "open": e.resolved_at is None} for e in exc]
    events = (await session.execute(select(OrderEventRow).where(
        OrderEventRow.order_id == order_id, OrderEventRow.kind.like("intercept%"))
        .order_by(OrderEventRow.id))).scalars()
    out.events = [{"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "detail": dict(e.detail or {})}
                  for e in events]
    return out
