"""Parcel tracking: subscribe each shipped parcel at the tracking courier, store the events its
pushes (or a poll) bring, keep each parcel's newest state, move the order to ``delivered`` once
every parcel is, and flag stuck parcels in the fulfilment exceptions queue.

- ``parcels_shipped`` (after a shipment is recorded, in a worker): a ``parcels`` row per tracking
  number (the waybill/WMS steps' row when one exists) and a ``subscribe_parcels`` message.
- ``subscribe_parcels`` (the actor): asks the ``[fulfilment.tracking] courier`` account to push each
  parcel's scans to ``<callback_base_url>/webhooks/tracking/<courier>``; idempotent.
- ``receive_push`` (the webhook) and ``track_now`` (a person's poll) store events de-duplicated on
  (tracking number, state, time), in one transaction per push. The newest event by time sets the
  parcel's state; an older one arriving late changes nothing.
- ``check_parcels`` (the periodic rules): not collected after ``not_collected_hours``, no new scan
  for ``not_moving_hours``, returned; resolved by the hub when the parcel moves again or is
  delivered. Times come from the database's timestamps compared with ``now``, a parameter.

Not for waybills (``waybills``), HTTP (``hub.api.routes.fulfilment_tracking``) or the exceptions
queue itself (``exceptions``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.connectors import Capability, declared
from contracts.orders import OrderStatus, TransitionVerdict, judge_transition
from contracts.shipments import Shipment, TrackingEvent, TrackingState, canonical_courier_code
from hub.context import Hub
from hub.db import outbox
from hub.db.tables import FulfilmentExceptionRow, OrderRow, ParcelRow, ShipmentRow, TrackingEventRow, utcnow
from hub.db.upsert import insert_ignore
from hub.errors import AuthorizationError, BadInputError, ConfigError, NotFoundError, PermanentError, describe_error
from hub.services import orders
from hub.services.fulfilment import exceptions
from hub.services.fulfilment.exceptions import NOT_COLLECTED, RETURNED, STALLED, Raised, parcel_subject
from hub.services.fulfilment.settings import TrackingSettings

log = structlog.get_logger(__name__)

SUBSCRIBE_ACTOR = "subscribe_parcels"
CHECK_ACTOR = "check_parcels"
#: The cause written in the order's history when tracking moves it to delivered.
CAUSE = "tracking"
#: Parcels subscribed per message, and parcels the rules look at per transaction.
BATCH = 200
KINDS = (NOT_COLLECTED, STALLED, RETURNED)
#: Kinds the hub resolves itself once the cause went away (a returned parcel needs a person).
SELF_RESOLVING = frozenset({NOT_COLLECTED, STALLED})
TERMINAL_STATES = frozenset({TrackingState.DELIVERED.value, TrackingState.RETURNED.value})
#: A parcel row a tracking number may be matched to is one of these (cancelled ones are not).
SHIPPABLE = ("pending", "issued", "printed", "shipped")


def settings_of(hub: Hub) -> TrackingSettings:
    return hub.config.fulfilment.tracking


def callback_url(settings: TrackingSettings) -> str | None:
    """Where the tracking courier pushes scans, or None when tracking is not configured."""
    if not settings.courier or not settings.callback_base_url:
        return None
    return f"{settings.callback_base_url.rstrip('/')}/webhooks/tracking/{settings.courier}"


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# --------------------------------------------------------------------------- parcels of a shipment


async def parcels_shipped(hub: Hub, order_id: int, shipment_id: int) -> list[int]:
    """Make sure every tracking number of shipment ``shipment_id`` has a ``parcels`` row (the one
    the waybill or WMS step made for that (courier, waybill), else a new one keyed
    ``S<shipment>-<n>``), mark them shipped, and owe their subscription. Idempotent."""
    async with hub.database().transaction() as session:
        row = (await session.execute(select(ShipmentRow).where(ShipmentRow.id == shipment_id))).scalar_one_or_none()
        if row is None:
            log.warning("tracking.shipment_missing", shipment_id=shipment_id)
            return []
        shipment = Shipment.model_validate(row.data)
        numbers = [(canonical_courier_code(p.courier_code), p.tracking_number) for p in shipment.parcels]
        if not numbers:
            return []
        now = utcnow()
        await session.execute(insert_ignore(ParcelRow, _dialect(session)).values([
            {"key": f"S{shipment_id}-{n}", "order_id": order_id, "seq": n, "courier_code": courier,
             "waybill_number": number, "status": "shipped", "shipment_id": shipment_id, "weight_grams": p.weight_grams,
             "print_data": {}, "attempts": 0, "created_at": now}
            for n, ((courier, number), p) in enumerate(zip(numbers, shipment.parcels, strict=True), start=1)]))
        pair = tuple_(ParcelRow.courier_code, ParcelRow.waybill_number)
        await session.execute(
            update(ParcelRow).where(pair.in_(numbers), ParcelRow.status.in_(SHIPPABLE))
            .where(or_(ParcelRow.status != "shipped", ParcelRow.shipment_id.is_(None)))
            .values(status="shipped", shipment_id=func.coalesce(ParcelRow.shipment_id, shipment_id)))
        found = list((await session.execute(select(ParcelRow.id, ParcelRow.waybill_number, ParcelRow.subscribed_at)
                                            .where(pair.in_(numbers)).order_by(ParcelRow.id))).all())
        for pid, number, _ in found:  # scans that arrived before the shipment was recorded: their parcel
            await session.execute(update(TrackingEventRow).where(
                TrackingEventRow.tracking_number == number, TrackingEventRow.parcel_id.is_(None))
                .values(parcel_id=pid, shipment_id=shipment_id))
        owed = [pid for pid, _, subscribed in found if subscribed is None]
        if owed and callback_url(settings_of(hub)) is not None:
            outbox.add(session, SUBSCRIBE_ACTOR, owed)
    log.info("tracking.parcels_shipped", order_id=order_id, shipment_id=shipment_id, parcels=len(found),
             to_subscribe=len(owed))
    return [pid for pid, _, _ in found]


# --------------------------------------------------------------------------- subscribing


def tracking_connector(hub: Hub, courier: str | None = None) -> tuple[str, Any]:
    """(account name, connector) of the tracking courier; ``ConfigError`` when there is none."""
    name = courier or settings_of(hub).courier
    if not name:
        raise ConfigError("[fulfilment.tracking] courier is not set: no account tracks parcels")
    account = hub.config.couriers.get(name)
    if account is None or not account.enabled:
        raise ConfigError(f"[fulfilment.tracking] courier {name!r} is not an enabled [couriers.{name}] account")
    cls = hub.plugins.connector_class("courier", account.platform)
    if cls is None or not declared(cls, Capability.TRACK):
        raise ConfigError(f"courier {name!r} ({account.platform}) cannot track parcels (no TRACK capability)")
    return name, hub.accounts().courier(name)


async def subscribe_parcels(hub: Hub, parcel_ids: Sequence[int]) -> int:
    """Subscribe the parcels not subscribed yet; returns how many were. Kuaidi100 answering
    "already tracking" counts as subscribed. A parcel whose courier the tracking account cannot
    name is logged and left (the rules job tries again later); a transient fault is raised after
    the ones done are recorded, so the retry asks only for the rest."""
    url = callback_url(settings_of(hub))
    if url is None:
        log.info("tracking.not_configured", parcels=len(parcel_ids))
        return 0
    name, connector = tracking_connector(hub)
    async with hub.database().session() as session:
        rows = list((await session.execute(select(ParcelRow.id, ParcelRow.courier_code, ParcelRow.waybill_number).where(
            ParcelRow.id.in_(list(parcel_ids)), ParcelRow.subscribed_at.is_(None), ParcelRow.status == "shipped",
            ParcelRow.waybill_number.is_not(None)).order_by(ParcelRow.id))).all())
    done: list[int] = []
    skipped: list[int] = []
    failure: Exception | None = None
    for pid, courier_code, number in rows:
        try:
            await connector.subscribe(number, courier_code, url)
        except AuthorizationError as exc:  # the account's key, not this parcel: retried, then a dead letter
            failure = exc
            break
        except (BadInputError, PermanentError) as exc:
            skipped.append(pid)
            log.warning("tracking.subscribe_refused", parcel_id=pid, courier=name, reason=describe_error(exc))
        except Exception as exc:  # transient (or the account's authorisation): the queue retries the rest
            failure = exc
            break
        else:
            done.append(pid)
    now = utcnow()
    async with hub.database().transaction() as session:
        if done:
            await session.execute(update(ParcelRow).where(ParcelRow.id.in_(done)).values(subscribed_at=now))
        if skipped:  # touched, so the rules job's resubscription waits before asking again
            await session.execute(update(ParcelRow).where(ParcelRow.id.in_(skipped)).values(updated_at=now))
    log.info("tracking.subscribed", courier=name, parcels=len(done), refused=len(skipped))
    if failure is not None:
        raise failure
    return len(done)


# --------------------------------------------------------------------------- recording scans


@dataclass(frozen=True)
class PushIn:
    """A push (or a poll) reduced to what tracking stores: whose scans, and the courier's status."""

    tracking_number: str
    courier_code: str
    events: list[TrackingEvent]
    status: str = ""
    needs_resubscribe: bool = False


