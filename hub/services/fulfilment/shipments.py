"""The shipment flow: record what a warehouse shipped, take its stock out, and tell the channel.

``record_shipment`` (one transaction, called by the API) checks a shipment against the order and
what already shipped, stores it once per set of tracking numbers, moves the order's fulfilment
status with a history entry, and writes the follow-ups to the outbox: ``shipment_changed`` (stock
consumed once the whole order shipped, then the plugins' hook) and ``confirm_shipment``. A
shipment recorded by hand (not through a delivery order) of an order that still has open delivery
orders also owes ``hand_shipped`` (``hand_shipments.close_delivery``: they are closed once the order
has fully shipped), or, when it shipped part, an order event saying so.
``confirm_to_channel`` (the ``confirm_shipment`` actor) makes the non-idempotent partner call
behind an idempotency key (docs/architecture.md §5). Not for HTTP (``hub.api.routes.shipments``), waybills or
tracking (couriers), nor for the order's channel status (``hub.services.orders``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.connectors import Capability, declared
from contracts.orders import Order, OrderStatus
from contracts.shipments import Parcel, ParcelItem, Shipment, ShipmentConfirmation
from hub.context import Hub
from hub.db import idempotency, outbox
from hub.db import shops as shop_rows
from hub.db.tables import (
    DeliveryLineRow,
    DeliveryOrderRow,
    OrderEventRow,
    OrderHoldRow,
    OrderLineRow,
    OrderRow,
    ShipmentRow,
    utcnow,
)
from hub.db.upsert import insert_ignore
from hub.errors import (
    AuthorizationError,
    BadInputError,
    HubError,
    LockBusyError,
    NotFoundError,
    PermanentError,
    ShopPausedError,
    ThrottledError,
    describe_error,
)
from hub.services import orders
from hub.services.fulfilment import tracking
from hub.services.shop_health import partner_call
from hub.services.stock import effects as stock_effects
from hub.services.stock.levels import known_warehouses

log = structlog.get_logger(__name__)

CHANGED_ACTOR = "shipment_changed"
CONFIRM_ACTOR = "confirm_shipment"
#: Closes the open delivery orders of an order a person shipped by hand (``hand_shipments``).
HAND_SHIPPED_ACTOR = "hand_shipped"
#: The order event of a shipment by hand that left part of the order to its delivery orders.
HAND_PARTLY_EVENT = "shipped_by_hand_partly"
#: Delivery order statuses that still expect to ship goods (``delivery_orders.STATUSES``).
OPEN_DELIVERY = ("pending", "sent", "picking", "packed", "cancelling")
#: Retries of the channel confirmation; the actor gives up (status "failed") after this many.
CONFIRM_MAX_RETRIES = 6
#: The confirmation's retry backoff bounds (the actor's; the sweeper derives its patience from them).
CONFIRM_MIN_BACKOFF_MS = 2_000
CONFIRM_MAX_BACKOFF_MS = 300_000
#: The confirmation actor's own time limit: a backstop above the longest ``confirm_timeout_s``
#: allowed, which bounds the partner calls themselves.
CONFIRM_TIME_LIMIT_MS = 660_000
# A claim younger than ``[fulfilment] confirm_in_flight`` (the attempt's time limit,
# ``confirm_timeout_s``, plus a quarter) is a confirmation still in flight on another worker; an
# older one was left by a crash and may be taken over, because every connector reads the
# partner's order before sending again (a send that landed is not repeated): ``_claim``.

PENDING, CONFIRMED, NOT_SUPPORTED, FAILED = "pending", "confirmed", "not_supported", "failed"
#: What the channel's order (or the shipment's lines) must show to count as shipped by the platform.
SHOWN_SHIPPED = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.COMPLETED})
SETTLED = frozenset({CONFIRMED, NOT_SUPPORTED})
UNSHIPPABLE = {
    OrderStatus.PENDING_PAYMENT: "it is not paid yet",
    OrderStatus.CANCELLED: "it is cancelled",
    OrderStatus.CLOSED: "it is closed",
}


class ShipmentRefused(HubError):
    """The order cannot take this shipment now (on hold, cancelled, already shipped): HTTP 409."""


@dataclass(frozen=True)
class Recorded:
    shipment: ShipmentRow
    created: bool  # False: the same tracking numbers were recorded before; this is that shipment


def tracking_key(parcels: list[Parcel]) -> str:
    return ",".join(sorted(p.tracking_number for p in parcels))


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def _lock(session: AsyncSession, model: Any, row_id: int) -> Any:
    """The row, locked for update on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises)."""
    stmt = select(model).where(model.id == row_id).execution_options(populate_existing=True)
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


def _event(order_id: int, kind: str, actor: str | None, detail: dict[str, Any]) -> OrderEventRow:
    return OrderEventRow(order_id=order_id, at=utcnow(), kind=kind, old_status=None, new_status=None,
                         cause="shipment", actor=actor, detail=detail)


# --------------------------------------------------------------------------- recording


def shipped_quantities(shipments: list[ShipmentRow]) -> Counter[str]:
    """Units shipped so far per order line, over the given shipments."""
    done: Counter[str] = Counter()
    for row in shipments:
        for parcel in Shipment.model_validate(row.data).parcels:
            for item in parcel.items:
                done[item.line_external_id] += item.quantity
    return done


async def _refuse_unless_shippable(session: AsyncSession, order: OrderRow) -> None:
    status = OrderStatus(order.status)
    if status in UNSHIPPABLE:
        raise ShipmentRefused(f"order {order.id} cannot be shipped: {UNSHIPPABLE[status]} "
                              f"(channel status {order.raw_status})")
    if order.on_hold:
        holds = (await session.execute(select(OrderHoldRow).where(
            OrderHoldRow.order_id == order.id, OrderHoldRow.released_at.is_(None)).order_by(OrderHoldRow.id))).scalars()
        reasons = "; ".join(f"{h.code}: {h.reason}" for h in holds) or "on hold"
        raise ShipmentRefused(f"order {order.id} is on hold ({reasons}); release the hold before shipping")


def _fill_items(parcels: list[Parcel], remaining: dict[str, int]) -> list[Parcel]:
    """One parcel without items ships everything not yet shipped; several must each list theirs."""
    empty = [i for i, p in enumerate(parcels) if not p.items]
    if not empty:
        return parcels
    if len(parcels) > 1:
        raise BadInputError(f"parcel {empty[0]} lists no items; when a shipment has several parcels, list the "
                            "order lines in each", field=f"body.parcels.{empty[0]}.items")
    items = [ParcelItem(line_external_id=line, quantity=qty) for line, qty in remaining.items() if qty > 0]
    if not items:
        raise ShipmentRefused("every line of the order has already shipped")
    return [parcels[0].model_copy(update={"items": items})]


def _check_items(parcels: list[Parcel], remaining: dict[str, int]) -> dict[str, int]:
    """What remains unshipped per line after these parcels; names the first bad item."""
    left = dict(remaining)
    seen: set[str] = set()
    for i, parcel in enumerate(parcels):
        if parcel.tracking_number in seen:
            raise BadInputError(f"tracking number {parcel.tracking_number!r} appears in two parcels",
                                field=f"body.parcels.{i}.tracking_number")
        seen.add(parcel.tracking_number)
        for j, item in enumerate(parcel.items):
            where = f"body.parcels.{i}.items.{j}"
            if item.line_external_id not in left:
                raise BadInputError(f"order line {item.line_external_id!r} is not in this order; lines: "
                                    f"{', '.join(sorted(remaining))}", field=f"{where}.line_external_id")
            if item.quantity > left[item.line_external_id]:
                raise BadInputError(
                    f"line {item.line_external_id}: {item.quantity} more to ship, but only "
                    f"{left[item.line_external_id]} remain unshipped", field=f"{where}.quantity")
            left[item.line_external_id] -= item.quantity
    return left


async def record_shipment(
    hub: Hub,
    order_id: int,
    parcels: list[Parcel],
    *,
    warehouse: str | None = None,
    partial: bool | None = None,
    shipped_at: datetime | None = None,
    actor: str,
    delivery_order_id: int | None = None,
) -> Recorded:
    """Record a shipment of ``order_id`` (once per set of tracking numbers) and queue its follow-ups.

    ``delivery_order_id``: the delivery order this shipment ships (the own warehouse's ship, a WMS
    confirmation), which its caller closes. None: a person recorded it by hand (API, CLI); the
    order's open delivery orders are then closed by ``hand_shipped`` once it has fully shipped.

    Raises ``NotFoundError`` (no such order), ``BadInputError`` naming the field (unknown line,
    more than remains unshipped, unknown warehouse), ``ShipmentRefused`` (on hold, unpaid,
    cancelled or closed, a tracking number already used by another shipment of the order).
    """
    if warehouse is not None and warehouse not in known_warehouses(hub.config):
        raise BadInputError(f"warehouse {warehouse!r} is not configured; known: "
                            f"{', '.join(sorted(known_warehouses(hub.config)))}", field="body.warehouse")
    key = tracking_key(parcels)
    async with hub.database().transaction() as session:
        order = await _lock(session, OrderRow, order_id)
        if order is None:
            raise NotFoundError(f"order {order_id} does not exist")
        existing = list((await session.execute(select(ShipmentRow).where(ShipmentRow.order_id == order_id)
                                               .order_by(ShipmentRow.id))).scalars())
        for row in existing:
            if row.tracking_key == key:
                return Recorded(row, created=False)  # the same shipment posted again
        used = {p.tracking_number: row.id for row in existing for p in Shipment.model_validate(row.data).parcels}
        for parcel in parcels:
            if parcel.tracking_number in used:
                raise ShipmentRefused(f"tracking number {parcel.tracking_number!r} is already in shipment "
                                      f"{used[parcel.tracking_number]} of order {order_id}")
        await _refuse_unless_shippable(session, order)

        lines = (await session.execute(select(OrderLineRow).where(OrderLineRow.order_id == order_id))).scalars()
        done = shipped_quantities(existing)
        remaining = {line.external_id: line.quantity - done[line.external_id] for line in lines}
        parcels = _fill_items(parcels, remaining)
        left = _check_items(parcels, remaining)
        lines_left = sorted(line for line, qty in left.items() if qty > 0)
        if partial is False and lines_left:
            raise BadInputError(f"partial is false but line(s) {', '.join(lines_left)} still have units to ship; "
                                "list them, or send partial: true", field="body.partial")

        shipment = Shipment(order_id=order_id, warehouse=warehouse, parcels=parcels, partial=bool(lines_left),
                            shipped_at=shipped_at or datetime.now(UTC))
        inserted = await session.execute(
            insert_ignore(ShipmentRow, _dialect(session)).values(
                order_id=order_id, warehouse=warehouse, status=PENDING, data=shipment.model_dump(mode="json"),
                tracking_key=key, created_by=actor, attempts=0, created_at=utcnow(), updated_at=utcnow(),
            ).returning(ShipmentRow.id))
        shipment_id = inserted.scalar_one_or_none()
        if shipment_id is None:  # recorded meanwhile by a concurrent request (the order lock makes this rare)
            row = (await session.execute(select(ShipmentRow).where(
                ShipmentRow.order_id == order_id, ShipmentRow.tracking_key == key))).scalar_one()
            return Recorded(row, created=False)
        fulfilment = "partially_shipped" if lines_left else "shipped"
        session.add(_event(order_id, "shipment_recorded", actor, {
            "shipment_id": shipment_id, "tracking_numbers": [p.tracking_number for p in parcels],
            "warehouse": warehouse, "partial": bool(lines_left)}))
        await orders.set_fulfilment_status(session, order_id, fulfilment, cause="shipment", actor=actor)
        if delivery_order_id is None:
            await _by_hand(session, order_id, shipment_id, actor, lines_left)
        outbox.add(session, CHANGED_ACTOR, order_id, shipment_id, PENDING, "recorded")
        outbox.add(session, CONFIRM_ACTOR, shipment_id)
        row = (await session.execute(select(ShipmentRow).where(ShipmentRow.id == shipment_id))).scalar_one()
    log.info("shipment.recorded", order_id=order_id, shipment_id=shipment_id, parcels=len(parcels),
             fulfilment=fulfilment)
    return Recorded(row, created=True)


async def _by_hand(session: AsyncSession, order_id: int, shipment_id: int, actor: str, lines_left: list[str]) -> None:
    """A shipment recorded by hand of an order in open delivery orders: fully shipped → owe
    ``hand_shipped`` (closes them after the commit); partly → an order event for the people who
    work those delivery orders (they are left as they are: they still ship the rest)."""
    mine = select(DeliveryLineRow.delivery_order_id).where(DeliveryLineRow.order_id == order_id)
    open_ids = sorted(set((await session.execute(select(DeliveryOrderRow.id).where(
        DeliveryOrderRow.id.in_(mine), DeliveryOrderRow.status.in_(OPEN_DELIVERY)))).scalars()))
    if not open_ids:
        return
    if lines_left:
        session.add(_event(order_id, HAND_PARTLY_EVENT, actor, {
            "shipment_id": shipment_id, "delivery_orders": open_ids, "lines_left": lines_left,
            "note": "a person shipped part of the order by hand; its delivery orders are left as they are"}))
        return
    outbox.add(session, HAND_SHIPPED_ACTOR, order_id, shipment_id)


async def get_shipment(hub: Hub, shipment_id: int) -> ShipmentRow | None:
    async with hub.database().session() as session:
        return (await session.execute(select(ShipmentRow).where(ShipmentRow.id == shipment_id))).scalar_one_or_none()


# --------------------------------------------------------------------------- after a change


async def after_shipment_change(hub: Hub, order_id: int, shipment_id: int, status: str, event: str) -> None:
    """After a shipment change committed: take the stock out once the whole order shipped, give
    its parcels rows to be tracked, then tell the plugins (``shipment_changed``). At least once;
    every step tolerates repeats.

    Stock leaves the warehouse only when the *whole* order has shipped: the inventory layer
    consumes an order's reservations all at once (``stock_effects.consume_order``), and a
    reservation covers a whole line (or bundle component), so it cannot consume part of a line.
    Until the last parcel ships, a partly shipped order keeps all its units reserved: available
    stays right, on hand is high by the units already gone until the order completes.
    """
    if event == "recorded":
        async with hub.database().session() as session:
            fulfilment = await session.scalar(select(OrderRow.fulfilment_status).where(OrderRow.id == order_id))
        if fulfilment == "shipped":
            await stock_effects.consume_order(hub, order_id)
        # Its parcels, and their subscription at the tracking courier (``tracking``).
        await tracking.parcels_shipped(hub, order_id, shipment_id)
    try:
        hub.plugins.hook.shipment_changed(order_id=order_id, shipment_id=shipment_id, status=status)
    except Exception:  # a notification plugin must not undo or block the change
        log.exception("plugin.notification_failed", hook="shipment_changed", shipment_id=shipment_id)


# --------------------------------------------------------------------------- telling the channel


@dataclass(frozen=True)
class _Attempt:
    order_id: int
    shop: str
    order: Order
    shipment: Shipment
    attempts: int
    #: The previous attempt ended without knowing whether the channel took the call (a timeout,
    #: a lost answer, a worker that died mid-call): read the channel's order before sending again.
    outcome_unknown: bool = False
    #: The event loop's clock by which this attempt's partner calls must have ended
    #: (``[fulfilment] confirm_timeout_s`` after the claim), so it never outlives its claim.
    deadline: float = 0.0


def _key(shipment_id: int) -> str:
    return f"confirm_shipment:{shipment_id}"


async def _settle(session: AsyncSession, row: ShipmentRow, status: str, *, error: str | None, event: str,
                  detail: dict[str, Any], confirmed_at: datetime | None = None) -> None:
    values: dict[str, Any] = {"status": status, "last_error": error, "updated_at": utcnow()}
    if confirmed_at is not None:
        values["confirmed_to_channel_at"] = confirmed_at
    await session.execute(update(ShipmentRow).where(ShipmentRow.id == row.id).values(**values))
    session.add(_event(row.order_id, event, "hub", {"shipment_id": row.id, **detail}))
    outbox.add(session, CHANGED_ACTOR, row.order_id, row.id, status, status)


async def _begin(hub: Hub, shipment_id: int) -> _Attempt | None:
    """Claim the confirmation (or see it settled, or in flight elsewhere); None when nothing is left to do."""
    async with hub.database().transaction() as session:
        row = await _lock(session, ShipmentRow, shipment_id)
        if row is None:
            log.warning("shipment.missing", shipment_id=shipment_id)
            return None
        if row.status in SETTLED:
            return None
        order_row = (await session.execute(select(OrderRow).where(OrderRow.id == row.order_id))).scalar_one()
        platform, shop = order_row.platform, order_row.shop
        cls = hub.plugins.channel_class(platform)
        if cls is None or not declared(cls, Capability.CONFIRM_SHIPMENT):
            await _settle(session, row, NOT_SUPPORTED, event="shipment_confirm_not_supported", detail={},
                          error=f"the {platform} connector cannot confirm shipments; mark the order shipped in "
                                f"the shop's seller backend")
            log.warning("shipment.not_supported", shipment_id=shipment_id, platform=platform, shop=shop)
            return None
        if shop not in hub.config.shops:
            unconfigured = f"shop {shop!r} is not configured; add it, then replay the dead letter"
            await _settle(session, row, FAILED, event="shipment_confirm_failed", detail={}, error=unconfigured)
        else:
            return await _claim(session, row, order_row, hub.config.fulfilment.confirm_in_flight)
    raise PermanentError(f"shipment {shipment_id}: {unconfigured}")


async def _claim(session: AsyncSession, row: ShipmentRow, order_row: OrderRow, in_flight: timedelta) -> _Attempt:
    """Claim the idempotency key for this attempt (waiting out one in flight elsewhere, claimed
    less than ``in_flight`` ago)."""
    shop = order_row.shop
    status = await shop_rows.shop_status(session, shop)
    if status is not None and status.paused:
        until = status.paused_until.timestamp() if status.paused_until else None
        raise ShopPausedError(shop, status.paused_reason or "paused", until=until)
    key = _key(row.id)
    outcome_unknown = False
    if not await idempotency.claim(session, key):
        previous = await idempotency.recall(session, key) or {}
        since = previous.get("since")
        if previous.get("state") == "calling" and since and (
                datetime.now(UTC) - datetime.fromisoformat(since) < in_flight):
            raise LockBusyError(f"shipment {row.id}: a confirmation is in flight on another worker")
        # A claim left "calling" by a crash, or a retry after a fault that may have landed.
        outcome_unknown = previous.get("state") == "calling" or bool(previous.get("outcome_unknown"))
    await idempotency.remember(session, key, {"state": "calling", "since": datetime.now(UTC).isoformat()})
    # A replay after "failed" starts a fresh budget: the operator fixed the cause.
    attempts = 1 if row.status == FAILED else row.attempts + 1
    await session.execute(update(ShipmentRow).where(ShipmentRow.id == row.id)
                          .values(attempts=attempts, status=PENDING, updated_at=utcnow()))
    return _Attempt(row.order_id, shop, orders.stored_order(order_row), Shipment.model_validate(row.data), attempts,
                    outcome_unknown)


async def _finish(hub: Hub, shipment_id: int, outcome: ShipmentConfirmation) -> None:
    async with hub.database().transaction() as session:
        row = await _lock(session, ShipmentRow, shipment_id)
        now = utcnow()
        await idempotency.remember(session, _key(shipment_id), {
            "state": "done", "at": now.isoformat(), "already_confirmed": outcome.already_confirmed})
        await _settle(session, row, CONFIRMED, error=None, event="shipment_confirmed", confirmed_at=now,
                      detail={"already_confirmed": outcome.already_confirmed, "message": outcome.message})


async def _fail(hub: Hub, shipment_id: int, reason: str) -> None:
    async with hub.database().transaction() as session:
        row = await _lock(session, ShipmentRow, shipment_id)
        # A definite failure: give the claim up, so a replay (once the cause is fixed) tries again.
        await idempotency.release(session, _key(shipment_id))
        await _settle(session, row, FAILED, error=reason, event="shipment_confirm_failed", detail={"reason": reason})


async def _keep_pending(hub: Hub, shipment_id: int, reason: str, *, outcome_unknown: bool = False,
                        attempts: int | None = None) -> None:
    """Leave the shipment pending with ``reason``; ``attempts`` (when given) is written back, to
    give back an attempt that did not count."""
    async with hub.database().transaction() as session:
        # Not "calling" any more: the next attempt need not wait for this one.
        await idempotency.remember(session, _key(shipment_id), {
            "state": "retry", "error": reason, "outcome_unknown": outcome_unknown})
        values: dict[str, Any] = {"last_error": reason, "updated_at": utcnow()}
        if attempts is not None:
            values["attempts"] = attempts
        await session.execute(update(ShipmentRow).where(ShipmentRow.id == shipment_id).values(**values))


def _shows_shipped(order: Order, shipment: Shipment) -> bool:
    """The channel's order is shipped, or every line of this shipment is."""
    if order.status in SHOWN_SHIPPED:
        return True
    wanted = {item.line_external_id for parcel in shipment.parcels for item in parcel.items}
    lines = {line.external_id: line.status for line in order.lines}
    return bool(wanted) and all(lines.get(line) in SHOWN_SHIPPED for line in wanted)


