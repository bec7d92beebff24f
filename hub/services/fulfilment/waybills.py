"""Electronic waybills (电子面单): one per parcel, obtained exactly once from the courier account's
provider (``CourierConnector.create_waybill`` with the parcel's key), cancelled when unused.

Exactly once rests on three things: the parcel's ``key`` goes to the provider, which answers the
same number when asked again with it (a retry after a timeout gets the first waybill, never a
second); the waybill is stored only while the parcel is still ``pending`` (a late or duplicate
answer changes nothing); and ``(courier_code, waybill_number)`` is unique in the database. A
final refusal leaves the parcel ``failed`` and holds its order ``waybill_failed`` with the
provider's message; a transient fault keeps it ``pending`` for the queue's retry, up to
``[fulfilment.waybills] max_attempts``.

Labels bought elsewhere: a parcel whose courier account cannot issue waybills (its connector lacks
``CREATE_WAYBILL``, e.g. the built-in ``manual`` courier) is not failed but left ``pending``,
waiting for a person (``WAITING_REASON`` in ``last_error``, no hold, no attempt spent), who types
the tracking number in (``enter_waybill``). Not for choosing the courier (``courier_rules``),
labels (``labels``) or HTTP (``hub.api.routes.fulfilment_waybills``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.connectors import Capability, declared
from contracts.fulfilment import Hold
from contracts.orders import Address
from contracts.shipments import canonical_courier_code
from contracts.waybills import RECIPIENT_OAID_EXTRA, Waybill, WaybillItem, WaybillRequest
from hub.context import Hub
from hub.db import outbox
from hub.db.tables import (
    DeliveryLineRow,
    DeliveryOrderRow,
    OrderEventRow,
    OrderHoldRow,
    OrderLineRow,
    OrderRow,
    ParcelRow,
    utcnow,
)
from hub.errors import (
    BadInputError,
    ConfigError,
    HubError,
    NotFoundError,
    PermanentError,
    RetryableError,
    ShopPausedError,
    describe_error,
)
from hub.queue.breaker import CircuitBreaker
from hub.services import orders
from hub.services.fulfilment import aftersale_deliveries, courier_rules

log = structlog.get_logger(__name__)

ISSUE_ACTOR = "issue_waybills"
#: The hold an order gets when a parcel of it cannot get a waybill.
FAILED_HOLD = "waybill_failed"
#: Parcel statuses that have a waybill the courier may still collect, and may be cancelled.
CANCELLABLE = ("issued", "printed", "cancelling")
#: Parcel statuses without a waybill: cancelling them needs no provider call.
UNISSUED = ("pending", "failed")
#: What a parcel of an account that issues no waybills waits for.
WAITING_REASON = "enter the tracking number of a label bought elsewhere"
#: ``print_data["provider"]`` of a waybill a person entered: nothing to cancel at any provider.
ENTERED = "entered"
#: The longest waybill number a person may enter (the column holds 100).
MAX_NUMBER = 100
_NUMBER_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./")


class WaybillRefused(HubError):
    """The parcel is not in a state for this (cancelled, shipped, no waybill): HTTP 409."""


@dataclass(frozen=True)
class _Attempt:
    parcel_id: int
    order_id: int
    account: str
    request: WaybillRequest
    attempts: int


@dataclass(frozen=True)
class IssueOutcome:
    """What ``issue_parcel`` did: ``status`` the parcel's status after, ``error`` a transient fault
    left for a retry (None otherwise)."""

    parcel_id: int
    status: str
    waybill_number: str | None = None
    error: str | None = None


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def _lock(session: AsyncSession, parcel_id: int) -> ParcelRow | None:
    stmt = select(ParcelRow).where(ParcelRow.id == parcel_id).execution_options(populate_existing=True)
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def _event(order_id: int, kind: str, actor: str | None, detail: dict[str, Any]) -> OrderEventRow:
    return OrderEventRow(order_id=order_id, at=utcnow(), kind=kind, old_status=None, new_status=None,
                         cause="waybill", actor=actor, detail=detail)


def issues_waybills(hub: Hub, account: str | None) -> bool:
    """Whether the courier account's connector issues waybills (``CREATE_WAYBILL``). An account
    that is not configured, or whose platform has no connector, counts as issuing: asking it fails
    the parcel naming the problem, as before."""
    return courier_rules.issues_waybills(hub, account) is not False


def waits_for_entry(hub: Hub, parcel: ParcelRow) -> bool:
    """Whether a person may type the parcel's waybill number in now: it has none yet and either its
    account issues no waybills (labels bought elsewhere), or its provider failed it (no call is out)."""
    if parcel.waybill_number or parcel.status not in UNISSUED:
        return False
    return parcel.status == "failed" or not issues_waybills(hub, parcel.courier_account)


def breaker(hub: Hub, account: str) -> CircuitBreaker:
    """The courier account's breaker: several transient faults in a row and calls wait a cooldown."""
    return CircuitBreaker(hub.redis(), f"courier:{account}", key_prefix=hub.redis_key("breaker:"))