@dataclass
class Recorded:
    parcel_id: int | None
    inserted: int
    state: str | None = None
    order_delivered: bool = False
    raised: list[str] = field(default_factory=list)


def parse_push(connector: Any, headers: Mapping[str, str], body: bytes) -> PushIn:
    """Verify and parse with the connector: ``parse_tracking_callback`` (which keeps the
    subscription status) when it has one, else ``parse_tracking_push``. ``SignatureError`` /
    ``BadInputError`` as the connector raises them."""
    parse = getattr(connector, "parse_tracking_callback", None)
    if parse is not None:
        push = parse(headers, body)
        return PushIn(push.tracking_number, push.courier_code, list(push.events), push.status,
                      bool(getattr(push, "needs_resubscribe", False)))
    events = list(connector.parse_tracking_push(headers, body))
    if not events:
        raise BadInputError("the push carries no tracking events", field="body")
    return PushIn(events[0].tracking_number, events[0].courier_code, events)


async def _find_parcel(session: AsyncSession, tracking_number: str, courier_code: str) -> ParcelRow | None:
    rows = list((await session.execute(select(ParcelRow).where(
        ParcelRow.waybill_number == tracking_number).order_by(ParcelRow.id)
        .execution_options(populate_existing=True))).scalars())
    courier = canonical_courier_code(courier_code) if courier_code else ""
    exact = [r for r in rows if r.courier_code == courier]
    if exact:
        return exact[0]
    # The courier's code came back in the tracking provider's own form: one parcel of that number is it.
    return rows[0] if len(rows) == 1 else None