async def _channel_shows_shipped(hub: Hub, attempt: _Attempt, connector: Any, shipment_id: int,
                                 deadline: float | None = None) -> bool:
    """Read the channel's order (where the connector can) to learn whether it already shipped.

    Asked before giving a confirmation up and before re-sending after an unknown outcome, so a
    shipment the platform did ship is never left ``failed``. The read only ever turns a doubt
    into "confirmed": when it fails or the connector has no ``get_order``, the answer is False
    and the caller goes on as it would have (so too when it is not done by ``deadline``, the
    event loop's clock).
    """
    cls = hub.plugins.channel_class(attempt.order.ref.platform)
    if cls is None or not declared(cls, Capability.GET_ORDER):
        return False
    try:
        async with asyncio.timeout_at(deadline):
            found = await connector.get_order(attempt.order.ref.external_id)
    except Exception as exc:
        log.warning("shipment.channel_read_failed", shipment_id=shipment_id, shop=attempt.shop,
                    reason=describe_error(exc))
        return False
    return _shows_shipped(found, attempt.shipment)


async def _confirmed_by_channel(hub: Hub, attempt: _Attempt, connector: Any, shipment_id: int, why: str,
                                deadline: float | None = None) -> bool:
    """Settle the shipment as confirmed when the channel already shows it shipped."""
    if not await _channel_shows_shipped(hub, attempt, connector, shipment_id, deadline):
        return False
    await _finish(hub, shipment_id, ShipmentConfirmation(
        ok=True, already_confirmed=True, message=f"the channel shows the order shipped ({why})"))
    log.info("shipment.confirmed", shipment_id=shipment_id, order_id=attempt.order_id, shop=attempt.shop,
             already_confirmed=True, seen_on_channel=why)
    return True