# --------------------------------------------------------------------------- the request


def _warehouse_of(hub: Hub, delivery: DeliveryOrderRow | None) -> str:
    if delivery is not None:
        return delivery.warehouse
    if len(hub.config.warehouses) == 1:
        return next(iter(hub.config.warehouses))
    raise PermanentError("the parcel has no delivery order, so no warehouse to send it from")


def _sender(hub: Hub, warehouse: str) -> Address:
    config = hub.config.warehouses.get(warehouse)
    if config is None or not config.address:
        raise PermanentError(f"warehouse {warehouse!r} has no sender address: set [warehouses.{warehouse}] address "
                             "(name, phone, province, city, district, street)")
    try:
        return Address.model_validate(config.address)
    except ValidationError as exc:
        raise PermanentError(f"[warehouses.{warehouse}] address is invalid: {exc.errors()[0]['msg']}") from exc


def _recipient_oaid(extra: dict[str, Any]) -> str | None:
    """The parcel's own order's recipient id (``Order.extra["oaid"]``), when its channel gave one.
    A merged parcel goes to that order's recipient, so the other orders' ids are not needed."""
    value = extra.get(RECIPIENT_OAID_EXTRA)
    text = "" if value is None else str(value).strip()
    return text or None


async def waybill_request(hub: Hub, session: AsyncSession, parcel: ParcelRow) -> WaybillRequest:
    """The waybill request for ``parcel`` (``PermanentError`` when it cannot be made)."""
    order_row = (await session.execute(select(OrderRow).where(OrderRow.id == parcel.order_id))).scalar_one()
    order = orders.stored_order(order_row)
    delivery = None
    if parcel.delivery_order_id is not None:
        delivery = (await session.execute(select(DeliveryOrderRow).where(
            DeliveryOrderRow.id == parcel.delivery_order_id))).scalar_one_or_none()
    if delivery is not None:
        wanted = [(d.order_id, d.line_external_id, d.merchant_sku, d.quantity) for d in (await session.execute(
            select(DeliveryLineRow).where(DeliveryLineRow.delivery_order_id == delivery.id)
            .order_by(DeliveryLineRow.id))).scalars()]
    else:
        wanted = [(parcel.order_id, line.external_id, line.merchant_sku, line.quantity) for line in order.lines]
    order_ids = list(dict.fromkeys([parcel.order_id] + [w[0] for w in wanted]))
    titles = {(row.order_id, row.external_id): row.title for row in (await session.execute(
        select(OrderLineRow).where(OrderLineRow.order_id.in_(order_ids)))).scalars()}
    external = {row.id: row.external_id for row in (await session.execute(
        select(OrderRow.id, OrderRow.external_id).where(OrderRow.id.in_(order_ids)))).all()}
    items = [WaybillItem(name=(titles.get((oid, line)) or sku or line)[:200], quantity=qty, merchant_sku=sku)
             for oid, line, sku, qty in wanted if qty > 0]
    if not items:
        raise PermanentError("the parcel's delivery order has no lines")
    if order.shipping_address is None:
        raise PermanentError(f"order {parcel.order_id} has no shipping address")
    try:
        return WaybillRequest(
            key=parcel.key, courier_code=parcel.courier_code, platform=order_row.platform, shop=order_row.shop,
            order_external_ids=[external[oid] for oid in order_ids if oid in external],
            sender=_sender(hub, _warehouse_of(hub, delivery)),
            # Possibly masked or platform-encrypted: passed on as it is, with the platform's id of the
            # real recipient when the channel gave one (TOP's oaid), from which the platform's own
            # waybill service finds the address of its own orders.
            recipient=order.shipping_address, items=items, weight_grams=parcel.weight_grams,
            recipient_oaid=_recipient_oaid(order.extra),
        )
    except ValidationError as exc:
        raise PermanentError(f"the waybill request is invalid: {exc.errors()[0]['msg']}") from exc


