"""Rules that act on cases by themselves: approve a refund-only case below
``[aftersales] auto_approve_refund_below`` when nothing of the order shipped; give back the
reserved stock of lines refunded before shipment (``refund_release``); raise an alert before a
platform's reply deadline lapses (history entry, metric, ``aftersale_due`` hook, console badge).
Stopping the shipment is the fulfilment interception's (``hub.services.fulfilment.interception``),
run by intake. Not for decisions a person takes (``decisions``, which the auto-approval calls).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog
from sqlalchemy import exists, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Interval

from contracts.aftersales import TERMINAL_AFTERSALE_STATUSES, AfterSaleStatus, AfterSaleType
from contracts.orders import OrderStatus
from hub import metrics
from hub.db.tables import (
    AfterSaleEventRow,
    AfterSaleRow,
    DeliveryLineRow,
    DeliveryOrderRow,
    OrderRow,
    ParcelRow,
    ShipmentRow,
)
from hub.errors import BadInputError, NotFoundError, PermanentError
from hub.services.aftersales import decisions, refund_release

log = structlog.get_logger(__name__)

AUTO_APPROVE_ACTOR = "rule:auto_approve"
ALERT_ACTOR = "rule:deadline_alert"


#: An order in these statuses has shipped nothing (and a refund of it needs no return).
BEFORE_SHIPMENT = frozenset({OrderStatus.PENDING_PAYMENT.value, OrderStatus.PAID.value})
#: The order's fulfilment before anything left the warehouse.
NOTHING_LEFT = frozenset({"unfulfilled", "routed", "sent_to_warehouse"})
#: A delivery order in these statuses is (about to be) on its way.
GOODS_OUT = ("packed", "shipped")
OPEN_STATUSES = tuple(sorted(s.value for s in AfterSaleStatus if s not in TERMINAL_AFTERSALE_STATUSES))


# --------------------------------------------------------------------------- after a change


async def after_change(hub: Any, case_id: int, status: str, cause: str) -> None:
    """Run the rules for a case that changed (from the ``aftersale_changed`` actor, at least once
    per change): each rule reads the case as it is now, and acts once whatever the repeats."""
    async with hub.database().session() as session:
        case = await session.get(AfterSaleRow, case_id)
        if case is None:
            return
        candidate = auto_approve_candidate(case, hub.config.aftersales.auto_approve_refund_below)
        if candidate is not None and not await nothing_shipped(session, case.order_id):
            candidate = None
        releasing = refund_release.applies(case.type, case.status)
    if releasing:
        await refund_release.release_case(hub, case_id)
    if candidate is not None:
        await _auto_approve(hub, candidate)


@dataclass(frozen=True)
class AutoApproval:
    """A case the auto-approval rule takes: its amount, the threshold and the decision's key."""

    case_id: int
    amount: Decimal
    threshold: Decimal
    key: str


def _cents(amount: Decimal) -> Decimal:
    """19.9000 (a NUMERIC(18, 4) column) as 19.90; finer amounts as they are."""
    cents = amount.quantize(Decimal("0.01"))
    return cents if cents == amount else amount


def _amount(case: AfterSaleRow) -> Decimal | None:
    if case.refund_amount is not None:
        return _cents(Decimal(case.refund_amount))
    reported = (case.data or {}).get("refund_amount") or {}
    try:
        return Decimal(str(reported["amount"])) if isinstance(reported, dict) and "amount" in reported else None
    except (InvalidOperation, ValueError):
        return None


def decision_key(case_id: int, version: str | None) -> str:
    """The auto-approval's idempotency key: one decision per case and platform version (a case the
    buyer changed — a new version — may be approved again). Long versions are hashed to fit."""
    tag = version or "-"
    if len(tag) > 40:
        tag = hashlib.sha256(tag.encode()).hexdigest()[:24]
    return f"{AUTO_APPROVE_ACTOR}:{case_id}:{tag}"


