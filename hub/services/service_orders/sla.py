"""Service-level deadlines: when each milestone of a service order is due, which one is next, and
whether a closed order met them; and the scheduler's scan that flags orders due soon and overdue
and raises notifications.

A service order is promised three milestones, counted in hours from its creation by type
(``[service_orders.sla.<type>]``): ``contact`` (an appointment booked), ``on_site`` and
``complete``. A platform's own deadline (``ServiceOrder.sla_deadline``) brings ``complete`` earlier
when it is sooner. While open, ``due_at``/``due_milestone`` name the next milestone still to meet
and ``sla_state`` is ``ok``, ``soon`` or ``overdue`` (the scan moves it, once per milestone and
level); once closed, ``met`` or ``missed``.

The pure functions (``deadlines``, ``next_due``, ``closed_state``, ``values_for``) are used by intake
and the lifecycle; ``scan`` is run by ``hub.pipeline.service_orders_sla``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.service_orders import ServiceOrderStatus, ServiceOrderType
from hub import metrics
from hub.db.tables import ServiceOrderRow
from hub.services.service_orders import records
from hub.services.service_orders.settings import ServiceOrdersSection

log = structlog.get_logger(__name__)

OK, SOON, OVERDUE, MET, MISSED = "ok", "soon", "overdue", "met", "missed"

#: The milestone an order in each open status has still to meet.
NEXT_MILESTONE: dict[ServiceOrderStatus, str] = {
    ServiceOrderStatus.NEW: "contact",
    ServiceOrderStatus.ASSIGNED: "contact",
    ServiceOrderStatus.BOOKED: "on_site",
    ServiceOrderStatus.ON_SITE: "complete",
}


@dataclass(frozen=True)
class Deadlines:
    """When each milestone is due."""

    contact: datetime
    on_site: datetime
    complete: datetime

    def of(self, milestone: str) -> datetime:
        return {"contact": self.contact, "on_site": self.on_site, "complete": self.complete}[milestone]


def deadlines(section: ServiceOrdersSection, kind: ServiceOrderType, created_at: datetime,
              platform_deadline: datetime | None = None) -> Deadlines:
    """The milestones of a ``kind`` order created at ``created_at``; a platform's deadline sooner
    than the promise brings every later milestone to it."""
    hours = section.sla_for(kind)
    found = Deadlines(contact=created_at + timedelta(hours=hours.contact_hours),
                      on_site=created_at + timedelta(hours=hours.on_site_hours),
                      complete=created_at + timedelta(hours=hours.complete_hours))
    if platform_deadline is not None and platform_deadline < found.complete:
        found = Deadlines(contact=min(found.contact, platform_deadline), on_site=min(found.on_site, platform_deadline),
                          complete=platform_deadline)
    return found


def next_due(status: ServiceOrderStatus, due: Deadlines) -> tuple[datetime | None, str | None]:
    """(when, milestone) of the next deadline an order in ``status`` has to meet; (None, None) once closed."""
    milestone = NEXT_MILESTONE.get(status)
    if milestone is None:
        return None, None
    return due.of(milestone), milestone


def closed_state(due: Deadlines, *, booked_at: datetime | None, on_site_at: datetime | None,
                 closed_at: datetime, status: ServiceOrderStatus) -> str:
    """``met`` when every milestone the order reached was reached in time (a completed order also
    completed in time); ``missed`` otherwise. A milestone the platform skipped is not counted."""
    reached = [(booked_at, due.contact), (on_site_at, due.on_site)]
    if status == ServiceOrderStatus.COMPLETED:  # a plain "completed" from a row counts too
        reached.append((closed_at, due.complete))
    return MET if all(at <= deadline for at, deadline in reached if at is not None) else MISSED


def state_at(due_at: datetime | None, now: datetime, soon: timedelta) -> str:
    """``overdue``, ``soon`` or ``ok`` for an open order whose next deadline is ``due_at``."""
    if due_at is None:
        return OK
    if due_at <= now:
        return OVERDUE
    return SOON if due_at - now <= soon else OK


def values_for(section: ServiceOrdersSection, kind: ServiceOrderType, status: ServiceOrderStatus,
               created_at: datetime, *, platform_deadline: datetime | None = None,
               booked_at: datetime | None = None, on_site_at: datetime | None = None,
               closed_at: datetime | None = None, previous_milestone: str | None = None,
               previous_state: str = OK) -> dict[str, Any]:
    """The ``service_orders`` column values of the deadlines for an order now in ``status``:
    ``contact_due_at``, ``onsite_due_at``, ``complete_due_at``, ``due_at``, ``due_milestone`` and
    ``sla_state`` (kept while the milestone is the same, back to ``ok`` for a new one — the scan
    flags it again when due; ``met``/``missed`` once closed)."""
    due = deadlines(section, kind, created_at, platform_deadline)
    due_at, milestone = next_due(status, due)
    if milestone is None:
        state = closed_state(due, booked_at=booked_at, on_site_at=on_site_at, closed_at=closed_at or created_at,
                             status=status)
    else:
        state = previous_state if milestone == previous_milestone and previous_state in (OK, SOON, OVERDUE) else OK
    return {"contact_due_at": due.contact, "onsite_due_at": due.on_site, "complete_due_at": due.complete,
            "due_at": due_at, "due_milestone": milestone, "sla_state": state}


def time_left(due_at: datetime | None, now: datetime) -> float | None:
    """Seconds from ``now`` to ``due_at`` (negative once past), for lists; None without a deadline."""
    return None if due_at is None else (due_at - now).total_seconds()


# --------------------------------------------------------------------------- the scan

#: The statuses whose orders still have a milestone to meet.
OPEN_STATUSES = tuple(s.value for s in NEXT_MILESTONE)
#: How many orders one statement flags at most; the next scan (a minute later) takes the rest.
SCAN_BATCH = 500
SCAN_ACTOR = "hub:sla_scan"


@dataclass(frozen=True)
class SlaFlag:
    """One order just flagged ``level`` (soon, overdue) on ``milestone``, due at ``deadline``."""

    service_order_id: int
    platform: str
    shop: str
    milestone: str
    level: str
    deadline: datetime


async def _flag(session: AsyncSession, level: str, due: tuple[Any, ...], *, limit: int) -> list[SlaFlag]:
    """Set ``sla_state = level`` on up to ``limit`` orders matching ``due`` in ONE ``UPDATE … RETURNING``
    (the condition repeated outside the sub-select, so two scans at once flag nobody twice)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    batch = select(ServiceOrderRow.id).where(*due).order_by(ServiceOrderRow.due_at, ServiceOrderRow.id).limit(limit)
    if dialect == "postgresql":
        batch = batch.with_for_update(skip_locked=True)
    flagged = await session.execute(
        update(ServiceOrderRow).where(ServiceOrderRow.id.in_(batch.scalar_subquery()), *due)
        .values(sla_state=level)
        .returning(ServiceOrderRow.id, ServiceOrderRow.platform, ServiceOrderRow.shop, ServiceOrderRow.due_milestone,
                   ServiceOrderRow.due_at)
        .execution_options(synchronize_session=False))
    return sorted((SlaFlag(int(i), p, s, m or "none", level, d) for i, p, s, m, d in flagged if d is not None),
                  key=lambda f: (f.deadline, f.service_order_id))