async def _not_needed(session: AsyncSession, parcel: ParcelRow) -> str | None:
    """Why a pending parcel needs no waybill any more, or None: its delivery order is cancelled, or
    every order it would carry has shipped already (a person recorded the shipment by hand)."""
    order_ids = {parcel.order_id}
    if parcel.delivery_order_id is not None:
        found = (await session.execute(select(DeliveryOrderRow.status, DeliveryOrderRow.data).where(
            DeliveryOrderRow.id == parcel.delivery_order_id))).one_or_none()
        if found is not None and found[0] == "cancelled":
            return f"its delivery order {parcel.delivery_order_id} is cancelled"
        if found is not None and aftersale_deliveries.aftersale_of(found[1]) is not None:
            return None  # an after-sale case's goods sent again: its order shipped long ago, on purpose
        order_ids |= set((await session.execute(select(DeliveryLineRow.order_id).where(
            DeliveryLineRow.delivery_order_id == parcel.delivery_order_id))).scalars())
    statuses = list((await session.execute(select(OrderRow.fulfilment_status).where(
        OrderRow.id.in_(order_ids)))).scalars())
    if statuses and all(status == "shipped" for status in statuses):
        return f"order(s) {', '.join(map(str, sorted(order_ids)))} shipped already"
    return None


async def _begin(hub: Hub, parcel_id: int) -> _Attempt | None:
    """Count an attempt on a pending parcel and build its request; None when there is nothing to do."""
    async with hub.database().transaction() as session:
        parcel = await _lock(session, parcel_id)
        if parcel is None:
            log.warning("waybill.parcel_missing", parcel_id=parcel_id)
            return None
        if parcel.status != "pending":
            return None  # issued already (a repeated message), or failed/cancelled: nothing to ask
        why = await _not_needed(session, parcel)
        if why is not None:  # never issued: a waybill nobody will use is a waste (and a risk)
            await session.execute(update(ParcelRow).where(ParcelRow.id == parcel_id).values(
                status="cancelled", last_error=why, updated_at=utcnow()))
            session.add(_event(parcel.order_id, "parcel_cancelled", ISSUE_ACTOR, {
                "parcel_id": parcel_id, "waybill_number": None, "reason": why}))
            log.info("waybill.not_needed", parcel_id=parcel_id, order_id=parcel.order_id, reason=why)
            return None
        if not issues_waybills(hub, parcel.courier_account):
            await _await_entry(session, parcel)
            return None
        attempts = parcel.attempts + 1
        await session.execute(update(ParcelRow).where(ParcelRow.id == parcel_id).values(
            attempts=attempts, updated_at=utcnow()))
        try:
            if not parcel.courier_account:
                raise PermanentError("the parcel names no courier account to issue its waybill")
            request = await waybill_request(hub, session, parcel)
        except PermanentError as exc:
            await _failed(session, parcel, describe_error(exc))
            return None
        return _Attempt(parcel_id, parcel.order_id, parcel.courier_account, request, attempts)


