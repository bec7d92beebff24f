"""A person's (or the hub's) steps on a service order: assign or reassign a technician, book an
appointment, check in on site, complete with notes and the buyer's rating, cancel or fail with a
reason.

``take_step`` checks the step is allowed now (``contracts.service_orders.service_actions``) and the
page's ``expected_version``, applies it in one transaction (status, times, technician, deadlines
through ``sla.values_for``, a history row attributed to the actor, ``version`` up) and, when the
shop's platform writes this step (``writeback.platform_writes``), stores a write-back row with its
idempotency key and sends it once inline (``writeback.send``); a step the platform has no API for is
recorded and marked so. Steps on orders the hub created (``origin`` manual or rule) are recorded only.

Bad values name the field as the API's bodies do: ``technician``, ``start``, ``end``, ``note``,
``rating``, ``reason``. Not for the write-back itself (``writeback``) nor for choosing a technician
(``assignment``, which calls ``take_step`` as ``hub:auto``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.service_orders import ServiceOrderAction, ServiceOrderStatus, service_actions, status_after
from hub.db import outbox
from hub.db.tables import ServiceOrderRow, ServiceOrderWriteRow, TechnicianRow, utcnow
from hub.errors import BadInputError, HubError
from hub.services.service_orders import records, sla, writeback
from hub.services.service_orders.records import ServiceOrderRecord

log = structlog.get_logger(__name__)

CHANGED_ACTOR = "service_order_changed"
WRITE_ACTOR = "service_order_write"
#: Longest note a step keeps (a completion note; the platform gets its first 500 characters).
NOTE_MAX = 1000
REASON_MAX = 500
_CLOSING = frozenset({ServiceOrderAction.COMPLETE, ServiceOrderAction.CANCEL, ServiceOrderAction.FAIL})


class ConflictError(HubError):
    """The step is not allowed in the order's status now, or the order changed since the page
    that asked for it was loaded (HTTP 409)."""


@dataclass(frozen=True)
class StepRequest:
    """One step: ``technician_code`` for ASSIGN; ``appointment_start``/``_end`` for BOOK; ``note``
    (booking remark, completion notes), ``rating`` (COMPLETE, 1–5) and ``reason`` (CANCEL, FAIL, and
    a reassignment from one technician to another) as the step takes them."""

    action: ServiceOrderAction
    technician_code: str | None = None
    appointment_start: datetime | None = None
    appointment_end: datetime | None = None
    note: str | None = None
    rating: int | None = None
    reason: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class StepOutcome:
    """What a step did: the order's status and version after it, and its write-back's state
    (``done``, ``recorded`` — no platform API or a hub-created order —, ``pending`` — the platform
    did not answer yet, tried again —, ``failed`` — refused, with ``note`` saying why)."""

    service_order_id: int
    status: ServiceOrderStatus
    version: int
    write_state: str
    note: str | None = None


def _text(value: str | None) -> str | None:
    value = value.strip() if value is not None else None
    return value or None


def _check_values(record: ServiceOrderRecord, request: StepRequest) -> None:
    """The values the step takes, without the database (the technician is checked apart)."""
    action = request.action
    note, reason = _text(request.note), _text(request.reason)
    if note is not None and len(note) > NOTE_MAX:
        raise BadInputError(f"the note is longer than {NOTE_MAX} characters", field="note")
    if reason is not None and len(reason) > REASON_MAX:
        raise BadInputError(f"the reason is longer than {REASON_MAX} characters", field="reason")
    if action is ServiceOrderAction.ASSIGN and not _text(request.technician_code):
        raise BadInputError("assign needs a technician's code", field="technician")
    if action is ServiceOrderAction.BOOK:
        start, end = request.appointment_start, request.appointment_end
        if start is None or start.tzinfo is None:
            raise BadInputError("book needs the appointment's start, with its time zone", field="start")
        if end is None or end.tzinfo is None:
            raise BadInputError("book needs the appointment's end, with its time zone", field="end")
        if not start < end:
            raise BadInputError("the appointment must end after it starts", field="end")
        if note is not None and len(note) > writeback.STEP_TEXT_MAX:
            raise BadInputError(f"a booking note is at most {writeback.STEP_TEXT_MAX} characters", field="note")
    if action is ServiceOrderAction.COMPLETE and request.rating is not None and not 1 <= request.rating <= 5:
        raise BadInputError("the rating is from 1 to 5", field="rating")
    if action in (ServiceOrderAction.CANCEL, ServiceOrderAction.FAIL) and reason is None:
        raise BadInputError(f"{action.value} needs a reason", field="reason")


async def _technician(session: AsyncSession, record: ServiceOrderRecord, request: StepRequest) -> TechnicianRow:
    code = _text(request.technician_code) or ""
    tech = (await session.execute(select(TechnicianRow).where(TechnicianRow.code == code))).scalar_one_or_none()
    if tech is None:
        raise BadInputError(f"no technician {code!r}", field="technician")
    if not tech.active:
        raise BadInputError(f"technician {code!r} is not active", field="technician")
    if record.technician_id == tech.id:
        raise BadInputError(f"service order {record.id} is assigned to {code!r} already", field="technician")
    if record.technician_id is not None and _text(request.reason) is None:
        raise BadInputError(f"service order {record.id} is assigned to {record.technician_code!r}: a reassignment "
                            "needs a reason", field="reason")
    return tech


def _changes(hub: Any, record: ServiceOrderRecord, request: StepRequest, status: ServiceOrderStatus,
             tech: TechnicianRow | None, at: datetime) -> dict[str, Any]:
    """The column values the step sets (first-reached times kept when reached before)."""
    action = request.action
    values: dict[str, Any] = {"status": status.value, "version": record.version + 1, "updated_at": at}
    booked_at, on_site_at, closed_at = record.booked_at, record.on_site_at, record.closed_at
    if action is ServiceOrderAction.ASSIGN and tech is not None:
        values.update(technician_id=tech.id, assigned_at=record.assigned_at or at)
    elif action is ServiceOrderAction.BOOK:
        booked_at = booked_at or at
        values.update(appointment_start=request.appointment_start, appointment_end=request.appointment_end,
                      booked_at=booked_at)
    elif action is ServiceOrderAction.CHECK_IN:
        on_site_at = on_site_at or at
        values.update(on_site_at=on_site_at)
    elif action is ServiceOrderAction.COMPLETE:
        values.update(rating=request.rating, completion_note=_text(request.note))
    else:  # CANCEL, FAIL
        values.update(reason=_text(request.reason))
    if action in _CLOSING:
        closed_at = at
        values.update(closed_at=at)
    values.update(sla.values_for(
        hub.config.service_orders, record.type, status, record.created_at, platform_deadline=record.sla_deadline,
        booked_at=booked_at, on_site_at=on_site_at, closed_at=closed_at, previous_milestone=record.due_milestone,
        previous_state=record.sla_state))
    return values


def _recorded_note(record: ServiceOrderRecord, writes: frozenset[ServiceOrderAction] | None,
                   action: ServiceOrderAction) -> str | None:
    """Why the step is recorded in the hub only; None when the platform is written."""
    if record.is_local:
        return f"service order {record.id} was created in the hub: {action.value} is recorded in the hub only"
    if writes is None:
        return (f"the {record.platform} connector of shop {record.shop!r} cannot write service orders back: "
                f"{action.value} is recorded in the hub only; do it in the seller backend too")
    if action not in writes:
        return (f"the {record.platform} platform has no API for {action.value}: recorded in the hub only; do it in "
                "the seller backend too")
    return None


def write_key(service_order_id: int, action: ServiceOrderAction, version: int) -> str:
    """The idempotency key of a step: the order, the step and the version it made (the same step
    has the same key on every try; a step taken again later is another version)."""
    return f"so:{service_order_id}:{action.value}:v{version}"


async def take_step(hub: Any, service_order_id: int, request: StepRequest, *, actor: str,
                    cause: str) -> StepOutcome:
    """Take ``request`` on the order; ``BadInputError`` naming the field for a missing or wrong value,
    ``ConflictError`` when the step is not allowed now or the version moved, ``NotFoundError``."""
    try:
        action = ServiceOrderAction(request.action)
    except ValueError:
        raise BadInputError(f"{request.action!r} is not a step; one of "
                            f"{', '.join(a.value for a in ServiceOrderAction)}", field="action") from None
    actor = actor[:100]
    at = utcnow()
    write_id: int | None = None
    async with hub.database().transaction() as session:
        record = await records.load(session, service_order_id, lock=True)
        allowed = service_actions(record.status)
        if action not in allowed:
            hint = ", ".join(sorted(a.value for a in allowed)) or "none: it is closed"
            raise ConflictError(f"service order {record.id} is {record.status.value}: {action.value} is not "
                                f"allowed now (allowed: {hint})")
        if request.expected_version is not None and request.expected_version != record.version:
            raise ConflictError(f"service order {record.id} changed since you loaded it (version {record.version} "
                                f"now, you had {request.expected_version}); reload it and try again")
        _check_values(record, request)
        tech = await _technician(session, record, request) if action is ServiceOrderAction.ASSIGN else None
        status = status_after(record.status, action)
        values = _changes(hub, record, request, status, tech, at)
        version = int(values["version"])
        await session.execute(update(ServiceOrderRow).where(ServiceOrderRow.id == record.id).values(**values)
                              .execution_options(synchronize_session=False))
        technician_code = tech.code if tech is not None else record.technician_code
        detail: dict[str, Any] = {
            "action": action.value, "technician": technician_code, "reason": _text(request.reason),
            "version": version}
        if tech is not None and record.technician_code:
            detail["previous_technician"] = record.technician_code
        if action is ServiceOrderAction.BOOK:
            assert request.appointment_start is not None and request.appointment_end is not None
            detail.update(appointment_start=request.appointment_start.isoformat(),
                          appointment_end=request.appointment_end.isoformat())
        if action is ServiceOrderAction.COMPLETE and request.rating is not None:
            detail["rating"] = request.rating
        await records.add_event(session, record.id, "step", cause=cause, actor=actor, old_status=record.status.value,
                                new_status=status.value, detail=detail, at=at)
        if status is not record.status:
            outbox.add(session, CHANGED_ACTOR, record.id, status.value, cause)
        writes = writeback.platform_writes(hub, record.platform, record.shop)
        why = _recorded_note(record, writes, action)
        if why is None:
            params = {"action": action.value, "technician": technician_code, "note": _text(request.note),
                      "reason": _text(request.reason), "rating": request.rating, "cause": cause,
                      "appointment_start": request.appointment_start.isoformat() if request.appointment_start
                      else None,
                      "appointment_end": request.appointment_end.isoformat() if request.appointment_end else None}
            if action is not ServiceOrderAction.BOOK:
                params.update(appointment_start=None, appointment_end=None)
            inserted = await session.execute(insert(ServiceOrderWriteRow).values(
                service_order_id=record.id, key=write_key(record.id, action, version), action=action.value,
                params=params, actor=actor, state=writeback.PENDING, attempts=0,
                next_attempt_at=at + writeback.LEASE, result={}, error=None, created_at=at, updated_at=at)
                .returning(ServiceOrderWriteRow.id))
            write_id = int(inserted.scalar_one())
            outbox.add(session, WRITE_ACTOR, write_id)
        else:
            await records.add_event(session, record.id, "recorded_only", cause=cause, actor=actor,
                                    old_status=status.value, new_status=status.value,
                                    detail={"action": action.value, "note": why}, at=at)
    log.info("service_order.step", service_order_id=record.id, action=action.value, by=actor, cause=cause,
             status=status.value, write_id=write_id)
    if write_id is None:
        return StepOutcome(record.id, status, version, writeback.RECORDED, why)
    state, note = await writeback.deliver(hub, write_id, held=True)
    async with hub.database().session() as session:
        now_status, now_version = (await session.execute(select(ServiceOrderRow.status, ServiceOrderRow.version)
                                                         .where(ServiceOrderRow.id == record.id))).one()
    return StepOutcome(record.id, ServiceOrderStatus(now_status), int(now_version), state, note)
