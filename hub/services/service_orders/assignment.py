"""Automatic assignment of service orders to technicians: by skill (the order's type), then region
(the order's district, city or province among the technician's regions; a technician with no
regions serves everywhere), then current load (open orders; a technician at their daily capacity of
appointments today goes last), then code. The ``assign_service_order`` hook may override the choice.

``rank`` is pure; ``auto_assign`` takes the step through ``lifecycle.take_step`` (so it is written
back and recorded like a person's, attributed to ``hub:auto``). A manual assignment or reassignment
is a person's ``ASSIGN`` step (``lifecycle``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.service_orders import (
    TERMINAL_SERVICE_STATUSES,
    ServiceOrderAction,
    ServiceOrderType,
    ServiceRegion,
    Technician,
)
from hub.db.tables import ServiceOrderEventRow, TechnicianRow
from hub.services.service_orders import lifecycle, records, technicians

log = structlog.get_logger(__name__)

#: Who automatic assignments are attributed to.
AUTO_ACTOR = "hub:auto"
#: The history row written when nobody fits (once per reason and order version).
UNASSIGNED = "unassigned"
#: How well a technician's regions match an order's, most specific first; None: not served.
_DISTRICT, _CITY, _PROVINCE, _EVERYWHERE = 3, 2, 1, 0


def region_match(region: ServiceRegion, technician: Technician) -> int | None:
    """How specifically ``technician`` serves ``region``: 3 its district, 2 its city, 1 its
    province, 0 everywhere (no regions listed); None when they do not serve it. An order whose
    region is unknown is served only by technicians who serve everywhere: sending a regional
    technician to an unknown place is worse than leaving the order to a person."""
    if not technician.regions:
        return _EVERYWHERE
    served = set(technician.regions)
    for level, name in ((_DISTRICT, region.district), (_CITY, region.city), (_PROVINCE, region.province)):
        if name and name in served:
            return level
    return None


def at_capacity(technician: Technician) -> bool:
    """Whether ``technician`` has as many appointments today as their daily capacity (or more)."""
    return technician.today_load >= technician.daily_capacity


def rank(kind: ServiceOrderType, region: ServiceRegion, technicians: list[Technician]) -> list[Technician]:
    """The active technicians with the skill ``kind`` who serve ``region``, best first: those under
    their daily capacity before those at it; then the most specific region match (district, city,
    province, everywhere); then the fewest open orders; then code."""
    fitting = [(t, match) for t in technicians
               if t.active and kind in t.skills and (match := region_match(region, t)) is not None]
    fitting.sort(key=lambda pair: (at_capacity(pair[0]), -pair[1], pair[0].open_load, pair[0].code))
    return [t for t, _ in fitting]


def why_nobody(kind: ServiceOrderType, region: ServiceRegion, technicians: list[Technician]) -> str:
    """Why ``rank`` found nobody, in a person's words (what to add to the registry)."""
    skilled = [t for t in technicians if t.active and kind in t.skills]
    if not skilled:
        return f"no active technician has the skill {kind.value}"
    where = " / ".join(region.names()) or "an unknown region"
    return f"no active technician with the skill {kind.value} serves {where}"


@dataclass(frozen=True)
class AutoAssignment:
    """What one automatic assignment did: the chosen technician's code, or why there is none
    (nobody fits; the order is closed or already assigned; someone assigned it meanwhile)."""

    service_order_id: int
    technician_code: str | None
    why: str | None = None
    nobody_fits: bool = False


async def auto_assign(hub: Any, service_order_id: int, *, cause: str = "auto",
                      replace: bool = False) -> str | None:
    """Assign an open, unassigned service order (a no-op otherwise; with ``replace``, also one
    whose technician was deactivated); returns the chosen technician's code, or None when nobody
    fits (a history row says why, once) or someone assigned it meanwhile."""
    return (await try_assign(hub, service_order_id, cause=cause, replace=replace)).technician_code


async def try_assign(hub: Any, service_order_id: int, *, cause: str = "auto",
                     replace: bool = False) -> AutoAssignment:
    """``auto_assign`` saying why when it assigns nobody. ``NotFoundError`` for an unknown order."""
    async with hub.database().transaction() as session:
        record = await records.load(session, service_order_id)
        not_now = await _not_assignable(session, record, replace=replace)
        if not_now:
            return AutoAssignment(service_order_id, None, not_now)
        candidates = await technicians.list_technicians(session, active=True,
                                                        zone=ZoneInfo(hub.config.console.time_zone))
        ranked = rank(record.type, record.region, candidates)
        if not ranked:
            why = why_nobody(record.type, record.region, candidates)
            await _record_nobody(session, record, why, cause=cause)
            return AutoAssignment(service_order_id, None, why, nobody_fits=True)
    replacing = record.technician_id is not None
    code = _choose(hub, record, ranked)
    request = lifecycle.StepRequest(action=ServiceOrderAction.ASSIGN, technician_code=code,
                                    reason="automatic" if replacing else None, expected_version=record.version)
    try:
        await lifecycle.take_step(hub, service_order_id, request, actor=AUTO_ACTOR, cause=cause)
    except lifecycle.ConflictError as exc:  # a person (or another worker) assigned it meanwhile: theirs stands
        log.info("service_order.auto_assign_skipped", service_order_id=service_order_id, reason=str(exc))
        return AutoAssignment(service_order_id, None, f"it changed meanwhile: {exc}")
    log.info("service_order.auto_assigned", service_order_id=service_order_id, technician=code, cause=cause,
             replaced=replacing)
    return AutoAssignment(service_order_id, code)


async def _not_assignable(session: AsyncSession, record: records.ServiceOrderRecord, *, replace: bool) -> str | None:
    """Why the order is not for automatic assignment now, or None when it is."""
    if record.status in TERMINAL_SERVICE_STATUSES:
        return f"service order {record.id} is {record.status.value}"
    if record.technician_id is None:
        return None
    if replace:
        active = await session.scalar(select(TechnicianRow.active).where(TechnicianRow.id == record.technician_id))
        if not active:
            return None
    return f"service order {record.id} is assigned to {record.technician_code} already"


def _choose(hub: Any, record: records.ServiceOrderRecord, ranked: list[Technician]) -> str:
    """The hook's choice when it names one of ``ranked``, else the best ranked."""
    chosen = hub.plugins.hook.assign_service_order(service_order=record.contract(), service_order_id=record.id,
                                                   technicians=ranked)
    if chosen is not None:
        if any(t.code == chosen for t in ranked):
            return str(chosen)
        log.warning("service_order.assign_hook_ignored", service_order_id=record.id, chosen=str(chosen)[:50],
                    reason="not among the candidates")
    return ranked[0].code


async def _record_nobody(session: AsyncSession, record: records.ServiceOrderRecord, why: str, *, cause: str) -> None:
    """One ``unassigned`` history row saying why, unless the newest one already says so for this
    version of the order (a retry, or the next scan, finds the same registry)."""
    last = (await session.execute(
        select(ServiceOrderEventRow.detail).where(ServiceOrderEventRow.service_order_id == record.id,
                                                  ServiceOrderEventRow.kind == UNASSIGNED)
        .order_by(ServiceOrderEventRow.id.desc()).limit(1))).scalar_one_or_none()
    if last is not None and last.get("why") == why and last.get("version") == record.version:
        return
    await records.add_event(session, record.id, UNASSIGNED, cause=cause, actor=AUTO_ACTOR,
                            detail={"why": why, "version": record.version})
    log.info("service_order.unassigned", service_order_id=record.id, why=why)
