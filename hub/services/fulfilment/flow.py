"""The fulfilment flow's driver: an approved order is routed, sent to its warehouse and, for the
hub's own warehouse, given parcels that wait for waybills; each step idempotent and at least once.

``FULFIL_ACTOR`` (``fulfil_orders``) takes approved orders' ids from the outbox (the review writes
them); ``fulfil_orders`` moves each as far as it can go without a person, in one transaction per
batch with the orders locked: ``planning.plan_groups`` → ``routing.route`` per group → delivery
orders and their lines → fulfilment status ``routed``; a WMS's delivery orders go to the outbox
(``send_delivery_orders``), the own warehouse's are ``sent`` at once with one pending parcel each
(``issue_waybills``) and the order is ``sent_to_warehouse``. An order no warehouse or courier
matches is held (``no_warehouse`` / ``no_courier``) with the reason.

Only orders that are paid, approved, not on hold, not shipped and in no open delivery order are
taken, so a repeated message (or a batch retried after a rollback) creates nothing twice. Not for
talking to a WMS (``delivery_orders``), waybills (``waybills``) or merge/split plans (``planning``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.fulfilment import Hold
from contracts.inventory import StockChangeCause
from contracts.orders import Order, OrderStatus
from hub.context import Hub
from hub.db import outbox
from hub.db.tables import (
    DeliveryLineRow,
    DeliveryOrderRow,
    OrderEventRow,
    OrderHoldRow,
    OrderRow,
    ParcelRow,
    ReservationRow,
    StockLedgerRow,
    StockRow,
    utcnow,
)
from hub.errors import NotFoundError
from hub.services import orders
from hub.services.fulfilment import courier_rules, planning, routing
from hub.services.fulfilment import delivery_orders as dos
from hub.services.fulfilment.flow_actor import FULFIL_ACTOR
from hub.services.fulfilment.waybills import ISSUE_ACTOR
from hub.services.order_holds import add_holds
from hub.services.stock.reservations import ACTIVE

log = structlog.get_logger(__name__)

#: Fulfilment statuses an order may be (re-)routed from, when it is in no open delivery order: a
#: WMS refusal or a cancelled delivery order leaves it ``routed`` / ``sent_to_warehouse``.
ROUTABLE = ("unfulfilled", "routed", "sent_to_warehouse")
NO_WAREHOUSE, NO_COURIER = "no_warehouse", "no_courier"


@dataclass
class FulfilResult:
    """What one batch did: delivery order ids per order routed, hold codes per order held, and
    the orders left alone (not eligible: unpaid, unapproved, on hold, routed already…)."""

    routed: dict[int, list[int]] = field(default_factory=dict)
    held: dict[int, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)
    #: Per order: the routing reason, or the hold's reason.
    reasons: dict[int, str] = field(default_factory=dict)


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def _eligible(session: AsyncSession, order_ids: list[int]) -> list[OrderRow]:
    """The orders of ``order_ids`` that may be routed now, locked (PostgreSQL; SQLite serialises)."""
    stmt = (select(OrderRow).where(
        OrderRow.id.in_(order_ids), OrderRow.status == OrderStatus.PAID.value, OrderRow.review_status == "approved",
        OrderRow.on_hold.is_(False), OrderRow.fulfilment_status.in_(ROUTABLE))
        .order_by(OrderRow.id).execution_options(populate_existing=True))
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    rows = list((await session.execute(stmt)).scalars())
    if not rows:
        return []
    busy = set((await session.execute(
        select(DeliveryLineRow.order_id)
        .join(DeliveryOrderRow, DeliveryOrderRow.id == DeliveryLineRow.delivery_order_id)
        .where(DeliveryLineRow.order_id.in_([r.id for r in rows]), DeliveryOrderRow.status.not_in(dos.CLOSED))
    )).scalars())
    return [r for r in rows if r.id not in busy]


@dataclass(frozen=True)
class _Part:
    warehouse: str
    kind: str
    lines: list[planning.GroupLine]
    courier: courier_rules.CourierChoice | None = None


def _group_order(rows: dict[int, OrderRow], group: planning.DeliveryGroup
                 ) -> tuple[Order, dict[str, planning.GroupLine]]:
    """The order routing sees for ``group`` (its first order, with the group's lines) and the
    group's lines by the line id it shows (``<order id>/<line>`` when several orders merge)."""
    first = orders.stored_order(rows[group.order_ids[0]])
    merged = len(group.order_ids) > 1
    by_id: dict[str, planning.GroupLine] = {}
    canonical = {(o, line.external_id): line for o in group.order_ids if o in rows
                 for line in (orders.stored_order(rows[o]) if o != group.order_ids[0] else first).lines}
    lines = []
    for gl in group.lines:
        shown = f"{gl.order_id}/{gl.line_external_id}" if merged else gl.line_external_id
        by_id[shown] = gl
        base = canonical.get((gl.order_id, gl.line_external_id))
        if base is not None:
            lines.append(base.model_copy(update={"external_id": shown, "quantity": gl.quantity,
                                                 "merchant_sku": gl.merchant_sku}))
    return first.model_copy(update={"lines": lines}), by_id


async def _next_seq(session: AsyncSession, order_ids: list[int]) -> dict[int, int]:
    """How many delivery orders each order has had (the next code's number is one more)."""
    counts = await session.execute(select(DeliveryOrderRow.order_id, func.count()).where(
        DeliveryOrderRow.order_id.in_(order_ids)).group_by(DeliveryOrderRow.order_id))
    return {int(o): int(n) for o, n in counts}


def _plan(hub: Hub, order: Order, group: planning.DeliveryGroup, by_id: dict[str, planning.GroupLine],
          stock: dict[str, dict[str, int]], warehouses: list[str]) -> tuple[list[_Part], str] | Hold:
    """The group's parts per warehouse (with the own warehouse's courier), or the hold it gets."""
    order_id = group.order_ids[0]
    try:
        decision = routing.route(hub.plugins, order, order_id, warehouses, stock,
                                 routing.warehouse_regions(hub.config))
    except ValueError as exc:
        return Hold(code=NO_WAREHOUSE, reason=f"routing failed: {exc}")
    if decision.warehouse is not None:
        split = {decision.warehouse: list(by_id)}
    elif decision.split:
        split = decision.split
    else:
        return Hold(code=NO_WAREHOUSE, reason=f"no warehouse: {decision.reason or 'the routing rule matched nothing'}")
    parts: list[_Part] = []
    for wh in sorted(split, key=lambda w: (warehouses.index(w) if w in warehouses else len(warehouses), w)):
        lines = [by_id[line] for line in split[wh] if line in by_id]
        if not lines:
            continue
        kind = dos.warehouse_kind(hub, wh)
        choice = None
        if kind == dos.OWN:
            try:
                choice = courier_rules.choose(hub, order, order_id, wh)
            except ValueError as exc:
                return Hold(code=NO_COURIER, reason=f"courier choice failed: {exc}")
            if choice is None:
                return Hold(code=NO_COURIER, reason=f"no courier rule matches a parcel from {wh}; configure a "
                                                    "[couriers.<name>] account or a rule that covers it")
        parts.append(_Part(wh, kind, lines, choice))
        for gl in lines:  # the next groups of the batch see what this one took
            if gl.merchant_sku and wh in stock:
                stock[wh][gl.merchant_sku] = stock[wh].get(gl.merchant_sku, 0) - gl.quantity
    return parts, decision.reason


def automatic(hub: Hub) -> bool:
    """Whether approved orders are routed without a person: ``[fulfilment.routing] auto`` when set;
    unset, only when there is something to automate — an enabled WMS warehouse (delivery orders to
    send) or an enabled ``[couriers.<name>]`` account (waybills to issue). A hub with only its own
    warehouses (``platform = "manual"`` or the embedded ``default``) and no courier account cannot
    issue a waybill: routing there would only hold every order ``no_courier`` and refuse the
    shipments a person records, so its orders stay unrouted for a person to ship, as before
    fulfilment existed (``POST /api/v1/orders/{id}/route`` still routes one on demand)."""
    auto = hub.config.fulfilment.routing.auto
    if auto is not None:
        return auto
    if any(c.enabled for c in hub.config.couriers.values()):
        return True
    return any(dos.warehouse_kind(hub, wh) == dos.WMS for wh in routing.enabled_warehouses(hub.config))


async def fulfil_orders(hub: Hub, order_ids: list[int], *, actor: str | None = None,
                        manual: bool = False) -> FulfilResult:
    """Route and send every approved, unheld, unfulfilled order of ``order_ids`` (one transaction).

    ``manual``: a person asked (``POST /api/v1/orders/{id}/route``), so routing that is not
    ``automatic`` (``[fulfilment.routing] auto = false``, or nothing to automate) does not stop
    it. ``actor`` is recorded in the history (``hub`` when None)."""
    result = FulfilResult()
    ids = sorted(set(order_ids))
    if not ids:
        return result
    if not manual and not automatic(hub):
        result.skipped = ids
        return result
    who = actor or "hub"
    prefix = hub.config.fulfilment.routing.code_prefix
    warehouses = routing.enabled_warehouses(hub.config)
    async with hub.database().transaction() as session:
        rows = await _eligible(session, ids)
        by_id = {r.id: r for r in rows}
        result.skipped = [i for i in ids if i not in by_id]
        if not rows:
            return result
        groups, holds = await planning.plan_groups(hub, session, rows)
        skus = {gl.merchant_sku for g in groups for gl in g.lines if gl.merchant_sku}
        stock = await routing.warehouse_stock(session, skus, warehouses, by_id)
        seq = await _next_seq(session, list(by_id))
        created: list[tuple[DeliveryOrderRow, _Part, planning.DeliveryGroup, str]] = []
        for planned_group in groups:
            # Only the batch's eligible (locked) orders: a plan may name others, routed on their own turn.
            group_ids = [o for o in planned_group.order_ids if o in by_id]
            group = planning.DeliveryGroup(order_ids=group_ids, reason=planned_group.reason,
                                           data=planned_group.data,
                                           lines=[gl for gl in planned_group.lines if gl.order_id in by_id])
            if not group_ids or not group.lines:
                continue
            order, shown = _group_order(by_id, group)
            planned = _plan(hub, order, group, shown, stock, warehouses)
            if isinstance(planned, Hold):
                holds += [(o, planned) for o in group_ids]
                continue
            parts, reason = planned
            first = group.order_ids[0]
            for part in parts:
                seq[first] = seq.get(first, 0) + 1
                row = DeliveryOrderRow(
                    code=f"{prefix}{first}-{seq[first]}", order_id=first, warehouse=part.warehouse, kind=part.kind,
                    status=dos.SENT if part.kind == dos.OWN else dos.PENDING,
                    courier_code=part.courier.courier_code if part.courier else None,
                    data={"reason": reason, "group": group.reason, "group_data": dict(group.data),
                          "order_ids": group.order_ids,
                          "history": [dos.history_entry("created", who, reason=reason)]},
                    attempts=0, created_by=who, created_at=utcnow(),
                    sent_at=utcnow() if part.kind == dos.OWN else None)
                session.add(row)
                created.append((row, part, group, reason))
        await session.flush()
        session.add_all([DeliveryLineRow(delivery_order_id=row.id, order_id=gl.order_id,
                                         line_external_id=gl.line_external_id, merchant_sku=gl.merchant_sku,
                                         quantity=gl.quantity)
                         for row, part, _, _ in created for gl in part.lines])
        parcels = [ParcelRow(key=f"P{row.id}-1", delivery_order_id=row.id, order_id=row.order_id, seq=1,
                             courier_code=part.courier.courier_code, courier_account=part.courier.account,
                             status="pending", attempts=0, created_at=utcnow())
                   for row, part, _, _ in created if part.kind == dos.OWN and part.courier is not None]
        session.add_all(parcels)
        await session.flush()
        await _record(session, created, who, result)
        await follow_reservations(session, [(gl.order_id, gl.line_external_id, row.warehouse)
                                            for row, part, _, _ in created for gl in part.lines])
        if holds:
            await add_holds(session, holds, cause="fulfilment", actor=who)
            for order_id, hold in holds:
                result.held.setdefault(order_id, hold.code)
                result.reasons.setdefault(order_id, hold.reason)
        wms = [row.id for row, part, _, _ in created if part.kind == dos.WMS]
        if wms:
            outbox.add(session, dos.SEND_ACTOR, wms)
        if parcels:
            outbox.add(session, ISSUE_ACTOR, [p.id for p in parcels])
    log.info("fulfilment.routed", orders=len(result.routed), held=len(result.held), skipped=len(result.skipped),
             delivery_orders=sum(len(v) for v in result.routed.values()))
    return result


async def follow_reservations(session: AsyncSession, moves: list[tuple[int, str, str]]) -> list[int]:
    """Move the active reservations of each ``(order id, line id, warehouse)`` to the warehouse
    the line was routed to, so the stock it will ship is the stock it holds (reservations are
    taken in priority order; regions or a plugin may route elsewhere). Per reservation: reserved
    moves from the old warehouse's stock row to the new one's only where the new one still has
    the units (else it stays where it is), with a ledger row on each side. The batch's stock rows
    are locked in SKU order first, as reserving does, so the two never deadlock. Returns the
    reservation ids moved."""
    if not moves:
        return []
    target = {(o, line): wh for o, line, wh in moves}
    rows = [r for r in (await session.execute(select(ReservationRow).where(
        ReservationRow.order_id.in_({o for o, _, _ in moves}), ReservationRow.state == ACTIVE)
        .order_by(ReservationRow.id))).scalars()
        if r.warehouse is not None and _routed_to(target, r) not in (None, r.warehouse)]
    if not rows:
        return []
    skus = sorted({r.merchant_sku for r in rows})
    lock = select(StockRow.id).where(StockRow.merchant_sku.in_(skus)).order_by(StockRow.merchant_sku, StockRow.id)
    if _dialect(session) == "postgresql":
        lock = lock.with_for_update()
    await session.execute(lock)
    moved: list[int] = []
    now = utcnow()
    for r in rows:
        new = _routed_to(target, r)
        assert new is not None and r.warehouse is not None
        took = await session.execute(
            update(StockRow).where(StockRow.warehouse == new, StockRow.merchant_sku == r.merchant_sku,
                                   StockRow.on_hand - StockRow.reserved >= r.quantity)
            .values(reserved=StockRow.reserved + r.quantity, updated_at=now)
            .execution_options(synchronize_session=False))
        if not getattr(took, "rowcount", 0):
            continue
        await session.execute(
            update(StockRow).where(StockRow.warehouse == r.warehouse, StockRow.merchant_sku == r.merchant_sku)
            .values(reserved=StockRow.reserved - r.quantity, updated_at=now)
            .execution_options(synchronize_session=False))
        await session.execute(update(ReservationRow).where(ReservationRow.id == r.id)
                              .values(warehouse=new, updated_at=now).execution_options(synchronize_session=False))
        note = f"{r.line_external_id}: routed from {r.warehouse} to {new}"
        session.add_all([
            StockLedgerRow(at=now, warehouse=r.warehouse, merchant_sku=r.merchant_sku, on_hand_delta=0,
                           reserved_delta=-r.quantity, cause=StockChangeCause.ORDER_RELEASED.value,
                           reference=f"order:{r.order_id}", note=note),
            StockLedgerRow(at=now, warehouse=new, merchant_sku=r.merchant_sku, on_hand_delta=0,
                           reserved_delta=r.quantity, cause=StockChangeCause.ORDER_RESERVED.value,
                           reference=f"order:{r.order_id}", note=note)])
        moved.append(r.id)
    return moved


def _routed_to(target: dict[tuple[int, str], str], row: ReservationRow) -> str | None:
    """Where the line of reservation ``row`` (a line id, or ``line/component`` for a bundle) went."""
    line = row.line_external_id
    found = target.get((row.order_id, line))
    if found is None and "/" in line:
        found = target.get((row.order_id, line.rsplit("/", 1)[0]))
    return found


async def _record(session: AsyncSession, created: list[tuple[DeliveryOrderRow, _Part, planning.DeliveryGroup, str]],
                  who: str, result: FulfilResult) -> None:
    """The orders' fulfilment status and history for the delivery orders just created."""
    per_order: dict[int, list[tuple[DeliveryOrderRow, str]]] = {}
    reasons: dict[int, str] = {}
    for row, part, _group, reason in created:
        for order_id in sorted({gl.order_id for gl in part.lines}):
            per_order.setdefault(order_id, []).append((row, part.kind))
            reasons[order_id] = reason
    for order_id, made in per_order.items():
        result.routed[order_id] = [row.id for row, _ in made]
        result.reasons[order_id] = reasons[order_id]
        detail: dict[str, Any] = {"delivery_orders": [{"id": row.id, "code": row.code, "warehouse": row.warehouse,
                                                       "kind": kind} for row, kind in made],
                                  "reason": reasons[order_id]}
        session.add(OrderEventRow(order_id=order_id, at=utcnow(), kind="routed", old_status=None, new_status=None,
                                  cause="fulfilment", actor=who, detail=detail))
        await orders.set_fulfilment_status(session, order_id, "routed", cause="fulfilment", actor=who,
                                           detail={"delivery_orders": [row.code for row, _ in made]})
        if all(kind == dos.OWN for _, kind in made):
            await orders.set_fulfilment_status(session, order_id, "sent_to_warehouse", cause="fulfilment", actor=who,
                                               detail={"delivery_orders": [row.code for row, _ in made]})


async def why_not_routable(hub: Hub, order_id: int) -> str | None:
    """Why ``order_id`` cannot be routed now (None: it can). Raises ``NotFoundError``."""
    async with hub.database().session() as session:
        row = (await session.execute(select(OrderRow).where(OrderRow.id == order_id))).scalar_one_or_none()
        if row is None:
            raise NotFoundError(f"order {order_id} does not exist")
        if row.status != OrderStatus.PAID.value:
            return f"order {order_id} is {row.status} (channel status {row.raw_status}); only paid orders are routed"
        if row.review_status != "approved":
            return (f"order {order_id} is not approved by the review (review status: {row.review_status or 'none'}); "
                    "approve it first")
        if row.on_hold:
            codes = sorted((await session.execute(select(OrderHoldRow.code).where(
                OrderHoldRow.order_id == order_id, OrderHoldRow.released_at.is_(None)))).scalars())
            return f"order {order_id} is on hold ({', '.join(codes) or 'on hold'}); release the hold first"
        if row.fulfilment_status not in ROUTABLE:
            return f"order {order_id} is already {row.fulfilment_status}"
        open_codes = sorted((await session.execute(
            select(DeliveryOrderRow.code)
            .join(DeliveryLineRow, DeliveryLineRow.delivery_order_id == DeliveryOrderRow.id)
            .where(DeliveryLineRow.order_id == order_id, DeliveryOrderRow.status.not_in(dos.CLOSED)))).scalars())
        if open_codes:
            return (f"order {order_id} is in open delivery order(s) {', '.join(sorted(set(open_codes)))}; "
                    "cancel them to route it again")
    return None


# --------------------------------------------------------------------------- recovering lost messages

SWEEP_ACTOR = "sweep_delivery"


@dataclass(frozen=True)
class Swept:
    orders: list[int]
    delivery_orders: list[int]


async def sweep(hub: Hub, *, now: datetime | None = None) -> Swept:
    """Re-enqueue what a broker lost (``hub.services.sweepers``' rule, ``[queue] sweep_*``):
    approved orders reviewed longer than ``sweep_after_s`` ago and still in no delivery order
    (``fulfil_orders``; only when routing is ``automatic``), and WMS delivery orders still pending that long
    after their last change or sweep (``send_delivery_orders``, marking ``swept_at``). Both actors
    skip what is done, so racing a slow message does no harm."""
    queue = hub.config.queue
    now = now or utcnow()
    before = now - timedelta(seconds=queue.sweep_after_s)
    horizon = now - timedelta(days=queue.sweep_horizon_days)
    order_ids: list[int] = []
    async with hub.database().transaction() as session:
        if automatic(hub):
            in_any = select(DeliveryLineRow.id).where(DeliveryLineRow.order_id == OrderRow.id).exists()
            order_ids = list((await session.execute(
                select(OrderRow.id).where(
                    OrderRow.status == OrderStatus.PAID.value, OrderRow.review_status == "approved",
                    OrderRow.on_hold.is_(False), OrderRow.fulfilment_status == "unfulfilled",
                    OrderRow.reviewed_at < before, OrderRow.reviewed_at > horizon, ~in_any)
                .order_by(OrderRow.id).limit(queue.sweep_batch))).scalars())
        changed = func.coalesce(DeliveryOrderRow.updated_at, DeliveryOrderRow.created_at)
        do_ids = list((await session.execute(
            select(DeliveryOrderRow.id).where(
                DeliveryOrderRow.status == dos.PENDING, DeliveryOrderRow.kind == dos.WMS, changed < before,
                or_(DeliveryOrderRow.swept_at.is_(None), DeliveryOrderRow.swept_at < before))
            .order_by(DeliveryOrderRow.id).limit(queue.sweep_batch))).scalars())
        if do_ids:
            await session.execute(update(DeliveryOrderRow).where(DeliveryOrderRow.id.in_(do_ids))
                                  .values(swept_at=now).execution_options(synchronize_session=False))
    if order_ids:
        hub.send(FULFIL_ACTOR, order_ids)
    if do_ids:
        hub.send(dos.SEND_ACTOR, do_ids)
    if order_ids or do_ids:
        log.warning("fulfilment.swept", orders=len(order_ids), delivery_orders=len(do_ids))
    return Swept(order_ids, do_ids)