# --------------------------------------------------------------------------- outcomes


async def _await_entry(session: AsyncSession, parcel: ParcelRow) -> None:
    """A parcel of an account that issues no waybills waits for a person to enter the number of a
    label bought elsewhere: it stays ``pending`` with that reason, no hold, no attempt spent; the
    order's history says so once."""
    if parcel.last_error == WAITING_REASON:
        return
    await session.execute(update(ParcelRow).where(ParcelRow.id == parcel.id).values(
        last_error=WAITING_REASON, updated_at=utcnow()))
    session.add(_event(parcel.order_id, "waybill_awaited", ISSUE_ACTOR, {
        "parcel_id": parcel.id, "courier_account": parcel.courier_account, "reason": WAITING_REASON}))
    log.info("waybill.awaiting_entry", parcel_id=parcel.id, order_id=parcel.order_id, account=parcel.courier_account)


async def _failed(session: AsyncSession, parcel: ParcelRow, reason: str) -> None:
    """The parcel cannot get a waybill: ``failed``, and its order held with the reason."""
    await session.execute(update(ParcelRow).where(ParcelRow.id == parcel.id).values(
        status="failed", last_error=reason, updated_at=utcnow()))
    session.add(_event(parcel.order_id, "waybill_failed", ISSUE_ACTOR, {"parcel_id": parcel.id, "reason": reason}))
    await orders.add_hold(session, parcel.order_id, Hold(
        code=FAILED_HOLD, reason=f"parcel {parcel.id}: no waybill from {parcel.courier_account or 'the courier'}: "
                                 f"{reason}"[:1000]), cause="waybill", actor=ISSUE_ACTOR)
    log.error("waybill.failed", parcel_id=parcel.id, order_id=parcel.order_id, reason=reason)


async def _fail(hub: Hub, parcel_id: int, reason: str) -> None:
    async with hub.database().transaction() as session:
        parcel = await _lock(session, parcel_id)
        if parcel is not None and parcel.status == "pending":
            await _failed(session, parcel, reason)


async def _keep_pending(hub: Hub, parcel_id: int, reason: str, *, attempts: int | None = None) -> None:
    values: dict[str, Any] = {"last_error": reason[:2000], "updated_at": utcnow()}
    if attempts is not None:
        values["attempts"] = attempts
    async with hub.database().transaction() as session:
        await session.execute(update(ParcelRow).where(ParcelRow.id == parcel_id, ParcelRow.status == "pending")
                              .values(**values))


async def _release_if_clear(session: AsyncSession, order_id: int, actor: str) -> None:
    """Lift the order's ``waybill_failed`` hold once none of its parcels is failed any more."""
    still_failed = await session.scalar(select(ParcelRow.id).where(
        ParcelRow.order_id == order_id, ParcelRow.status == "failed").limit(1))
    held = await session.scalar(select(OrderHoldRow.id).where(
        OrderHoldRow.order_id == order_id, OrderHoldRow.code == FAILED_HOLD, OrderHoldRow.released_at.is_(None)))
    if still_failed is None and held is not None:
        await orders.release_hold(session, order_id, FAILED_HOLD, actor=actor, cause="waybill")


