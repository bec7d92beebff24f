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
from datetime import datetime, timedelta
from typing import Any

from contracts.service_orders import ServiceOrderStatus, ServiceOrderType
from hub.services.service_orders.settings import ServiceOrdersSection

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
    if status is ServiceOrderStatus.COMPLETED:
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


async def scan(hub: Any, *, now: datetime | None = None) -> int:
    """Flag open orders whose next deadline is within ``due_soon_hours`` (``soon``) or past
    (``overdue``), once per milestone and level: set-based, one transaction; a history row per flag,
    the ``SERVICE_ORDER_SLA_FLAGS`` metric and the ``service_order_due`` hook after commit.
    Returns how many flags were raised."""
    raise NotImplementedError