async def record(hub: Hub, push: PushIn, *, now: datetime | None = None) -> Recorded:
    """Store a push's scans and what follows from them, in one transaction."""
    async with hub.database().transaction() as session:
        outcome = await record_in(session, hub, push, now=now or utcnow())
    log.info("tracking.recorded", parcel_id=outcome.parcel_id, events=len(push.events), new=outcome.inserted,
             state=outcome.state, order_delivered=outcome.order_delivered, raised=outcome.raised)
    return outcome


async def record_in(session: AsyncSession, hub: Hub, push: PushIn, *, now: datetime) -> Recorded:
    parcel = await _find_parcel(session, push.tracking_number, push.courier_code)
    if parcel is None:
        log.warning("tracking.unknown_parcel", courier=push.courier_code, events=len(push.events))
    parcel_id = parcel.id if parcel else None
    unique: dict[tuple[str, str, datetime], TrackingEvent] = {}
    for event in push.events:
        unique[(event.tracking_number, event.state.value, _utc(event.occurred_at))] = event
    inserted = 0
    if unique:
        result = await session.execute(insert_ignore(TrackingEventRow, _dialect(session)).values([
            {"tracking_number": number, "courier_code": event.courier_code, "state": state, "occurred_at": at,
             "description": event.description[:2000], "parcel_id": parcel_id,
             "shipment_id": parcel.shipment_id if parcel else None}
            for (number, state, at), event in unique.items()]).returning(TrackingEventRow.id))
        inserted = len(list(result))
    if parcel is None:
        return Recorded(None, inserted)
    await _advance(session, parcel.id, list(unique.values()))
    if push.needs_resubscribe:
        # The courier stopped tracking it: subscribe again later (the rules job, after a wait).
        await session.execute(update(ParcelRow).where(ParcelRow.id == parcel.id)
                              .values(subscribed_at=None, updated_at=now))
    parcel = (await session.execute(select(ParcelRow).where(ParcelRow.id == parcel.id)
                                    .execution_options(populate_existing=True))).scalar_one()
    outcome = Recorded(parcel.id, inserted, parcel.tracking_state)
    outcome.raised = await _settle_exceptions(session, [(parcel, await _shipped_at(session, parcel))],
                                              now, settings_of(hub))
    if parcel.delivered_at is not None:
        outcome.order_delivered = await deliver_order_if_done(session, parcel.order_id)
    return outcome