async def _store(hub: Hub, attempt: _Attempt, waybill: Waybill, actor: str) -> IssueOutcome:
    """Keep the waybill on the parcel, once: only a pending parcel takes it, and a number already on
    another parcel is refused by the unique (courier_code, waybill_number)."""
    number = waybill.waybill_number
    async with hub.database().transaction() as session:
        parcel = await _lock(session, attempt.parcel_id)
        if parcel is None:
            return IssueOutcome(attempt.parcel_id, "missing")
        if parcel.status != "pending":
            # Issued meanwhile by another worker (the provider answered it the same number), or
            # cancelled while this call was out: nothing changes here.
            return IssueOutcome(parcel.id, parcel.status, parcel.waybill_number)
        try:
            async with session.begin_nested():
                await session.execute(update(ParcelRow).where(ParcelRow.id == parcel.id).values(
                    waybill_number=number, print_data=waybill.model_dump(mode="json"), status="issued",
                    last_error=None, updated_at=utcnow()))
        except IntegrityError:
            reason = (f"the provider answered waybill {number}, which another parcel already has; a provider must "
                      "answer a new number for a new key")
            await _failed(session, parcel, reason)
            return IssueOutcome(parcel.id, "failed", error=reason)
        session.add(_event(parcel.order_id, "waybill_issued", actor, {
            "parcel_id": parcel.id, "courier_code": parcel.courier_code, "waybill_number": number,
            "courier_account": attempt.account, "reused": waybill.reused}))
        await _release_if_clear(session, parcel.order_id, actor)
    log.info("waybill.issued", parcel_id=attempt.parcel_id, order_id=attempt.order_id, account=attempt.account,
             reused=waybill.reused, attempts=attempt.attempts)
    return IssueOutcome(attempt.parcel_id, "issued", number)


async def _late_answer(hub: Hub, attempt: _Attempt, waybill: Waybill, outcome: IssueOutcome) -> None:
    """A parcel cancelled while its waybill was being issued: give the unused number back."""
    if outcome.status != "cancelled":
        return
    try:
        await hub.accounts().courier(attempt.account).cancel_waybill(waybill.courier_code, waybill.waybill_number)
    except Exception as exc:  # the number stays unused at the provider; nothing ships with it
        log.warning("waybill.late_cancel_failed", parcel_id=attempt.parcel_id, reason=describe_error(exc))


# --------------------------------------------------------------------------- issuing


async def issue_parcel(hub: Hub, parcel_id: int, *, actor: str = ISSUE_ACTOR) -> IssueOutcome:
    """Obtain the waybill of one pending parcel. Raises what the queue should retry (a transient
    fault, an open breaker); a final refusal is recorded (``failed`` + hold), not raised.
    ``actor``: who the issue is attributed to in the order's history."""
    attempt = await _begin(hub, parcel_id)
    if attempt is None:
        async with hub.database().session() as session:
            row = (await session.execute(select(ParcelRow).where(ParcelRow.id == parcel_id))).scalar_one_or_none()
        return IssueOutcome(parcel_id, row.status if row else "missing", row.waybill_number if row else None,
                            None if row is None or row.status != "failed" else row.last_error)
    try:
        connector = hub.accounts().courier(attempt.account)
        if not declared(type(connector), Capability.CREATE_WAYBILL):
            raise PermanentError(f"courier account {attempt.account!r} ({type(connector).platform}) cannot issue "
                                 "waybills")
        guard = breaker(hub, attempt.account)
        await guard.check()
        try:
            waybill = await connector.create_waybill(attempt.request)
        except RetryableError as exc:
            await guard.record_failure(f"create waybill: {exc}")
            raise
        await guard.record_success()
        if waybill.key != attempt.request.key:
            raise PermanentError(f"the provider answered key {waybill.key!r} for key {attempt.request.key!r}")
    except ShopPausedError as exc:  # the breaker is open: nothing was asked, the attempt does not count
        await _keep_pending(hub, parcel_id, f"waiting for the courier's circuit breaker: {describe_error(exc)}",
                            attempts=attempt.attempts - 1)
        raise
    except (PermanentError, BadInputError, NotFoundError, ConfigError) as exc:
        # A final refusal (AuthorizationError included: a person must fix the account).
        await _fail(hub, parcel_id, describe_error(exc))
        return IssueOutcome(parcel_id, "failed", error=describe_error(exc))
    except Exception as exc:  # transient, or a timeout whose outcome is unknown: ask again, same key
        reason = f"attempt {attempt.attempts}: {describe_error(exc)}"
        if attempt.attempts >= hub.config.fulfilment.waybills.max_attempts:
            await _fail(hub, parcel_id, f"gave up after {attempt.attempts} attempts; last: {describe_error(exc)}")
            return IssueOutcome(parcel_id, "failed", error=reason)
        await _keep_pending(hub, parcel_id, reason)
        log.warning("waybill.retry", parcel_id=parcel_id, account=attempt.account, reason=reason)
        raise
    outcome = await _store(hub, attempt, waybill, actor)
    await _late_answer(hub, attempt, waybill, outcome)
    return outcome


