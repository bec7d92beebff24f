"""Writing a step back to the shop's platform, once per key: ``platform_writes`` says which steps a
shop's connector writes (``Capability.WRITE_SERVICE_ORDERS`` and its ``service_order_writes``);
``send`` calls ``write_service_order`` with short bounded retries and sorts the answer (done,
recorded, failed, or pending — tried again later with the same key by ``retry_pending``, backing
off, at most ``[service_orders] writeback_max_attempts``). Each outcome is a history row.

A write-back row is held while it is sent (``next_attempt_at`` a ``LEASE`` ahead): the step's own
inline try holds it from its creation, so the outbox's ``service_order_write`` (or a second sweep)
finds it held and leaves it; a crash mid-send leaves it for ``retry_pending`` once the lease ends.
The step stays taken in the hub whatever the platform answers. Not for taking steps (``lifecycle``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.connectors import Capability, declared
from contracts.service_orders import ServiceOrderAction, ServiceOrderStep, ServiceStepResult, TechnicianRef
from hub.db.tables import ServiceOrderWriteRow, TechnicianRow, utcnow
from hub.errors import (
    AuthorizationError,
    BadInputError,
    NotFoundError,
    PermanentError,
    ShopPausedError,
    describe_error,
)
from hub.services.service_orders import records
from hub.services.service_orders.records import ServiceOrderRecord
from hub.services.shop_health import BRIEF_ATTEMPTS, partner_call
from hub.services.shop_health import with_brief_retries as with_retries

log = structlog.get_logger(__name__)
#: Tries within one write-back (``hub.services.shop_health.with_brief_retries``).
INLINE_ATTEMPTS = BRIEF_ATTEMPTS

PENDING, DONE, RECORDED, FAILED = "pending", "done", "recorded", "failed"
#: A write-back being sent holds its row this long; a crash leaves it for ``retry_pending`` after.
LEASE = timedelta(minutes=2)
#: Waits between write-backs of a step that timed out: doubling from the first, at most the last.
BACKOFF_FIRST_S, BACKOFF_MAX_S = 30.0, 3600.0
#: How many due write-backs one ``retry_pending`` sends.
RETRY_BATCH = 50
#: What a platform takes of a note or a reason (``ServiceOrderStep``).
STEP_TEXT_MAX = 500
#: Steps that name the technician to the platform.
_WITH_TECHNICIAN = frozenset({ServiceOrderAction.ASSIGN, ServiceOrderAction.BOOK})

TAKEN, REFUSED, UNKNOWN = "taken", "refused", "unknown"


@dataclass(frozen=True)
class Answer:
    """What the platform made of one write-back: ``kind`` is taken | refused | unknown."""

    kind: str
    result: ServiceStepResult | None = None
    error: str | None = None


def platform_writes(hub: Any, platform: str, shop: str) -> frozenset[ServiceOrderAction] | None:
    """The steps ``shop``'s connector writes back; None when the shop is not configured or its
    connector cannot write service orders."""
    if shop not in hub.config.shops:
        return None
    cls = hub.plugins.channel_class(platform)
    if cls is None or not declared(cls, Capability.WRITE_SERVICE_ORDERS):
        return None
    return frozenset(ServiceOrderAction(a) for a in getattr(cls, "service_order_writes", frozenset()))


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_FIRST_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


def _clip(text: Any) -> str | None:
    return str(text)[:STEP_TEXT_MAX] if text else None


async def _step(session: AsyncSession, row: ServiceOrderWriteRow) -> ServiceOrderStep:
    """The step as the connector takes it, from the row's params (the technician as now registered)."""
    params = dict(row.params or {})
    action = ServiceOrderAction(row.action)
    technician = None
    code = params.get("technician")
    if action in _WITH_TECHNICIAN and code:
        tech = (await session.execute(select(TechnicianRow).where(TechnicianRow.code == code))).scalar_one_or_none()
        if tech is not None:
            technician = TechnicianRef(code=tech.code, name=tech.name, mobile=tech.mobile)

    def when(name: str) -> datetime | None:
        value = params.get(name)
        return datetime.fromisoformat(value) if value else None

    return ServiceOrderStep(action=action, key=row.key, technician=technician,
                            appointment_start=when("appointment_start"), appointment_end=when("appointment_end"),
                            note=_clip(params.get("note")), reason=_clip(params.get("reason")))


