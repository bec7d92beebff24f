"""A merchant's decision on a case, written back to the platform once.

``decide`` checks the decision against the case (``decision_checks``: allowed now, amount within
what was paid, a reason for a refusal, a return address), claims its idempotency key and records
it as an ``aftersale_actions`` row with a ``decided`` history entry in one transaction — goods
that came back go into stock in that same transaction (``returns``: they are back whatever the
platform answers) — then writes it back through the shop's connector (``writeback``) with the same
key on every attempt. One decision at a time per case. The platform's answer decides the rest:

- taken → the row is ``done``, the case advances (from the platform's report when the connector
  read it again), a reissue's goods are sent again (``replacements``);
- moved on at the platform (``StaleAfterSaleError``) → ``CaseConflictError`` with the platform's
  current state, and nothing changes locally (the row is ``failed``);
- refused (``BadInputError``/``PermanentError``) → ``failed``, the reason returned;
- no API for this step (or a case the hub made) → ``recorded``, the hub applies it and says so;
- an exchange's replacement without a parcel yet → ``recorded``, a delivery order through
  fulfilment; the platform is told when it ships;
- a timeout → ``pending``: ``retry_pending`` tries it again later with the same key.

``replacement_shipped`` is the end of an exchange's replacement or a reissue: its delivery order
shipped, so ``ship_exchange`` (or, where the platform takes a reissue's parcel, ``reissue``) is
written back with the parcel (docs/aftersales/decisions.md).

Not for reading cases (``queries``) or rules acting alone (``rules``, which call ``decide``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.aftersales import AfterSaleAction, AfterSaleStatus, Proof, RefuseReason
from hub.db.tables import AfterSaleActionRow, AfterSaleRow, ChannelStockRow
from hub.db.upsert import insert_ignore
from hub.errors import BadInputError, HubError, describe_error
from hub.services.aftersales import decision_checks as checks
from hub.services.aftersales import writeback
from hub.services.aftersales.case_records import (
    LEADS_TO,
    LineQuality,
    add_event,
    advance,
    case_lines,
    case_of,
    is_local,
    load_case,
    now,
)

log = structlog.get_logger(__name__)

__all__ = ["CaseConflictError", "DecisionIn", "DecisionOutcome", "LineQuality", "decide", "refuse_reasons",
           "retry_pending"]

PENDING, DONE, RECORDED, FAILED = "pending", "done", "recorded", "failed"
#: How a decision is carried out: ``platform`` (written back), ``recorded`` (the hub only),
#: ``send`` (an exchange's replacement through fulfilment, written back when it ships).
PLATFORM, LOCAL, SEND = "platform", "recorded", "send"
#: A write-back in flight holds its row this long; a crash leaves it for ``retry_pending`` after.
LEASE = timedelta(minutes=2)
#: Waits between write-backs of a decision that timed out: doubling from the first, at most the last.
BACKOFF_FIRST_S, BACKOFF_MAX_S = 30.0, 3600.0
KEY_MAX = 100
#: A reissue whose parcel the platform reports in one of these is sent (its platform completes it).
_SHIPPED = frozenset({AfterSaleStatus.REPLACEMENT_SHIPPED.value, AfterSaleStatus.COMPLETED.value})


class CaseConflictError(HubError):
    """The case moved on at the platform (or in the hub) so this decision no longer applies.
    ``current`` is what the platform reports now (a dict for the API), when known."""

    def __init__(self, message: str, *, current: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.current = current


@dataclass(frozen=True)
class DecisionIn:
    """A decision as a person (or a rule) asks for it; which fields matter depends on ``action``."""

    action: str
    refund_amount: Decimal | None = None
    reason_id: str | None = None
    reason_text: str | None = None
    proof: tuple[Proof, ...] = ()
    remark: str | None = None
    #: confirm_return / receive_exchange: per case line; empty = every unit came back good.
    quality: tuple[LineQuality, ...] = ()
    #: ship_exchange / reissue: the warehouse to ship from (None: routed like an order).
    warehouse: str | None = None
    #: ship_exchange when the replacement left outside the hub: its courier and tracking number.
    courier_code: str | None = None
    tracking_number: str | None = None


@dataclass
class DecisionOutcome:
    """What became of a decision. ``state``: done | recorded | pending | failed; ``repeated`` when
    the key was used before (nothing was done again; the first call's outcome)."""

    case_id: int
    action_id: int
    action: str
    state: str
    written_back: bool
    status: str
    note: str | None = None
    repeated: bool = False
    delivery_order_id: int | None = None
    stock: list[dict[str, Any]] = field(default_factory=list)


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _bounded(key: str) -> str:
    """A key that fits the column: long ones keep a readable head and a hash of the whole."""
    if len(key) <= KEY_MAX:
        return key
    return f"{key[:KEY_MAX - 33]}#{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def action_key(case_id: int, action: AfterSaleAction, version: str | None, given: str | None) -> str:
    """The stored key: the caller's, within the case (one key never reaches another case), or
    derived from the case, the action and the version the person saw (a double submit is one)."""
    if given is not None:
        return _bounded(f"as{case_id}:{given}")
    return _bounded(f"as{case_id}:{action.value}:{version or '-'}")


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_FIRST_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


def _recorded_note(hub: Any, row: AfterSaleRow, action: AfterSaleAction) -> str:
    if is_local(row):
        return f"case {row.id} was made in the hub: {action.value} is recorded in the hub only"
    if writeback.platform_actions(hub, row.platform, row.shop) is None:
        return (f"the {row.platform} connector of shop {row.shop!r} cannot write after-sale decisions back: "
                f"{action.value} is recorded in the hub only; do it in the seller backend too")
    return (f"the {row.platform} platform has no API for {action.value}: recorded in the hub only; do it in the "
            "seller backend too")


def _mode(hub: Any, row: AfterSaleRow, action: AfterSaleAction, decision: DecisionIn) -> str:
    if action is AfterSaleAction.SHIP_EXCHANGE and not decision.tracking_number:
        return SEND
    actions = writeback.platform_actions(hub, row.platform, row.shop)
    if is_local(row) or actions is None or action not in actions:
        return LOCAL
    return PLATFORM


@dataclass(frozen=True)
class _Claimed:
    action_id: int
    case_id: int
    action: AfterSaleAction
    mode: str
    stock: list[dict[str, Any]]


async def _recall(session: AsyncSession, found: AfterSaleActionRow) -> DecisionOutcome:
    """The first call's outcome for a repeated key (its refusal raised again)."""
    result = dict(found.result or {})
    if found.state == FAILED:
        if result.get("conflict"):
            raise CaseConflictError(found.error or "the case moved on", current=result.get("current"))
        raise BadInputError(found.error or "the platform refused the decision", field=result.get("field") or "action")
    status = await session.scalar(select(AfterSaleRow.status).where(AfterSaleRow.id == found.aftersale_id))
    return DecisionOutcome(found.aftersale_id, found.id, found.action, found.state,
                           bool(result.get("written_back")), str(status), note=result.get("note"), repeated=True,
                           delivery_order_id=result.get("delivery_order_id"), stock=list(result.get("stock") or []))


async def _by_key(session: AsyncSession, key: str) -> AfterSaleActionRow | None:
    return (await session.execute(select(AfterSaleActionRow).where(AfterSaleActionRow.key == key)
                                  .execution_options(populate_existing=True))).scalar_one_or_none()


async def _none_in_flight(session: AsyncSession, case_id: int) -> None:
    """One decision at a time: while one is still being written back (or waits for a retry), the
    platform's answer to it decides what comes next."""
    busy = (await session.execute(select(AfterSaleActionRow.id, AfterSaleActionRow.action).where(
        AfterSaleActionRow.aftersale_id == case_id, AfterSaleActionRow.state == PENDING)
        .order_by(AfterSaleActionRow.id).limit(1))).first()
    if busy is not None:
        raise CaseConflictError(f"case {case_id}: decision {busy[0]} ({busy[1]}) is still being written back to the "
                                f"platform; wait for it (GET /api/v1/aftersales/{case_id}/decisions/{busy[0]})")


async def _claim(hub: Any, case_id: int, action: AfterSaleAction, decision: DecisionIn, *, actor: str,
                 key: str | None, cause: str) -> _Claimed | DecisionOutcome:
    """Check the decision and claim its key (the action row, the history entry and, for goods
    back, the stock movements: one transaction); or the first outcome of a repeated key."""
    from hub.services.aftersales import returns

    async with hub.database().transaction() as session:
        row = await load_case(session, case_id, lock=True)
        version = row.version or case_of(row).version
        stored_key = action_key(case_id, action, version, key)
        found = await _by_key(session, stored_key)
        if found is not None:
            return await _recall(session, found)
        checks.check_allowed(row, action)
        await _none_in_flight(session, case_id)
        checks.check_reason(action, decision)
        checks.check_parcel(action, decision)
        case = case_of(row)
        lines = await case_lines(session, row)
        refund = (await checks.refund_money(session, row, case, lines, decision.refund_amount)
                  if action in checks.WITH_AMOUNT else None)
        address = checks.return_address(hub.config, row.shop) if action in checks.WITH_ADDRESS else None
        mode = _mode(hub, row, action, decision)
        params = {**checks.params_of(decision, action, version, refund, address), "mode": mode,
                  "key_given": key is not None, "cause": cause}
        inserted = await session.execute(insert_ignore(AfterSaleActionRow, _dialect(session)).values(
            aftersale_id=case_id, key=stored_key, action=action.value, params=params, actor=actor, state=PENDING,
            attempts=0, next_attempt_at=now() + LEASE if mode == PLATFORM else None, result={}, error=None,
            created_at=now(), updated_at=now()).returning(AfterSaleActionRow.id))
        action_id = inserted.scalar_one_or_none()
        if action_id is None:  # the same key claimed meanwhile on another case lock (a key reused across cases)
            found = await _by_key(session, stored_key)
            assert found is not None
            return await _recall(session, found)
        add_event(session, case_id, "decided", cause=cause, actor=actor, old_status=row.status,
                  new_status=row.status, action=action.value, action_id=action_id, mode=mode,
                  refund_amount=str(refund.amount) if refund is not None else None,
                  reason_id=decision.reason_id, reason_text=decision.reason_text, remark=decision.remark)
        await session.execute(update(AfterSaleRow).where(AfterSaleRow.id == case_id).values(decided_by=actor[:100])
                              .execution_options(synchronize_session=False))
        stock: list[dict[str, Any]] = []
        if action in checks.RECEIVING:
            # The goods are physically back whatever the platform answers: recorded now, once per case.
            stock = await returns.receive_goods(session, hub.config, case_id, decision.quality, actor=actor)
            await session.execute(update(AfterSaleActionRow).where(AfterSaleActionRow.id == action_id)
                                  .values(result={"stock": stock}))
    if stock:
        await _stock_moved(hub, sorted({m["sku"] for m in stock}))
    return _Claimed(action_id, case_id, action, mode, stock)


async def _stock_moved(hub: Any, skus: list[str]) -> None:
    """After commit: push the shops whose listings the movements made dirty, tell ``stock_changed``
    and give orders short of these SKUs another try (as a stock adjustment does)."""
    from hub.services.stock import effects, scheduling

    async with hub.database().session() as session:
        shops = set((await session.execute(select(ChannelStockRow.shop).where(
            ChannelStockRow.merchant_sku.in_(skus), ChannelStockRow.dirty.is_(True)).distinct())).scalars())
    await scheduling.schedule_push(hub, shops)
    await effects.notify_stock_changed(hub, set(skus))
    await effects.retry_short_orders(hub, set(skus))


async def decide(hub: Any, case_id: int, decision: DecisionIn, *, actor: str, key: str | None = None,
                 cause: str = "api") -> DecisionOutcome:
    """Take ``decision`` on case ``case_id`` for ``actor`` (see the module docstring).

    Raises ``NotFoundError`` (no such case), ``BadInputError`` naming the field (not allowed now,
    an amount above what was paid, a reason missing), ``CaseConflictError`` (moved on)."""
    action = checks.parse_action(decision.action)
    claimed = await _claim(hub, case_id, action, decision, actor=actor, key=key, cause=cause)
    if isinstance(claimed, DecisionOutcome):
        return claimed
    log.info("aftersale.decided", case_id=case_id, action=action.value, mode=claimed.mode, by=actor,
             action_id=claimed.action_id)
    if claimed.mode == LOCAL:
        return await _record_locally(hub, claimed.action_id)
    if claimed.mode == SEND:
        return await _send_replacement(hub, claimed.action_id)
    return await attempt(hub, claimed.action_id)


# --------------------------------------------------------------------------- settling a decision


async def _load_action(session: AsyncSession, action_id: int) -> AfterSaleActionRow:
    return (await session.execute(select(AfterSaleActionRow).where(AfterSaleActionRow.id == action_id)
                                  .execution_options(populate_existing=True))).scalar_one()


async def _settle(session: AsyncSession, found: AfterSaleActionRow, state: str, *, error: str | None = None,
                  next_attempt_at: datetime | None = None, attempts: int | None = None, **result: Any) -> None:
    values: dict[str, Any] = {"state": state, "error": error[:1000] if error else None,
                              "next_attempt_at": next_attempt_at, "result": {**(found.result or {}), **result},
                              "updated_at": now()}
    if attempts is not None:
        values["attempts"] = attempts
    if state == FAILED and not (found.params or {}).get("key_given"):
        # A derived key is the hub's, not the person's: free it, so the decision may be taken again.
        values["key"] = _bounded(f"{found.key}~{found.id}")
    await session.execute(update(AfterSaleActionRow).where(AfterSaleActionRow.id == found.id).values(**values)
                          .execution_options(synchronize_session=False))


def _outcome(found: AfterSaleActionRow, state: str, status: str, *, written_back: bool, note: str | None,
             delivery_order_id: int | None = None) -> DecisionOutcome:
    return DecisionOutcome(found.aftersale_id, found.id, found.action, state, written_back, status, note=note,
                           delivery_order_id=delivery_order_id, stock=list((found.result or {}).get("stock") or []))


async def _record_locally(hub: Any, action_id: int) -> DecisionOutcome:
    """The platform takes no such decision (or the case is the hub's): the hub applies it."""
    async with hub.database().transaction() as session:
        found = await _load_action(session, action_id)
        row = await load_case(session, found.aftersale_id, lock=True)
        action = AfterSaleAction(found.action)
        note = _recorded_note(hub, row, action)
        target = LEADS_TO[action]
        params = found.params or {}
        if action is AfterSaleAction.REISSUE and params.get("tracking_number"):
            target = AfterSaleStatus.COMPLETED  # sent outside the hub already
        if action is AfterSaleAction.SHIP_EXCHANGE and params.get("tracking_number") and is_local(row):
            # The replacement has left and no platform will report the buyer's receipt of a case
            # the hub made: it is done, as a reissue is once its goods ship.
            target = AfterSaleStatus.COMPLETED
        await advance(session, row, target, kind="recorded_only", cause=str(params.get("cause", "api")),
                      actor=found.actor, action=action.value, action_id=found.id, note=note)
        await _settle(session, found, RECORDED, written_back=False, note=note)
        status = row.status
    outcome = _outcome(found, RECORDED, status, written_back=False, note=note)
    return await _consequences(hub, found, outcome)


async def _send_replacement(hub: Any, action_id: int) -> DecisionOutcome:
    """An exchange's replacement through fulfilment; the platform is told when it ships."""
    from hub.services.aftersales import replacements

    async with hub.database().session() as session:
        found = await _load_action(session, action_id)
    params = found.params or {}
    try:
        do_id = await replacements.send_replacement(hub, found.aftersale_id, actor=found.actor or "hub",
                                                    warehouse=params.get("warehouse"))
    except BadInputError as exc:
        async with hub.database().transaction() as session:
            await _settle(session, await _load_action(session, action_id), FAILED, error=describe_error(exc),
                          field=exc.field)
        raise
    note = (f"replacement delivery order {do_id} created; the platform is told its courier and tracking number "
            "when it ships")
    async with hub.database().transaction() as session:
        found = await _load_action(session, action_id)
        await _settle(session, found, RECORDED, written_back=False, note=note, delivery_order_id=do_id)
        status = str(await session.scalar(select(AfterSaleRow.status).where(AfterSaleRow.id == found.aftersale_id)))
    return _outcome(found, RECORDED, status, written_back=False, note=note, delivery_order_id=do_id)


async def _consequences(hub: Any, found: AfterSaleActionRow, outcome: DecisionOutcome) -> DecisionOutcome:
    """What follows a reissue the platform took (or the hub recorded): the goods sent again."""
    from hub.services.aftersales import replacements

    params = found.params or {}
    if AfterSaleAction(found.action) is not AfterSaleAction.REISSUE or params.get("tracking_number"):
        return outcome
    try:
        outcome.delivery_order_id = await replacements.send_replacement(
            hub, found.aftersale_id, actor=found.actor or "hub", warehouse=params.get("warehouse"))
    except HubError as exc:  # the decision stands; the delivery is for a person to arrange
        reason = describe_error(exc)
        async with hub.database().transaction() as session:
            add_event(session, found.aftersale_id, "replacement", cause="decision", actor=found.actor,
                      failed=True, reason=reason)
        outcome.note = f"{outcome.note + '; ' if outcome.note else ''}the reissue was not sent: {reason}"
        log.warning("aftersale.reissue_not_sent", case_id=found.aftersale_id, reason=reason)
        return outcome
    async with hub.database().transaction() as session:
        await _settle(session, await _load_action(session, found.id), outcome.state,
                      delivery_order_id=outcome.delivery_order_id)
    return outcome


async def attempt(hub: Any, action_id: int) -> DecisionOutcome:
    """Write decision ``action_id`` back once (with short retries) and settle it. Raises
    ``CaseConflictError`` / ``BadInputError`` for a platform that moved on / refused."""
    from hub.services.aftersales import intake

    async with hub.database().session() as session:
        found = await _load_action(session, action_id)
        row = await load_case(session, found.aftersale_id)
        case = case_of(row)
    action = AfterSaleAction(found.action)
    decision = checks.decision_of(found.params or {}, found.key)
    answer = await writeback.write_back(hub, row.shop, case, decision)
    attempts = found.attempts + 1
    cause = str((found.params or {}).get("cause", "api"))
    failure: HubError | None = None  # raised once the failure is recorded
    async with hub.database().transaction() as session:
        found = await _load_action(session, action_id)
        row = await load_case(session, found.aftersale_id, lock=True)
        if answer.kind == writeback.TAKEN and answer.result is not None:
            result = answer.result
            state = DONE if result.written_back else RECORDED
            old = row.status
            if result.case is not None and result.written_back:
                await intake.apply_aftersale(session, result.case, cause="decision")
                row = await load_case(session, row.id)
                add_event(session, row.id, "written_back", cause=cause, actor=found.actor, old_status=old,
                          new_status=row.status, action=action.value, action_id=found.id, note=result.note)
            else:
                await advance(session, row, LEADS_TO[action], cause=cause, actor=found.actor, action=action.value,
                              kind="written_back" if result.written_back else "recorded_only", action_id=found.id,
                              note=result.note)
            if action is AfterSaleAction.REISSUE and decision.tracking_number and row.status not in _SHIPPED:
                # The platform took the parcel but reports the case as not sent (or not at all): the
                # goods left, so the reissue is done for the hub, as when recorded only.
                await advance(session, row, AfterSaleStatus.COMPLETED, cause=cause, actor=found.actor,
                              kind="written_back", action=action.value, action_id=found.id,
                              note="the platform took the parcel of the reissue; its goods left, so it is done")
            await _settle(session, found, state, attempts=attempts, written_back=result.written_back,
                          note=result.note)
            outcome = _outcome(found, state, row.status, written_back=result.written_back, note=result.note)
        elif answer.kind == writeback.STALE:
            current = answer.current.model_dump(mode="json") if answer.current is not None else None
            await _settle(session, found, FAILED, attempts=attempts, error=answer.error, conflict=True,
                          current=current)
            failure = CaseConflictError(f"case {row.id}: the platform has moved on, {action.value} no longer "
                                        f"applies ({answer.error}); reload the case and decide again", current=current)
        elif answer.kind == writeback.REFUSED:
            await _settle(session, found, FAILED, attempts=attempts, error=answer.error, field=answer.field)
            add_event(session, row.id, "writeback_failed", cause=cause, actor=found.actor, action=action.value,
                      action_id=found.id, reason=answer.error)
            failure = BadInputError(f"case {row.id}: the platform refused {action.value}: {answer.error}",
                                    field=answer.field or "action")
        else:
            limit = hub.config.aftersales.writeback_max_attempts
            if attempts >= limit:
                reason = f"gave up after {attempts} attempts; last: {answer.error}"
                await _settle(session, found, FAILED, attempts=attempts, error=reason)
                add_event(session, row.id, "writeback_failed", cause=cause, actor=found.actor, action=action.value,
                          action_id=found.id, reason=reason)
                outcome = _outcome(found, FAILED, row.status, written_back=False, note=reason)
            else:
                await _settle(session, found, PENDING, attempts=attempts, error=answer.error,
                              next_attempt_at=now() + _backoff(attempts))
                outcome = _outcome(found, PENDING, row.status, written_back=False,
                                   note=f"the platform did not answer ({answer.error}); tried again later with "
                                        "the same key")
    log.info("aftersale.writeback", case_id=found.aftersale_id, action=action.value, answer=answer.kind,
             attempts=attempts)
    if failure is not None:
        raise failure
    if outcome.state in (DONE, RECORDED):
        outcome = await _consequences(hub, found, outcome)
    return outcome


async def retry_pending(hub: Any, limit: int = 50, *, at: datetime | None = None) -> int:
    """Write back again the decisions left ``pending`` whose next attempt is due (same key);
    returns how many were tried."""
    moment = at or now()
    async with hub.database().transaction() as session:
        due = list((await session.execute(
            select(AfterSaleActionRow.id, AfterSaleActionRow.next_attempt_at).where(
                AfterSaleActionRow.state == PENDING, AfterSaleActionRow.next_attempt_at <= moment)
            .order_by(AfterSaleActionRow.next_attempt_at).limit(limit))).all())
    tried = 0
    for action_id, was in due:
        async with hub.database().transaction() as session:
            # Take the row for this attempt (another worker's sweep finds it leased).
            taken = await session.execute(update(AfterSaleActionRow).where(
                AfterSaleActionRow.id == action_id, AfterSaleActionRow.state == PENDING,
                AfterSaleActionRow.next_attempt_at == was).values(next_attempt_at=now() + LEASE)
                .execution_options(synchronize_session=False))
            if not getattr(taken, "rowcount", 0):
                continue
        tried += 1
        try:
            await attempt(hub, action_id)
        except (CaseConflictError, BadInputError) as exc:  # settled as failed, with the reason
            log.warning("aftersale.retry_refused", action_id=action_id, reason=describe_error(exc))
    return tried


async def refuse_reasons(hub: Any, case_id: int) -> list[RefuseReason]:
    """The platform's reasons for refusing the case now (empty: free text only)."""
    async with hub.database().session() as session:
        row = await load_case(session, case_id)
    if is_local(row) or writeback.platform_actions(hub, row.platform, row.shop) is None:
        return []
    connector = hub.accounts().channel(row.shop)
    case = case_of(row)

    async def read() -> list[RefuseReason]:
        reasons: list[RefuseReason] = await connector.aftersale_refuse_reasons(case)
        return reasons

    return await writeback.with_retries(read)


async def replacement_shipped(hub: Any, case_id: int, delivery_order_id: int, parcels: list[tuple[str, str]], *,
                              actor: str) -> bool:
    """A replacement (or reissue) delivery order left the warehouse (the
    ``aftersale_replacement_shipped`` actor): settled once (``replacements.replacement_left``);
    then the first parcel's courier and tracking number are written back — an exchange's
    replacement as ``ship_exchange``, a reissue as ``reissue`` where its platform takes the parcel
    (``replacements.reissue_told``: Douyin's 补寄 ``afterSale.fillLogistics``; elsewhere the reissue
    is recorded in the hub only) — never as a second shipment of the order. False: settled before."""
    from hub.services.aftersales import replacements

    purpose = await replacements.replacement_left(hub, case_id, delivery_order_id, parcels, actor=actor)
    if purpose is None:
        return False
    if not parcels:
        return True
    if purpose == replacements.REPLACEMENT:
        action = AfterSaleAction.SHIP_EXCHANGE
    else:
        async with hub.database().session() as session:
            if not replacements.reissue_told(hub, await load_case(session, case_id)):
                return True
        action = AfterSaleAction.REISSUE
    courier, number = parcels[0]
    try:
        await decide(hub, case_id, DecisionIn(action=action.value, courier_code=courier, tracking_number=number),
                     actor=actor, key=f"{action.value}:do{delivery_order_id}", cause="fulfilment")
    except HubError as exc:  # the platform moved on or refused: a person must tell it by hand
        reason = describe_error(exc)
        async with hub.database().transaction() as session:
            add_event(session, case_id, "writeback_failed", cause="fulfilment", actor=actor, action=action.value,
                      delivery_order_id=delivery_order_id, reason=reason)
        log.error("aftersale.replacement_writeback_failed", case_id=case_id, delivery_order_id=delivery_order_id,
                  action=action.value, reason=reason)
    return True