async def issue_waybills(hub: Hub, parcel_ids: list[int]) -> None:
    """Obtain a waybill for every pending parcel of ``parcel_ids`` (the ``issue_waybills`` actor).

    Each parcel on its own: one that must be retried does not stop the others; the first such
    fault is raised at the end, so the queue retries the message (parcels issued by then are
    skipped the next time)."""
    first: BaseException | None = None
    for parcel_id in sorted(set(parcel_ids)):
        try:
            await issue_parcel(hub, parcel_id)
        except Exception as exc:
            first = first or exc
    if first is not None:
        raise first


async def issue_now(hub: Hub, parcel_id: int, *, actor: str) -> IssueOutcome:
    """A person asks for the waybill now (``POST /api/v1/parcels/{id}/waybill``): a failed parcel
    is given a fresh budget first; a transient fault is left to the queue (an ``issue_waybills``
    message is written), and the outcome says so."""
    async with hub.database().transaction() as session:
        parcel = await _lock(session, parcel_id)
        if parcel is None:
            raise NotFoundError(f"parcel {parcel_id} does not exist")
        if parcel.status not in UNISSUED:
            if parcel.waybill_number and parcel.status not in ("cancelling", "cancelled"):
                return IssueOutcome(parcel.id, parcel.status, parcel.waybill_number)
            raise WaybillRefused(f"parcel {parcel_id} is {parcel.status}; only a pending or failed parcel is issued")
        if not issues_waybills(hub, parcel.courier_account):
            raise WaybillRefused(f"parcel {parcel_id}: courier account {parcel.courier_account!r} issues no waybills: "
                                 f"{WAITING_REASON} (waybill_number)")
        if parcel.status == "failed":
            await session.execute(update(ParcelRow).where(ParcelRow.id == parcel_id).values(
                status="pending", attempts=0, updated_at=utcnow()))
            session.add(_event(parcel.order_id, "waybill_retried", actor, {"parcel_id": parcel_id,
                                                                          "previous_error": parcel.last_error}))
    try:
        return await issue_parcel(hub, parcel_id, actor=actor)
    except Exception as exc:
        async with hub.database().transaction() as session:
            outbox.add(session, ISSUE_ACTOR, [parcel_id])
        return IssueOutcome(parcel_id, "pending", error=describe_error(exc))


# --------------------------------------------------------------------------- entered by a person


def entered_by_hand(parcel: ParcelRow) -> bool:
    """Whether the parcel's waybill was typed in by a person (a label bought elsewhere)."""
    return (parcel.print_data or {}).get("provider") == ENTERED


def normal_number(value: str) -> str:
    """A typed-in waybill number, stripped; ``ValueError`` naming what is wrong."""
    number = (value or "").strip()
    if not number:
        raise ValueError("the waybill number must not be blank")
    if len(number) > MAX_NUMBER:
        raise ValueError(f"the waybill number is longer than {MAX_NUMBER} characters")
    if not set(number) <= _NUMBER_CHARS:
        raise ValueError("the waybill number may hold only letters A-Z, digits and - _ . / (it is printed as a "
                         "Code128 barcode)")
    return number


