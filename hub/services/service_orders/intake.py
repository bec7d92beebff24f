"""Storing service orders and platform alerts as platforms report them.

``apply_service_order`` creates or advances one service order from a platform's report: typed by
the code table (``classify``), linked to its order and order line (by the order's binding and the
line's external id; ``link_orders`` links those that came before their order), its region,
expected date and appointment kept, its service-level deadlines set (``sla.values_for``), a
history row per change; a report never moves an order back (``service_order_can_move``), a newer
report of the same status may still change the appointment or worker. A report sets only what it
says: a value it leaves out (no appointment, no worker) keeps what the hub recorded. A new order
(or one that moved) queues ``service_order_changed`` through the outbox (automatic assignment).
``apply_service_alert`` stores a platform's SLA alert once, raises the order's ``alert_level``,
writes a history row and queues ``service_order_alerted`` (the ``service_order_due`` hook, after
commit); an alert about a card the hub has not seen yet waits in ``service_alerts`` and is taken
up when the card is stored. Never buyer data in history or logs. Not for steps people take
(``lifecycle``) nor for fetching from platforms (the inbox worker and the poll do that).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.service_orders import (
    ServiceAlert,
    ServiceAlertLevel,
    ServiceOrder,
    ServiceOrderStatus,
    ServiceOrderType,
    service_order_can_move,
)
from hub import metrics
from hub.db import bindings, outbox
from hub.db.tables import OrderLineRow, ServiceAlertRow, ServiceOrderRow, utcnow
from hub.db.upsert import insert_ignore
from hub.services.service_orders import classify, records, sla
from hub.services.service_orders.settings import ServiceOrdersSection

CHANGED_ACTOR = "service_order_changed"
ALERTED_ACTOR = "service_order_alerted"
#: ``service_orders.alert_level`` / ``service_alerts.level`` of each platform alert level.
ALERT_LEVELS: dict[ServiceAlertLevel, int] = {
    ServiceAlertLevel.WARNING: 1, ServiceAlertLevel.ALERT: 2, ServiceAlertLevel.CRITICAL: 3}
LEVEL_NAMES: dict[int, ServiceAlertLevel] = {number: level for level, number in ALERT_LEVELS.items()}
#: The column holding when a status was first reached.
REACHED_AT: dict[ServiceOrderStatus, str] = {
    ServiceOrderStatus.ASSIGNED: "assigned_at",
    ServiceOrderStatus.BOOKED: "booked_at",
    ServiceOrderStatus.ON_SITE: "on_site_at",
    ServiceOrderStatus.COMPLETED: "closed_at",
    ServiceOrderStatus.CANCELLED: "closed_at",
    ServiceOrderStatus.FAILED: "closed_at",
}
#: What a report refreshes besides the status; compared to tell whether a report changed anything.
_REFRESHED = ("raw_status", "line_external_id", "merchant_sku", "product_title", "quantity", "service_code",
              "region_province", "region_city", "region_district", "expected_at", "appointment_start",
              "appointment_end", "assignee", "sla_deadline", "rating", "completion_note", "reason")
#: How much of a platform's alert text the history keeps.
ALERT_CONTENT_CHARS = 200
_ORDERS: Table = ServiceOrderRow.__table__  # type: ignore[assignment]


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind else "sqlite"


def _utc(value: datetime | None) -> datetime | None:
    return value.astimezone(UTC) if value is not None else None


def _cut(value: str | None, size: int) -> str | None:
    return value[:size] if value else value


def report_values(work: ServiceOrder) -> dict[str, Any]:
    """The columns of ``_REFRESHED`` that ``work`` says something about (a value left out is not
    in the result: it must not erase what the hub recorded)."""
    region = work.region
    values: dict[str, Any] = {
        "raw_status": work.raw_status[:100], "quantity": work.quantity,
        "line_external_id": work.line_external_id, "merchant_sku": work.merchant_sku,
        "product_title": _cut(work.product_title, 300), "service_code": _cut(work.service_code, 100),
        "region_province": region.province if region else None, "region_city": region.city if region else None,
        "region_district": region.district if region else None, "expected_at": _utc(work.expected_at),
        "appointment_start": _utc(work.appointment_start), "appointment_end": _utc(work.appointment_end),
        "assignee": _cut(work.assignee, 100), "sla_deadline": _utc(work.sla_deadline), "rating": work.rating,
        "completion_note": _cut(work.completion_note, 1000), "reason": _cut(work.reason, 500),
    }
    return {name: value for name, value in values.items() if value is not None}


async def _order_link(session: AsyncSession, work: ServiceOrder) -> tuple[int | None, int | None]:
    """(order id, order line id) of the sales order ``work`` is for, as far as the hub has them."""
    if work.order_ref is None:
        return None, None
    ref = work.order_ref
    order_id = await bindings.lookup(session, "order", ref.platform, ref.shop, ref.external_id)
    if order_id is None or not work.line_external_id:
        return order_id, None
    line_id = await session.scalar(select(OrderLineRow.id).where(
        OrderLineRow.order_id == order_id, OrderLineRow.external_id == work.line_external_id).limit(1))
    return order_id, int(line_id) if line_id is not None else None


async def apply_service_order(session: AsyncSession, work: ServiceOrder, *, cause: str,
                              settings: ServiceOrdersSection) -> tuple[int, bool]:
    """Create or advance ``work``; returns (service order id, changed)."""
    order_id, line_id = await _order_link(session, work)
    report = report_values(work)
    at = work.updated_at.astimezone(UTC)
    created_at = work.created_at.astimezone(UTC)
    kind = classify.service_type(settings.service_codes, work.service_code, work.service_name, work.type)
    reached = {REACHED_AT[work.status]: at} if work.status in REACHED_AT else {}
    deadlines = sla.values_for(settings, kind, work.status, created_at, platform_deadline=report.get("sla_deadline"),
                               booked_at=reached.get("booked_at"), on_site_at=reached.get("on_site_at"),
                               closed_at=reached.get("closed_at"))
    data = work.model_dump(mode="json")
    inserted = await session.execute(insert_ignore(ServiceOrderRow, _dialect(session)).values(
        platform=work.ref.platform, shop=work.ref.shop, external_id=work.ref.external_id, order_id=order_id,
        order_line_id=line_id, type=kind.value, status=work.status.value, origin="channel", version=1,
        channel_updated_at=at, data=data, created_at=created_at, updated_at=utcnow(),
        **report, **reached, **deadlines).returning(ServiceOrderRow.id))
    new_id = inserted.scalar_one_or_none()
    if new_id is not None:
        new_id = int(new_id)
        await bindings.bind(session, "service_order", work.ref.platform, work.ref.shop, work.ref.external_id, new_id)
        await records.add_event(session, new_id, "reported", cause=cause[:50], new_status=work.status.value,
                                detail={"raw_status": work.raw_status, "type": kind.value})
        outbox.add(session, CHANGED_ACTOR, new_id, work.status.value, cause)
        await _take_waiting_alerts(session, new_id, work, cause)
        return new_id, True

    stmt = select(ServiceOrderRow).where(ServiceOrderRow.platform == work.ref.platform,
                                         ServiceOrderRow.shop == work.ref.shop,
                                         ServiceOrderRow.external_id == work.ref.external_id)
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()  # concurrent reports of one card are judged one after the other
    row = (await session.execute(stmt)).scalar_one()
    link: dict[str, Any] = {}
    if order_id is not None and row.order_id in (None, order_id):
        link = {"order_id": order_id} if row.order_id is None else {}
        if line_id is not None and row.order_line_id is None:
            link["order_line_id"] = line_id
    current = ServiceOrderStatus(row.status)
    moves = service_order_can_move(current, work.status)
    newer = work.status is current and at > row.channel_updated_at
    if not moves and not newer:
        if link:  # the order arrived meanwhile
            await session.execute(update(ServiceOrderRow).where(ServiceOrderRow.id == row.id).values(**link))
        return row.id, False
    changed = [name for name in _REFRESHED if name in report and report[name] != getattr(row, name)]
    if not moves and not changed:
        # The same observation again with a later stamp: keep the stamp, no history, no new version.
        await session.execute(update(ServiceOrderRow).where(ServiceOrderRow.id == row.id).values(
            channel_updated_at=at, data=data, **link))
        return row.id, False
    status = work.status if moves else current
    column = REACHED_AT.get(work.status)
    if moves and column is not None and getattr(row, column) is None:
        reached = {column: at}
    else:
        reached = {}
    times = {name: reached.get(name, getattr(row, name)) for name in ("booked_at", "on_site_at", "closed_at")}
    deadlines = sla.values_for(
        settings, ServiceOrderType(row.type), status, created_at,
        platform_deadline=report.get("sla_deadline", row.sla_deadline), **times,
        previous_milestone=row.due_milestone, previous_state=row.sla_state)
    await session.execute(
        update(ServiceOrderRow).where(ServiceOrderRow.id == row.id, ServiceOrderRow.status == current.value)
        .values(**report, **reached, **deadlines, **link, status=status.value, data=data,
                # a forward move reported with an older stamp must not let the stamp go back
                channel_updated_at=max(at, row.channel_updated_at),
                version=row.version + 1, updated_at=utcnow()))
    detail: dict[str, Any] = {"raw_status": work.raw_status}
    if changed:
        detail["changed"] = changed
    if "appointment_start" in changed or "appointment_end" in changed:
        detail["appointment"] = [_iso(report.get("appointment_start")), _iso(report.get("appointment_end"))]
    if "sla_deadline" in changed:
        detail["sla_deadline"] = _iso(report.get("sla_deadline"))
    await records.add_event(session, row.id, "reported", cause=cause[:50], old_status=current.value,
                            new_status=status.value, detail=detail)
    if moves:
        outbox.add(session, CHANGED_ACTOR, row.id, status.value, cause)
    return row.id, True


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --------------------------------------------------------------------------- platform alerts


async def apply_service_alert(session: AsyncSession, alert: ServiceAlert, *, cause: str) -> tuple[int | None, bool]:
    """Store ``alert`` once (by platform, shop and alert id); returns (service order id or None when
    the hub has not seen the work card yet, new)."""
    ref = alert.ref
    service_order_id = await session.scalar(select(ServiceOrderRow.id).where(
        ServiceOrderRow.platform == ref.platform, ServiceOrderRow.shop == ref.shop,
        ServiceOrderRow.external_id == ref.external_id))
    inserted = await session.execute(insert_ignore(ServiceAlertRow, _dialect(session)).values(
        platform=ref.platform, shop=ref.shop, alert_id=alert.alert_id[:100], external_id=ref.external_id,
        service_order_id=service_order_id, level=ALERT_LEVELS[alert.level], rule_id=_cut(alert.rule_id, 100),
        content=alert.content[:1000], raised_at=alert.raised_at.astimezone(UTC), created_at=utcnow(),
    ).returning(ServiceAlertRow.id))
    if inserted.scalar_one_or_none() is None:
        return (int(service_order_id) if service_order_id is not None else None), False
    metrics.SERVICE_ALERTS.labels(ref.platform, alert.level.value).inc()
    if service_order_id is None:
        return None, True  # waits for its card (``_take_waiting_alerts``)
    await _raise_alerts(session, int(service_order_id), [alert], cause)
    return int(service_order_id), True


async def _raise_alerts(session: AsyncSession, service_order_id: int, alerts: list[ServiceAlert],
                        cause: str) -> None:
    """Raise the order's ``alert_level``/``alerted_at`` to the strongest and latest of ``alerts``,
    write one history row each and queue the ``service_order_due`` hook for each."""
    stmt = select(ServiceOrderRow.alert_level, ServiceOrderRow.alerted_at).where(ServiceOrderRow.id == service_order_id)
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    level, alerted_at = (await session.execute(stmt)).one()
    strongest = max([level or 0, *(ALERT_LEVELS[a.level] for a in alerts)])
    latest = max([t for t in (alerted_at, *(a.raised_at.astimezone(UTC) for a in alerts)) if t is not None])
    if (strongest, latest) != (level, alerted_at):
        await session.execute(update(ServiceOrderRow).where(ServiceOrderRow.id == service_order_id).values(
            alert_level=strongest, alerted_at=latest, updated_at=utcnow()))
    await records.add_events(session, [{
        "service_order_id": service_order_id, "kind": "alert", "cause": cause[:50],
        "detail": {"level": a.level.value, "alert_id": a.alert_id, "rule_id": a.rule_id,
                   "content": a.content[:ALERT_CONTENT_CHARS]}} for a in alerts])
    for a in alerts:
        outbox.add(session, ALERTED_ACTOR, service_order_id, a.level.value, a.raised_at.astimezone(UTC).isoformat())


async def _take_waiting_alerts(session: AsyncSession, service_order_id: int, work: ServiceOrder, cause: str) -> None:
    """The alerts that came before the card ``service_order_id``: linked to it, and raising it."""
    ref = work.ref
    waiting = (await session.execute(
        select(ServiceAlertRow).where(ServiceAlertRow.service_order_id.is_(None),
                                      ServiceAlertRow.platform == ref.platform, ServiceAlertRow.shop == ref.shop,
                                      ServiceAlertRow.external_id == ref.external_id)
        .order_by(ServiceAlertRow.raised_at, ServiceAlertRow.id))).scalars().all()
    if not waiting:
        return
    await session.execute(update(ServiceAlertRow).where(ServiceAlertRow.id.in_([r.id for r in waiting]))
                          .values(service_order_id=service_order_id))
    await _raise_alerts(session, service_order_id, [
        ServiceAlert(ref=ref, alert_id=r.alert_id, level=LEVEL_NAMES.get(r.level, ServiceAlertLevel.CRITICAL),
                     rule_id=r.rule_id, content=r.content, raised_at=r.raised_at) for r in waiting], cause)


# --------------------------------------------------------------------------- orders that came later


async def link_orders(session: AsyncSession, created: list[tuple[str, str, str, int]]) -> int:
    """Link the service orders that arrived before their order to it and its line, now that the
    order is stored: ``created`` holds (platform, shop, order external id, order id) of the orders
    just created; returns how many were linked. Set-based: one SELECT of the waiting cards whose
    report names one of these orders (the order's external id read from the stored report), one
    UPDATE of them (executemany; the line found by its external id in the same statement); none
    for an empty list."""
    if not created:
        return 0
    order_of = {(p, s, e): oid for p, s, e, oid in created}
    ref = ServiceOrderRow.data[("order_ref", "external_id")].as_string()
    found = (await session.execute(
        select(ServiceOrderRow.id, ServiceOrderRow.data)
        .where(ServiceOrderRow.order_id.is_(None), ServiceOrderRow.origin == "channel",
               ref.in_(sorted({e for _, _, e in order_of})))
        .order_by(ServiceOrderRow.id))).all()
    links = []
    for service_order_id, data in found:
        named = (data or {}).get("order_ref") or {}
        order_id = order_of.get((str(named.get("platform")), str(named.get("shop")), str(named.get("external_id"))))
        if order_id is not None:
            links.append({"cid": int(service_order_id), "oid": order_id})
    if not links:
        return 0
    line = (select(OrderLineRow.id).where(OrderLineRow.order_id == bindparam("oid"),
                                          OrderLineRow.external_id == _ORDERS.c.line_external_id)
            .order_by(OrderLineRow.id).limit(1).scalar_subquery())
    connection = await session.connection()
    await connection.execute(
        update(_ORDERS).where(_ORDERS.c.id == bindparam("cid"), _ORDERS.c.order_id.is_(None))
        .values(order_id=bindparam("oid"), order_line_id=line), links)
    return len(links)
