"""Stock given back when a refund overtakes the shipment: the reserved units of the refunded lines
go back to available, once per case line, with a stock-ledger row and a case history row.

A refund-only case approved (or refunding, refunded) — or a return case refunded — whose order is
still open and whose lines never left gives back what those lines hold: a one-line refund of a
three-line order frees that line only, a partial refund of a line (1 of 3 units) lowers its
reservation by the refunded units, and a bundle's components are freed in proportion. The order's
later shipment (``consume_reservations``) or cancellation (``release_reservations``) then moves only
what is still held, so nothing is counted twice, whichever comes first: the order row is locked
while the refund gives back, so an order closed meanwhile (a platform closes a trade refunded in
full before shipment) is either seen closed here (nothing given back) or released by the order
flow from what this left.

A line still in a live delivery order (sent, picking, packed...) is left alone: the fulfilment
interception stops that delivery first (``hub.services.fulfilment.interception``, which holds the
order and cancels its delivery orders, but does not touch reservations) and calls
``release_for_order`` when it cancelled something. A cancelled or closed order is skipped: the
order flow releases everything then (``hub.services.order_flow``). ``[aftersales]
release_on_refund = false`` turns this off. Not for restocking returned goods (``returns``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.aftersales import AfterSaleStatus, AfterSaleType
from contracts.inventory import StockChangeCause
from contracts.orders import OrderStatus
from hub.db import idempotency
from hub.db.tables import (
    AfterSaleEventRow,
    AfterSaleLineRow,
    AfterSaleRow,
    DeliveryLineRow,
    DeliveryOrderRow,
    OrderLineRow,
    OrderRow,
    ReservationRow,
    StockLedgerRow,
    StockRow,
)
from hub.services.stock import effects as stock_effects
from hub.services.stock import scheduling
from hub.services.stock.reservations import ACTIVE, RELEASED, SHORT
from hub.services.stock.skus import components_of

log = structlog.get_logger(__name__)

ACTOR = "rule:release_on_refund"
#: Per case type, the statuses in which the refund stands (the money goes or went back).
RELEASE_AT: dict[str, frozenset[str]] = {
    AfterSaleType.REFUND_ONLY.value: frozenset({AfterSaleStatus.APPROVED.value, AfterSaleStatus.REFUNDING.value,
                                                AfterSaleStatus.REFUNDED.value}),
    AfterSaleType.RETURN_AND_REFUND.value: frozenset({AfterSaleStatus.REFUNDING.value,
                                                      AfterSaleStatus.REFUNDED.value}),
}
#: Orders whose stock is still held by reservations (before these, nothing is reserved; after, the
#: order flow released or consumed it).
OPEN_ORDER = frozenset({OrderStatus.PENDING_PAYMENT.value, OrderStatus.PAID.value,
                        OrderStatus.PARTIALLY_SHIPPED.value})
#: Delivery orders that no longer carry their lines anywhere.
DEAD_DELIVERY = ("cancelled", "failed")


@dataclass(frozen=True)
class Target:
    """One case line resolved to its order line: give back ``units`` of it (``None``: all of it)."""

    position: int
    line_key: str
    merchant_sku: str | None
    units: int | None


@dataclass
class Released:
    """What one call gave back."""

    case_id: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    waiting: list[str] = field(default_factory=list)  # lines still in a live delivery order


def applies(case_type: str, status: str) -> bool:
    """Whether a case of ``case_type`` in ``status`` is a refund that stands."""
    return status in RELEASE_AT.get(case_type, frozenset())


async def _targets(session: AsyncSession, case: AfterSaleRow, order: OrderRow) -> list[Target]:
    """The case's lines as order lines. A line is found by its order line id, its external id, or
    its SKU when the order has one line of it; a case without lines is the whole order only when
    it refunds at least the order's total (a platform that reports no lines refunds per order)."""
    order_lines = (await session.execute(select(OrderLineRow).where(OrderLineRow.order_id == order.id)
                                         .order_by(OrderLineRow.id))).scalars().all()
    by_id = {ol.id: ol for ol in order_lines}
    by_key = {ol.external_id: ol for ol in order_lines}
    case_lines = (await session.execute(select(AfterSaleLineRow).where(AfterSaleLineRow.aftersale_id == case.id)
                                        .order_by(AfterSaleLineRow.position))).scalars().all()
    if not case_lines:
        reported = (case.data or {}).get("refund_amount") or {}
        amount = case.refund_amount if case.refund_amount is not None else (
            reported.get("amount") if isinstance(reported, dict) else None)
        if amount is None or Decimal(str(amount)) < Decimal(order.total_amount):
            return []
        return [Target(i, ol.external_id, ol.merchant_sku, None) for i, ol in enumerate(order_lines)]
    out: list[Target] = []
    for line in case_lines:
        found = by_id.get(line.order_line_id) if line.order_line_id is not None else None
        found = found or (by_key.get(line.line_external_id) if line.line_external_id else None)
        if found is None and line.merchant_sku:
            same = [ol for ol in order_lines if ol.merchant_sku == line.merchant_sku]
            found = same[0] if len(same) == 1 else None
        if found is None:
            continue
        units = line.quantity if 0 < line.quantity < found.quantity else None
        out.append(Target(line.position, found.external_id, found.merchant_sku, units))
    return out