def normal_courier(value: str) -> str:
    """A typed-in courier code in its canonical form; ``ValueError`` naming what is wrong."""
    if not (value or "").strip():
        raise ValueError("the courier code must not be blank (leave it out to keep the parcel's)")
    code = canonical_courier_code(value)
    if len(code) > 50:
        raise ValueError("the courier code is longer than 50 characters")
    return code


def _checked_number(waybill_number: str, courier_code: str | None) -> tuple[str, str | None]:
    try:
        number = normal_number(waybill_number)
    except ValueError as exc:
        raise BadInputError(str(exc), field="waybill_number") from exc
    try:
        return number, normal_courier(courier_code) if courier_code is not None else None
    except ValueError as exc:
        raise BadInputError(str(exc), field="courier_code") from exc


async def enter_waybill(hub: Hub, parcel_id: int, waybill_number: str, courier_code: str | None = None, *,
                        actor: str) -> IssueOutcome:
    """A person enters the tracking number of a label bought elsewhere for a parcel waiting for one
    (its account issues no waybills, or its provider failed it); ``courier_code`` names the carrier
    when it is not the parcel's. The parcel becomes ``issued`` and prints like any other; a
    ``waybill_failed`` hold is lifted once no parcel of the order is failed.

    Entering the same number again answers the parcel as it is. ``BadInputError`` for a blank, too
    long or unprintable number; ``NotFoundError``; ``WaybillRefused`` when the parcel has another
    number, is cancelled, its provider is issuing one now, or another parcel has this number."""
    number, code = _checked_number(waybill_number, courier_code)
    async with hub.database().transaction() as session:
        parcel = await _lock(session, parcel_id)
        if parcel is None:
            raise NotFoundError(f"parcel {parcel_id} does not exist")
        code = code or parcel.courier_code
        if parcel.status in ("cancelling", "cancelled"):
            raise WaybillRefused(f"parcel {parcel_id} is {parcel.status}")
        if parcel.waybill_number:
            if (parcel.waybill_number, parcel.courier_code) == (number, code):
                return IssueOutcome(parcel.id, parcel.status, parcel.waybill_number)  # the same, again
            raise WaybillRefused(f"parcel {parcel_id} ({parcel.status}) already has waybill {parcel.courier_code} "
                                 f"{parcel.waybill_number}")
        if not waits_for_entry(hub, parcel):
            raise WaybillRefused(f"parcel {parcel_id} is {parcel.status}: courier account {parcel.courier_account!r} "
                                 "is issuing its waybill; wait for it (or for its failure), or cancel the parcel")
        waybill = Waybill(key=parcel.key, provider=ENTERED, courier_code=code, waybill_number=number,
                          print_data={"entered_by": actor})
        try:
            async with session.begin_nested():
                await session.execute(update(ParcelRow).where(ParcelRow.id == parcel.id).values(
                    waybill_number=number, courier_code=waybill.courier_code,
                    print_data=waybill.model_dump(mode="json"), status="issued", last_error=None,
                    updated_at=utcnow()))
        except IntegrityError:
            other = await session.scalar(select(ParcelRow.id).where(
                ParcelRow.courier_code == waybill.courier_code, ParcelRow.waybill_number == number))
            raise WaybillRefused(f"waybill {waybill.courier_code} {number} is parcel {other}'s already") from None
        session.add(_event(parcel.order_id, "waybill_entered", actor, {
            "parcel_id": parcel.id, "courier_code": waybill.courier_code, "waybill_number": number,
            "previous_status": parcel.status}))
        await _release_if_clear(session, parcel.order_id, actor)
    log.info("waybill.entered", parcel_id=parcel_id, courier_code=waybill.courier_code, actor=actor)
    return IssueOutcome(parcel_id, "issued", number)


# --------------------------------------------------------------------------- cancelling