async def _write(hub: Any, record: ServiceOrderRecord, step: ServiceOrderStep) -> Answer:
    """Send ``step`` to the order's platform (same key on every try); never raises for its answer."""
    connector = hub.accounts().channel(record.shop)
    order = record.contract()

    async def once() -> ServiceStepResult:
        async with partner_call(hub, record.shop, "service-order step"):
            result: ServiceStepResult = await connector.write_service_order(order, step)
            return result

    try:
        return Answer(TAKEN, result=await with_retries(once))
    except AuthorizationError as exc:  # partner_call paused the shop: wait for re-authorisation
        return Answer(UNKNOWN, error=f"shop paused, waiting for re-authorisation: {describe_error(exc)}")
    except (BadInputError, PermanentError) as exc:
        return Answer(REFUSED, error=describe_error(exc))
    except ShopPausedError as exc:  # the breaker is open: nothing was sent
        return Answer(UNKNOWN, error=describe_error(exc))
    except Exception as exc:  # RetryableError, a timeout, an unclassified fault: did it land? ask again later
        log.warning("service_order.writeback_unknown", shop=record.shop, service_order_id=record.id,
                    action=step.action.value, reason=describe_error(exc))
        return Answer(UNKNOWN, error=describe_error(exc))


async def _load(session: AsyncSession, write_id: int) -> ServiceOrderWriteRow:
    row = (await session.execute(select(ServiceOrderWriteRow).where(ServiceOrderWriteRow.id == write_id)
                                 .execution_options(populate_existing=True))).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no service-order write-back {write_id}")
    return row


def _note_of(row: ServiceOrderWriteRow) -> str | None:
    return row.error if row.state == FAILED or (row.state == PENDING and row.error) else (row.result or {}).get("note")


async def _hold(hub: Any, write_id: int) -> bool:
    """Take a pending row whose last attempt is not held any more (another sender finds it held)."""
    at = utcnow()
    async with hub.database().transaction() as session:
        taken = await session.execute(update(ServiceOrderWriteRow).where(
            ServiceOrderWriteRow.id == write_id, ServiceOrderWriteRow.state == PENDING,
            or_(ServiceOrderWriteRow.next_attempt_at.is_(None), ServiceOrderWriteRow.next_attempt_at <= at))
            .values(next_attempt_at=at + LEASE).execution_options(synchronize_session=False))
    return bool(getattr(taken, "rowcount", 0))


async def deliver(hub: Any, write_id: int, *, held: bool = False) -> tuple[str, str | None]:
    """Send write-back ``write_id`` once (with short retries) and settle it; returns (state, note).
    ``held``: the caller holds the row already (the step's inline try, ``retry_pending``);
    otherwise a row held by another sender, or settled, is left alone."""
    if not held and not await _hold(hub, write_id):
        async with hub.database().session() as session:
            row = await _load(session, write_id)
        return row.state, _note_of(row)
    async with hub.database().session() as session:
        row = await _load(session, write_id)
        if row.state != PENDING:
            return row.state, _note_of(row)
        earlier = (await session.execute(select(
            ServiceOrderWriteRow.id, ServiceOrderWriteRow.action, ServiceOrderWriteRow.next_attempt_at).where(
            ServiceOrderWriteRow.service_order_id == row.service_order_id, ServiceOrderWriteRow.state == PENDING,
            ServiceOrderWriteRow.id < write_id).order_by(ServiceOrderWriteRow.id).limit(1))).first()
        if earlier is None:
            record = await records.load(session, row.service_order_id)
            step = await _step(session, row)
    if earlier is not None:
        return await _wait_for(hub, write_id, earlier)
    answer = await _write(hub, record, step)
    attempts = row.attempts + 1
    cause = str((row.params or {}).get("cause") or "api")
    detail: dict[str, Any] = {"action": step.action.value, "write_id": write_id, "attempts": attempts}
    at = utcnow()
    async with hub.database().transaction() as session:
        row = await _load(session, write_id)
        if row.state != PENDING:  # settled meanwhile by another sender
            return row.state, _note_of(row)
        values: dict[str, Any] = {"attempts": attempts, "updated_at": at, "next_attempt_at": None}
        note: str | None
        if answer.kind == TAKEN and answer.result is not None:
            result = answer.result
            state, note = (DONE if result.written_back else RECORDED), result.note
            values.update(state=state, error=None, result={"written_back": result.written_back, "note": note})
            status = record.status.value
            await records.add_event(session, record.id, "written_back" if result.written_back else "recorded_only",
                                    cause=cause, actor=row.actor, old_status=status, new_status=status,
                                    detail={**detail, "note": note}, at=at)
        elif answer.kind == REFUSED or attempts >= hub.config.service_orders.writeback_max_attempts:
            state = FAILED
            note = (f"the platform refused {step.action.value}: {answer.error}" if answer.kind == REFUSED
                    else f"gave up after {attempts} attempts; last: {answer.error}")
            values.update(state=state, error=note[:1000])
            await records.add_event(session, record.id, "write_failed", cause=cause, actor=row.actor,
                                    detail={**detail, "reason": note}, at=at)
        else:
            state = PENDING
            note = f"the platform did not answer ({answer.error}); tried again later with the same key"
            values.update(state=state, error=(answer.error or "")[:1000] or None,
                          next_attempt_at=at + _backoff(attempts))
        await session.execute(update(ServiceOrderWriteRow).where(ServiceOrderWriteRow.id == write_id)
                              .values(**values).execution_options(synchronize_session=False))
    log.info("service_order.writeback", service_order_id=record.id, action=step.action.value, answer=answer.kind,
             state=state, attempts=attempts)
    if state == DONE and answer.result is not None and answer.result.service_order is not None:
        await _apply_report(hub, record.id, answer.result)
    if state != PENDING:
        await _send_next(hub, record.id, write_id)
    return state, note