async def _live_lines(session: AsyncSession, order_id: int) -> set[str]:
    """The order's line keys that are in a delivery order not cancelled (or failed)."""
    rows = await session.execute(
        select(DeliveryLineRow.line_external_id).join(
            DeliveryOrderRow, DeliveryOrderRow.id == DeliveryLineRow.delivery_order_id)
        .where(DeliveryLineRow.order_id == order_id, DeliveryOrderRow.status.not_in(DEAD_DELIVERY)))
    return {str(key) for key in rows.scalars()}


def _claim_key(case_id: int, position: int) -> str:
    return f"aftersale:{case_id}:release_line:{position}"


async def _give_back(session: AsyncSession, case: AfterSaleRow, order_id: int, target: Target,
                     per_unit: dict[str, dict[str, int]], now: datetime, out: Released) -> None:
    """Release (or lower) the reservations of one target's line, each row by a conditional UPDATE."""
    rows = (await session.execute(select(ReservationRow).where(
        ReservationRow.order_id == order_id, ReservationRow.state.in_([ACTIVE, SHORT]),
        or_(ReservationRow.line_external_id == target.line_key,
            ReservationRow.line_external_id.like(f"{target.line_key}/%"))))).scalars().all()
    for row in rows:
        if row.line_external_id == target.line_key:
            units = row.quantity if target.units is None else min(row.quantity, target.units)
        else:  # a bundle's component: so many per bundle
            component = row.line_external_id.split("/", 1)[1]
            each = per_unit.get(target.merchant_sku or "", {}).get(component)
            units = row.quantity if target.units is None or each is None else min(row.quantity,
                                                                                  each * target.units)
        whole = units >= row.quantity
        if not whole and row.state == SHORT:
            # A short line is reserved in full when stock comes (the order line's quantity), so
            # lowering it here would not stick; it holds nothing now anyway.
            continue
        values: dict[str, Any] = {"updated_at": now}
        values.update({"state": RELEASED} if whole else {"quantity": row.quantity - units})
        moved = await session.execute(
            update(ReservationRow).where(ReservationRow.id == row.id, ReservationRow.state == row.state,
                                         ReservationRow.quantity == row.quantity)
            .values(**values).execution_options(synchronize_session=False))
        if int(getattr(moved, "rowcount", 0) or 0) != 1:
            continue  # the order flow moved it meanwhile
        held = row.state == ACTIVE and row.warehouse is not None
        if held:
            await session.execute(
                update(StockRow).where(StockRow.warehouse == row.warehouse, StockRow.merchant_sku == row.merchant_sku)
                .values(reserved=StockRow.reserved - units, updated_at=now)
                .execution_options(synchronize_session=False))
            await session.execute(insert(StockLedgerRow), [{
                "at": now, "warehouse": row.warehouse, "merchant_sku": row.merchant_sku, "on_hand_delta": 0,
                "reserved_delta": -units, "cause": StockChangeCause.ORDER_RELEASED.value,
                "reference": f"order:{order_id}", "actor": ACTOR,
                "note": f"aftersale {case.id} ({case.external_id}) line {row.line_external_id}"}])
            out.touched.add(row.merchant_sku)
        out.lines.append({"position": target.position, "line": row.line_external_id, "sku": row.merchant_sku,
                          "units": units, "warehouse": row.warehouse if held else None,
                          "whole_line": whole})