async def _claim_cancel(hub: Hub, parcel_id: int, actor: str | None) -> tuple[ParcelRow | None, bool]:
    """(the parcel, whether a provider call is needed); a parcel without a waybill is cancelled here."""
    async with hub.database().transaction() as session:
        parcel = await _lock(session, parcel_id)
        if parcel is None:
            return None, False
        if parcel.status in UNISSUED:
            await session.execute(update(ParcelRow).where(ParcelRow.id == parcel_id).values(
                status="cancelled", updated_at=utcnow()))
            session.add(_event(parcel.order_id, "parcel_cancelled", actor, {"parcel_id": parcel_id,
                                                                           "waybill_number": None}))
            parcel.status = "cancelled"
            return parcel, False
        if parcel.status not in CANCELLABLE or not parcel.waybill_number:
            return parcel, False  # cancelled before (reported as cancelled), or shipped: left alone
        if entered_by_hand(parcel):  # bought elsewhere: void it where it was bought; nobody to ask here
            await session.execute(update(ParcelRow).where(ParcelRow.id == parcel_id).values(
                status="cancelled", updated_at=utcnow()))
            session.add(_event(parcel.order_id, "waybill_cancelled", actor, {
                "parcel_id": parcel_id, "waybill_number": parcel.waybill_number, "entered_by_hand": True}))
            parcel.status = "cancelled"
            return parcel, False
        await session.execute(update(ParcelRow).where(ParcelRow.id == parcel_id).values(
            status="cancelling", updated_at=utcnow()))
        return parcel, True


async def _settle_cancel(hub: Hub, parcel: ParcelRow, cancelled: bool, actor: str | None, error: str | None) -> None:
    back = "printed" if parcel.printed_at is not None else "issued"
    async with hub.database().transaction() as session:
        if cancelled:
            await session.execute(update(ParcelRow).where(ParcelRow.id == parcel.id).values(
                status="cancelled", last_error=None, updated_at=utcnow()))
            session.add(_event(parcel.order_id, "waybill_cancelled", actor, {
                "parcel_id": parcel.id, "waybill_number": parcel.waybill_number}))
        else:
            await session.execute(update(ParcelRow).where(
                ParcelRow.id == parcel.id, ParcelRow.status == "cancelling").values(
                status=back, last_error=error, updated_at=utcnow()))
            session.add(_event(parcel.order_id, "waybill_cancel_refused", actor, {
                "parcel_id": parcel.id, "waybill_number": parcel.waybill_number, "reason": error}))


async def cancel_waybills(hub: Hub, parcel_ids: list[int], *, actor: str | None) -> list[int]:
    """Cancel the waybills of ``parcel_ids`` that were issued and have not shipped; returns the ids
    now cancelled, including those cancelled before (asking again is safe). A parcel with no
    waybill yet is cancelled without asking anyone.

    A provider that says no (collected already), or cannot be asked now, leaves the parcel as it
    was with the reason in ``last_error``; it is not in the result. Shipped parcels are never
    cancelled here."""
    done: list[int] = []
    for parcel_id in sorted(set(parcel_ids)):
        parcel, call = await _claim_cancel(hub, parcel_id, actor)
        if parcel is None:
            continue
        if not call:
            if parcel.status == "cancelled":
                done.append(parcel_id)
            continue
        assert parcel.waybill_number is not None and parcel.courier_account is not None
        try:
            connector = hub.accounts().courier(parcel.courier_account)
            ok = bool(await connector.cancel_waybill(parcel.courier_code, parcel.waybill_number))
            error = None if ok else "the provider refused to cancel it (collected already?)"
        except Exception as exc:
            ok, error = False, f"could not cancel: {describe_error(exc)}"
        await _settle_cancel(hub, parcel, ok, actor, error)
        log.info("waybill.cancel", parcel_id=parcel_id, cancelled=ok, reason=error)
        if ok:
            done.append(parcel_id)
    return done