async def _advance(session: AsyncSession, parcel_id: int, events: list[TrackingEvent]) -> None:
    """The parcel's newest state (only ever to a later scan), first scan and delivery times."""
    if not events:
        return
    ordered = sorted(events, key=lambda e: _utc(e.occurred_at))  # stable: ties keep the courier's order
    newest = ordered[-1]
    at = _utc(newest.occurred_at)
    await session.execute(update(ParcelRow).where(
        ParcelRow.id == parcel_id, or_(ParcelRow.tracking_at.is_(None), ParcelRow.tracking_at < at))
        .values(tracking_state=newest.state.value, tracking_at=at))
    scans = [_utc(e.occurred_at) for e in ordered if e.state is not TrackingState.CREATED]
    if scans:
        await session.execute(update(ParcelRow).where(
            ParcelRow.id == parcel_id, or_(ParcelRow.collected_at.is_(None), ParcelRow.collected_at > scans[0]))
            .values(collected_at=scans[0]))
    delivered = [_utc(e.occurred_at) for e in ordered if e.state is TrackingState.DELIVERED]
    if delivered:
        await session.execute(update(ParcelRow).where(
            ParcelRow.id == parcel_id, ParcelRow.delivered_at.is_(None)).values(delivered_at=delivered[0]))


async def deliver_order_if_done(session: AsyncSession, order_id: int) -> bool:
    """Move the order to ``delivered`` (through the order service: forward only, with a history
    entry, cause "tracking") once it has shipped in full and every shipped parcel is delivered."""
    stmt = select(OrderRow).where(OrderRow.id == order_id).execution_options(populate_existing=True)
    if _dialect(session) == "postgresql":
        # Two parcels' last scans arriving at once: the second waits here, then counts the first as
        # delivered (SQLite serialises writers already).
        stmt = stmt.with_for_update()
    order = (await session.execute(stmt)).scalar_one_or_none()
    if order is None or order.fulfilment_status != "shipped":
        return False
    if judge_transition(OrderStatus(order.status), OrderStatus.DELIVERED) is not TransitionVerdict.APPLY:
        return False
    counts = (await session.execute(select(
        func.count(ParcelRow.id), func.count(ParcelRow.delivered_at)).where(
        ParcelRow.order_id == order_id, ParcelRow.status == "shipped"))).one()
    shipped, delivered = int(counts[0]), int(counts[1])
    if shipped == 0 or delivered < shipped:
        return False
    stored = orders.stored_order(order)
    # The channel's own time is kept: a later channel report is judged as usual (shipped: stale,
    # kept in the history; completed: applied), so the channel never conflicts with this move.
    report = stored.model_copy(update={"status": OrderStatus.DELIVERED, "updated_at": order.channel_updated_at})
    result = await orders.apply_order(session, report, cause=CAUSE)
    return result.new_status is OrderStatus.DELIVERED and result.old_status is not OrderStatus.DELIVERED