async def _send_next(hub: Any, service_order_id: int, write_id: int) -> None:
    """This write-back settled: the order's next step that waited for it goes now, not at the
    periodic retry (a person who reassigns right after the automatic assignment sees it written)."""
    async with hub.database().transaction() as session:
        next_id = await session.scalar(select(ServiceOrderWriteRow.id).where(
            ServiceOrderWriteRow.service_order_id == service_order_id, ServiceOrderWriteRow.state == PENDING,
            ServiceOrderWriteRow.id > write_id).order_by(ServiceOrderWriteRow.id).limit(1))
        if next_id is None:
            return
        await session.execute(update(ServiceOrderWriteRow).where(
            ServiceOrderWriteRow.id == next_id, ServiceOrderWriteRow.state == PENDING)
            .values(next_attempt_at=utcnow()).execution_options(synchronize_session=False))
    await deliver(hub, int(next_id))


async def _apply_report(hub: Any, service_order_id: int, result: ServiceStepResult) -> None:
    """The platform's order after the step, stored as intake stores a report. The write-back is
    done whatever happens here: a report that cannot be stored now comes again with the next poll."""
    from hub.services.service_orders import intake

    assert result.service_order is not None
    try:
        async with hub.database().transaction() as session:
            await intake.apply_service_order(session, result.service_order, cause="writeback",
                                             settings=hub.config.service_orders)
    except Exception as exc:
        log.warning("service_order.writeback_report_not_applied", service_order_id=service_order_id,
                    reason=describe_error(exc))


async def _wait_for(hub: Any, write_id: int, earlier: Any) -> tuple[str, str | None]:
    """An earlier step of the same order is still to be written back: the platform gets the steps
    in the order they were taken, so this one waits (pending, no attempt counted) and is sent after
    it (``retry_pending`` goes oldest first)."""
    earlier_id, earlier_action, earlier_at = earlier
    at = utcnow()
    when = max(earlier_at, at) if earlier_at is not None else at + timedelta(seconds=BACKOFF_FIRST_S)
    note = (f"waits for the write-back of {earlier_action} (write {earlier_id}) before it; sent after it with the "
            "same key")
    async with hub.database().transaction() as session:
        await session.execute(update(ServiceOrderWriteRow).where(
            ServiceOrderWriteRow.id == write_id, ServiceOrderWriteRow.state == PENDING)
            .values(next_attempt_at=when, error=note, updated_at=at).execution_options(synchronize_session=False))
    return PENDING, note


async def send(hub: Any, write_id: int) -> str:
    """Send one pending write-back; returns its state afterwards (done | recorded | failed | pending)."""
    state, _ = await deliver(hub, write_id)
    return state


async def retry_pending(hub: Any, *, now: datetime | None = None) -> int:
    """Send the pending write-backs that are due; returns how many were tried."""
    moment = now or utcnow()
    async with hub.database().session() as session:
        due = list((await session.execute(
            select(ServiceOrderWriteRow.id, ServiceOrderWriteRow.next_attempt_at).where(
                ServiceOrderWriteRow.state == PENDING, ServiceOrderWriteRow.next_attempt_at <= moment)
            .order_by(ServiceOrderWriteRow.id).limit(RETRY_BATCH))).all())
    tried = 0
    for write_id, was in due:
        async with hub.database().transaction() as session:
            # Take the row for this attempt (another worker's sweep finds it held).
            taken = await session.execute(update(ServiceOrderWriteRow).where(
                ServiceOrderWriteRow.id == write_id, ServiceOrderWriteRow.state == PENDING,
                ServiceOrderWriteRow.next_attempt_at == was).values(next_attempt_at=utcnow() + LEASE)
                .execution_options(synchronize_session=False))
            if not getattr(taken, "rowcount", 0):
                continue
        tried += 1
        await deliver(hub, write_id, held=True)
    return tried