def auto_approve_candidate(case: AfterSaleRow, threshold: Decimal | None) -> AutoApproval | None:
    """The approval the rule would take on ``case`` judged by the case alone (the order's shipment
    is ``nothing_shipped``'s): a refund-only case, requested, of an amount below ``threshold``."""
    if threshold is None or case.order_id is None:
        return None
    if case.type != AfterSaleType.REFUND_ONLY.value or case.status != AfterSaleStatus.REQUESTED.value:
        return None
    amount = _amount(case)
    if amount is None or amount < 0 or amount >= threshold:
        return None
    version = case.version or (case.data or {}).get("version")
    return AutoApproval(case.id, amount, Decimal(threshold), decision_key(case.id, version))


async def nothing_shipped(session: AsyncSession, order_id: int | None) -> bool:
    """True when nothing of the order left: known, paid (not further), no shipment recorded, no
    delivery order packed or shipped, no parcel shipped or collected. One query."""
    if order_id is None:
        return False
    mine = select(DeliveryLineRow.delivery_order_id).where(DeliveryLineRow.order_id == order_id)
    shipment = exists().where(ShipmentRow.order_id == order_id)
    goods_out = exists().where(or_(DeliveryOrderRow.order_id == order_id, DeliveryOrderRow.id.in_(mine)),
                               DeliveryOrderRow.status.in_(GOODS_OUT))
    parcel_out = exists().where(ParcelRow.order_id == order_id,
                                or_(ParcelRow.status == "shipped", ParcelRow.collected_at.is_not(None)))
    found = await session.execute(select(OrderRow.status, OrderRow.fulfilment_status, shipment, goods_out,
                                         parcel_out).where(OrderRow.id == order_id))
    row = found.first()
    if row is None:
        return False
    status, fulfilment, has_shipment, has_goods_out, has_parcel_out = row
    return (status in BEFORE_SHIPMENT and fulfilment in NOTHING_LEFT
            and not (has_shipment or has_goods_out or has_parcel_out))


async def _auto_approve(hub: Any, approval: AutoApproval) -> None:
    """Approve through ``decisions.decide`` with the rule's key, then write why in the history
    (once: a repeat of the same key is not written again). A decision the platform or the checks
    refuse is logged and written; anything else (a database error) is raised for a retry."""
    decision = decisions.DecisionIn(action="approve_refund", refund_amount=approval.amount)
    detail: dict[str, Any] = {"rule": "auto_approve", "threshold": str(approval.threshold),
                              "amount": str(approval.amount), "key": approval.key}
    new_status: str | None = None
    try:
        outcome = await decisions.decide(hub, approval.case_id, decision, actor=AUTO_APPROVE_ACTOR,
                                         key=approval.key, cause="rule")
    except (decisions.CaseConflictError, BadInputError, NotFoundError, PermanentError) as exc:
        log.warning("aftersale.auto_approve_failed", aftersale_id=approval.case_id, error=str(exc),
                    error_class=type(exc).__name__)
        detail.update(outcome="failed", error=str(exc)[:500])
    else:
        if outcome.repeated:
            return
        detail.update(outcome=outcome.state, written_back=outcome.written_back, note=outcome.note)
        new_status = outcome.status
        log.info("aftersale.auto_approved", aftersale_id=approval.case_id, state=outcome.state)
    async with hub.database().transaction() as session:
        await session.execute(insert(AfterSaleEventRow), [{
            "aftersale_id": approval.case_id, "at": datetime.now(UTC), "kind": "rule",
            "old_status": AfterSaleStatus.REQUESTED.value, "new_status": new_status, "cause": "rule",
            "actor": AUTO_APPROVE_ACTOR, "detail": detail}])


# --------------------------------------------------------------------------- deadline alerts


def _alerted_for_older_deadline(dialect: str, window: timedelta) -> Any:
    """``alerted_at`` lies before this deadline's alert window: that alert was for an earlier
    deadline (the platform extended it), so this one is owed its own. An alert raised inside the
    window (``alerted_at >= deadline - window``) covers the deadline."""
    if dialect == "sqlite":
        return func.julianday(AfterSaleRow.alerted_at) < (
            func.julianday(AfterSaleRow.deadline) - window.total_seconds() / 86400.0)
    return AfterSaleRow.alerted_at < AfterSaleRow.deadline - literal(window, Interval())