# --------------------------------------------------------------------------- the rules


def due(parcel: ParcelRow, shipped_at: datetime | None, now: datetime,
        settings: TrackingSettings) -> dict[str, str]:
    """The exceptions a parcel should have open now (kind → reason). Pure."""
    if parcel.status != "shipped":
        return {}
    if parcel.tracking_state == TrackingState.RETURNED.value:
        return {RETURNED: f"parcel {parcel.waybill_number} ({parcel.courier_code}) is being returned to the sender"}
    if parcel.delivered_at is not None or parcel.tracking_state in TERMINAL_STATES:
        return {}
    if parcel.collected_at is None:
        since = shipped_at or parcel.created_at
        if since <= now - timedelta(hours=settings.not_collected_hours):
            return {NOT_COLLECTED: f"parcel {parcel.waybill_number} ({parcel.courier_code}) shipped "
                                   f"{since.isoformat(timespec='minutes')} has no courier scan after "
                                   f"{settings.not_collected_hours:g} h"}
        return {}
    last = parcel.tracking_at or parcel.collected_at
    if last <= now - timedelta(hours=settings.not_moving_hours):
        return {STALLED: f"parcel {parcel.waybill_number} ({parcel.courier_code}) has not moved since "
                         f"{last.isoformat(timespec='minutes')} ({parcel.tracking_state or 'no state'}; over "
                         f"{settings.not_moving_hours:g} h)"}
    return {}


async def _shipped_at(session: AsyncSession, parcel: ParcelRow) -> datetime | None:
    if parcel.shipment_id is None:
        return None
    return await session.scalar(select(ShipmentRow.created_at).where(ShipmentRow.id == parcel.shipment_id))


async def _settle_exceptions(session: AsyncSession, parcels: list[tuple[ParcelRow, datetime | None]],
                             now: datetime, settings: TrackingSettings) -> list[str]:
    """Raise what is due for these parcels, resolve what no longer is (set-based); the raised kinds."""
    wanted: list[Raised] = []
    for parcel, shipped_at in parcels:
        for kind, reason in due(parcel, shipped_at, now, settings).items():
            wanted.append(Raised(parcel.order_id, kind, parcel_subject(parcel.id), reason))
    keys = {(w.kind, w.subject) for w in wanted}
    open_rows = await exceptions.open_for_subjects(session, KINDS, [parcel_subject(p.id) for p, _ in parcels])
    gone = [r.id for r in open_rows if r.kind in SELF_RESOLVING and (r.kind, r.subject) not in keys]
    already = {(r.kind, r.subject) for r in open_rows}
    fresh = [w for w in wanted if (w.kind, w.subject) not in already]
    await exceptions.raise_many(session, fresh, now=now)
    await exceptions.resolve_automatically(session, gone, now=now)
    return [w.kind for w in fresh]


@dataclass
class CheckResult:
    looked_at: int = 0
    raised: int = 0
    resubscribe: int = 0


async def check_parcels(hub: Hub, *, now: datetime | None = None) -> CheckResult:
    """The periodic rules over every shipped, undelivered parcel (and those with an open
    exception), a batch per transaction; then owe a new subscription to parcels the courier
    stopped tracking (or never tracked) ``resubscribe_after_minutes`` ago."""
    now = now or utcnow()
    settings = settings_of(hub)
    result = CheckResult()
    async with hub.database().session() as session:
        flagged = [exceptions.subject_parcel(subject) for subject in (await session.execute(
            select(FulfilmentExceptionRow.subject).where(FulfilmentExceptionRow.kind.in_(KINDS),
                                                         FulfilmentExceptionRow.resolved_at.is_(None)))).scalars()]
    with_open = sorted({pid for pid in flagged if pid is not None})
    after = 0
    while True:
        async with hub.database().transaction() as session:
            rows = list((await session.execute(
                select(ParcelRow, ShipmentRow.created_at)
                .outerjoin(ShipmentRow, ShipmentRow.id == ParcelRow.shipment_id)
                .where(ParcelRow.id > after, or_(
                    and_(ParcelRow.status == "shipped", ParcelRow.delivered_at.is_(None)),
                    ParcelRow.id.in_(with_open)))
                .order_by(ParcelRow.id).limit(BATCH).execution_options(populate_existing=True))).all())
            if not rows:
                break
            after = rows[-1][0].id
            result.looked_at += len(rows)
            result.raised += len(await _settle_exceptions(session, [(p, s) for p, s in rows], now, settings))
        if len(rows) < BATCH:
            break
    if callback_url(settings) is not None:
        result.resubscribe = await _owe_resubscriptions(hub, now, settings)
    if result.raised or result.resubscribe:
        log.info("tracking.checked", parcels=result.looked_at, raised=result.raised, resubscribe=result.resubscribe)
    return result