async def confirm_to_channel(hub: Hub, shipment_id: int) -> None:
    """Tell the shop's channel that shipment ``shipment_id`` left (the ``confirm_shipment`` actor).

    Settled shipments are left alone; a connector without ``CONFIRM_SHIPMENT`` makes it
    ``not_supported``. A lost authorisation pauses the shop and keeps the shipment pending (the
    message waits for the shop, without spending retries); throttling gives the attempt back and
    the queue waits the partner's time (nothing was sent, so it costs no attempt); a transient
    fault is retried by the queue, and after ``CONFIRM_MAX_RETRIES`` retries — or at once on a
    permanent refusal — the shipment is ``failed`` and the message a dead letter (replay it once
    the cause is fixed). Before failing, and before re-sending after a fault whose outcome is
    unknown, the channel's order is read where the connector can: if it shows the shipment
    shipped, the shipment is ``confirmed``.
    """
    attempt = await _begin(hub, shipment_id)
    if attempt is None:
        return
    attempt = replace(attempt, deadline=asyncio.get_running_loop().time() + hub.config.fulfilment.confirm_timeout_s)
    connector = hub.accounts().channel(attempt.shop)
    if attempt.outcome_unknown and await _confirmed_by_channel(
            hub, attempt, connector, shipment_id, "read before re-sending after an unknown outcome", attempt.deadline):
        return
    try:
        async with partner_call(hub, attempt.shop, "confirm shipment"), asyncio.timeout_at(attempt.deadline):
            outcome = await connector.confirm_shipment(attempt.order, attempt.shipment)
        if not outcome.ok:
            raise PermanentError(f"shop {attempt.shop!r} refused shipment {shipment_id}: "
                                 f"{outcome.message or 'no reason given'}")
    except AuthorizationError as exc:  # partner_call paused the shop with the reason
        await _keep_pending(hub, shipment_id, f"shop paused, waiting for re-authorisation: {describe_error(exc)}",
                            attempts=attempt.attempts - 1)
        raise ShopPausedError(attempt.shop, describe_error(exc)) from exc
    except (PermanentError, BadInputError) as exc:
        if await _confirmed_by_channel(hub, attempt, connector, shipment_id, "read after a refusal"):
            return
        await _fail(hub, shipment_id, describe_error(exc))
        log.error("shipment.confirm_failed", shipment_id=shipment_id, shop=attempt.shop, reason=describe_error(exc))
        raise
    except ShopPausedError:  # the breaker is open: nothing was sent
        await _keep_pending(hub, shipment_id, "waiting for the shop's circuit breaker to close",
                            attempts=attempt.attempts - 1)
        raise
    except ThrottledError as exc:  # refused before doing anything: the attempt does not count
        await _keep_pending(hub, shipment_id, f"throttled, waiting: {describe_error(exc)}",
                            attempts=attempt.attempts - 1)
        raise
    except Exception as exc:  # RetryableError, or an unclassified fault (a timeout): the queue retries;
        # whether the call landed is unknown, so the next attempt reads the channel's order first.
        reason = f"attempt {attempt.attempts}: {describe_error(exc)}"
        if attempt.attempts > CONFIRM_MAX_RETRIES:
            if await _confirmed_by_channel(hub, attempt, connector, shipment_id, "read before giving up"):
                return
            reason = f"gave up after {attempt.attempts} attempts; last: {describe_error(exc)}"
            await _fail(hub, shipment_id, reason)
            raise PermanentError(f"shipment {shipment_id}: {reason}") from exc
        await _keep_pending(hub, shipment_id, reason, outcome_unknown=True)
        raise
    await _finish(hub, shipment_id, outcome)
    log.info("shipment.confirmed", shipment_id=shipment_id, order_id=attempt.order_id, shop=attempt.shop,
             already_confirmed=outcome.already_confirmed)