@dataclass(frozen=True)
class DueCase:
    """A case whose deadline alert was just raised."""

    case_id: int
    order_id: int | None
    platform: str
    shop: str
    deadline: datetime
    status: str


async def raise_due(session: AsyncSession, *, now: datetime, window: timedelta, limit: int) -> list[DueCase]:
    """In the caller's transaction: mark up to ``limit`` open cases whose deadline is within
    ``window`` (and not past) and not alerted for it yet, in ONE ``UPDATE … RETURNING`` (the
    condition repeated outside the sub-select, so a concurrent run alerts nobody twice), and write
    their ``alert`` history rows in one INSERT."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    due = (AfterSaleRow.status.in_(OPEN_STATUSES), AfterSaleRow.deadline.is_not(None),
           AfterSaleRow.deadline > now, AfterSaleRow.deadline <= now + window,
           or_(AfterSaleRow.alerted_at.is_(None), _alerted_for_older_deadline(dialect, window)))
    batch = select(AfterSaleRow.id).where(*due).order_by(AfterSaleRow.deadline, AfterSaleRow.id).limit(limit)
    if dialect == "postgresql":
        batch = batch.with_for_update(skip_locked=True)
    marked = await session.execute(
        update(AfterSaleRow).where(AfterSaleRow.id.in_(batch.scalar_subquery()), *due)
        .values(alerted_at=now)
        .returning(AfterSaleRow.id, AfterSaleRow.order_id, AfterSaleRow.platform, AfterSaleRow.shop,
                   AfterSaleRow.deadline, AfterSaleRow.status)
        .execution_options(synchronize_session=False))
    cases = sorted((DueCase(int(i), o, p, s, d, st) for i, o, p, s, d, st in marked if d is not None),
                   key=lambda c: c.deadline)
    if cases:
        await session.execute(insert(AfterSaleEventRow), [{
            "aftersale_id": c.case_id, "at": now, "kind": "alert", "old_status": None, "new_status": None,
            "cause": "rule", "actor": ALERT_ACTOR,
            "detail": {"deadline": c.deadline.astimezone(UTC).isoformat(), "status": c.status,
                       "hours_left": round((c.deadline - now).total_seconds() / 3600, 1),
                       "window_hours": window.total_seconds() / 3600}} for c in cases])
    return cases


async def deadline_alerts(hub: Any, limit: int = 200) -> int:
    """Alert once for each open case whose deadline falls within the alert window; returns how many.

    One transaction marks the batch and writes its history; after commit, per case: the metric,
    a warning log line (ids only, never buyer data) and the ``aftersale_due`` hook (a failing
    plugin is logged and undoes nothing). ``deadline_alert_hours = 0`` turns alerts off."""
    hours = float(hub.config.aftersales.deadline_alert_hours)
    if hours <= 0:
        return 0
    now = datetime.now(UTC)
    async with hub.database().transaction() as session:
        cases = await raise_due(session, now=now, window=timedelta(hours=hours), limit=limit)
    for case in cases:
        deadline = case.deadline.astimezone(UTC)
        metrics.AFTERSALE_DEADLINE_ALERTS.labels(case.platform).inc()
        log.warning("aftersale.deadline_near", aftersale_id=case.case_id, order_id=case.order_id, shop=case.shop,
                    status=case.status, deadline=deadline.isoformat(),
                    hours_left=round((deadline - now).total_seconds() / 3600, 1))
        try:
            hub.plugins.hook.aftersale_due(aftersale_id=case.case_id, order_id=case.order_id, shop=case.shop,
                                           deadline=deadline, status=case.status)
        except Exception:  # a notification plugin must not undo or block the alert
            log.exception("plugin.notification_failed", hook="aftersale_due", aftersale_id=case.case_id)
    return len(cases)