async def _owe_resubscriptions(hub: Hub, now: datetime, settings: TrackingSettings) -> int:
    cutoff = now - timedelta(minutes=settings.resubscribe_after_minutes)
    async with hub.database().transaction() as session:
        ids = list((await session.execute(select(ParcelRow.id).where(
            ParcelRow.status == "shipped", ParcelRow.subscribed_at.is_(None), ParcelRow.delivered_at.is_(None),
            ParcelRow.waybill_number.is_not(None),
            or_(ParcelRow.tracking_state.is_(None), ParcelRow.tracking_state.not_in(TERMINAL_STATES)),
            func.coalesce(ParcelRow.updated_at, ParcelRow.created_at) <= cutoff).order_by(ParcelRow.id))).scalars())
        for start in range(0, len(ids), BATCH):
            outbox.add(session, SUBSCRIBE_ACTOR, ids[start:start + BATCH])
    return len(ids)


# --------------------------------------------------------------------------- webhook, poll, timeline


async def receive_push(hub: Hub, courier: str, headers: Mapping[str, str], body: bytes) -> tuple[Recorded, Any]:
    """Verify a push with courier account ``courier``'s connector and record it; returns the
    outcome and the connector (whose ``tracking_push_reply`` the webhook answers with).
    ``NotFoundError`` (no such account, or it takes no tracking pushes), ``SignatureError``,
    ``BadInputError``."""
    account = hub.config.couriers.get(courier)
    cls = hub.plugins.connector_class("courier", account.platform) if account and account.enabled else None
    if cls is None or not declared(cls, Capability.RECEIVE_TRACKING_PUSH):
        raise NotFoundError(f"no courier account {courier!r} that receives tracking pushes")
    connector = hub.accounts().courier(courier)
    return await record(hub, parse_push(connector, headers, body)), connector


async def track_now(hub: Hub, parcel_id: int) -> Recorded:
    """Ask the tracking courier for the parcel's scans now and store them (when pushes are missing)."""
    async with hub.database().session() as session:
        parcel = (await session.execute(select(ParcelRow).where(ParcelRow.id == parcel_id))).scalar_one_or_none()
    if parcel is None:
        raise NotFoundError(f"parcel {parcel_id} does not exist")
    if not parcel.waybill_number:
        raise BadInputError(f"parcel {parcel_id} has no waybill number yet", field="parcel_id")
    _, connector = tracking_connector(hub)
    events = await connector.track(parcel.waybill_number, parcel.courier_code)
    return await record(hub, PushIn(parcel.waybill_number, parcel.courier_code, list(events)))


async def timeline(session: AsyncSession, parcel_ids: Sequence[int]) -> dict[int, list[TrackingEventRow]]:
    """Each parcel's events, oldest first."""
    result: dict[int, list[TrackingEventRow]] = {pid: [] for pid in parcel_ids}
    if not parcel_ids:
        return result
    rows = (await session.execute(select(TrackingEventRow).where(TrackingEventRow.parcel_id.in_(list(parcel_ids)))
                                  .order_by(TrackingEventRow.occurred_at, TrackingEventRow.id))).scalars()
    for row in rows:
        result[row.parcel_id or 0].append(row)
    return result