async def flag_due(session: AsyncSession, *, now: datetime, soon: timedelta,
                   limit: int = SCAN_BATCH) -> list[SlaFlag]:
    """In the caller's transaction: flag open orders past their next deadline ``overdue`` (from
    ``ok`` or ``soon``), then those due within ``soon`` (and not past) ``soon`` (from ``ok``), and
    write one ``sla`` history row per flag in one INSERT. An order first seen already past its
    deadline is flagged ``overdue`` only."""
    open_with_deadline = (ServiceOrderRow.status.in_(OPEN_STATUSES), ServiceOrderRow.due_at.is_not(None))
    flags = await _flag(session, OVERDUE, (*open_with_deadline, ServiceOrderRow.due_at <= now,
                                           ServiceOrderRow.sla_state.in_((OK, SOON))), limit=limit)
    if soon > timedelta(0):
        flags += await _flag(session, SOON, (*open_with_deadline, ServiceOrderRow.due_at > now,
                                             ServiceOrderRow.due_at <= now + soon, ServiceOrderRow.sla_state == OK),
                             limit=limit)
    await records.add_events(session, [{
        "service_order_id": f.service_order_id, "kind": "sla", "cause": "auto", "actor": SCAN_ACTOR, "at": now,
        "detail": {"milestone": f.milestone, "level": f.level, "deadline": f.deadline.astimezone(UTC).isoformat(),
                   "seconds_left": round((f.deadline - now).total_seconds())}} for f in flags])
    return flags


async def scan(hub: Any, *, now: datetime | None = None) -> int:
    """Flag open orders whose next deadline is within ``due_soon_hours`` (``soon``) or past
    (``overdue``), once per milestone and level: set-based, one transaction; a history row per flag,
    the ``SERVICE_ORDER_SLA_FLAGS`` metric and the ``service_order_due`` hook after commit.
    Returns how many flags were raised."""
    now = now or datetime.now(UTC)
    soon = timedelta(hours=float(hub.config.service_orders.due_soon_hours))
    async with hub.database().transaction() as session:
        flags = await flag_due(session, now=now, soon=soon)
    for flag in flags:
        deadline = flag.deadline.astimezone(UTC)
        metrics.SERVICE_ORDER_SLA_FLAGS.labels(flag.platform, flag.milestone, flag.level).inc()
        log.warning("service_order.sla_flagged", service_order_id=flag.service_order_id, shop=flag.shop,
                    milestone=flag.milestone, level=flag.level, deadline=deadline.isoformat())
        try:
            hub.plugins.hook.service_order_due(service_order_id=flag.service_order_id, shop=flag.shop,
                                               deadline=deadline, milestone=flag.milestone, level=flag.level)
        except Exception:  # a notification plugin must not undo or block the flag
            log.exception("plugin.notification_failed", hook="service_order_due",
                          service_order_id=flag.service_order_id)
    return len(flags)