async def release_refunded(session: AsyncSession, case_id: int) -> Released | None:
    """In the caller's transaction: give back the stock of the case's refunded lines not shipped,
    each case line once (an idempotency claim per line). None when the case does not qualify."""
    case = await session.get(AfterSaleRow, case_id)
    if case is None or case.order_id is None or not applies(case.type, case.status):
        return None
    # The order row locked (PostgreSQL; SQLite serialises writers anyway): a status change to
    # cancelled/closed/shipped updates this row, so it commits before or after this transaction,
    # never in the middle. After: the status read here is no longer open and nothing is given back.
    # Before: the order flow's release (or consumption), which runs once that change committed,
    # reads the reservations as this transaction left them. Either way each unit moves once.
    order = (await session.execute(select(OrderRow).where(OrderRow.id == case.order_id).with_for_update()
                                   .execution_options(populate_existing=True))).scalar_one_or_none()
    if order is None or order.status not in OPEN_ORDER:
        return None  # cancelled/closed: the order flow released it all; shipped: it left
    targets = await _targets(session, case, order)
    if not targets:
        return None
    out = Released(case.id)
    live = await _live_lines(session, order.id)
    bundles = await components_of(session, {t.merchant_sku for t in targets if t.merchant_sku})
    now = datetime.now(UTC)
    for target in targets:
        if target.line_key in live:
            out.waiting.append(target.line_key)
            continue  # in a delivery that may still ship: the interception calls again once it is cancelled
        if not await idempotency.claim(session, _claim_key(case.id, target.position)):
            continue  # given back before
        await _give_back(session, case, order.id, target, bundles, now, out)
    if out.lines:
        session.add(AfterSaleEventRow(aftersale_id=case.id, at=now, kind="rule", old_status=None,
                                      new_status=None, cause="rule", actor=ACTOR,
                                      detail={"rule": "release_on_refund", "order_id": order.id,
                                              "released": out.lines}))
    return out


async def release_case(hub: Any, case_id: int) -> Released | None:
    """``release_refunded`` in a transaction of its own, then the stock pushes and notifications."""
    if not hub.config.aftersales.release_on_refund:
        return None
    async with hub.database().transaction() as session:
        released = await release_refunded(session, case_id)
        shops = await scheduling.mark_dirty(session, released.touched) if released and released.touched else set()
    if released is None:
        return None
    if released.touched:
        await stock_effects.after_commit(hub, stock_effects.BatchEffect(touched=set(released.touched), shops=shops))
    if released.lines:
        log.info("aftersale.stock_released", aftersale_id=case_id,
                 lines=[line["line"] for line in released.lines], skus=sorted(released.touched))
    return released


async def release_for_order(hub: Any, order_id: int) -> list[Released]:
    """Every standing refund of ``order_id`` gives back what it can now (the interception calls it
    after it cancelled the order's delivery orders)."""
    if not hub.config.aftersales.release_on_refund:
        return []
    async with hub.database().session() as session:
        cases = (await session.execute(select(AfterSaleRow.id, AfterSaleRow.type, AfterSaleRow.status).where(
            AfterSaleRow.order_id == order_id).order_by(AfterSaleRow.id))).all()
    out = []
    for case_id, case_type, status in cases:
        if applies(case_type, status):
            released = await release_case(hub, int(case_id))
            if released is not None:
                out.append(released)
    return out
