"""Lists of service orders with filters (status, type, technician, region, shop, due before,
overdue), one order with its history, write-backs, alerts and the steps allowed now, and the board
(open orders by status). Reads only; no partner calls. Not for taking steps (``lifecycle``) nor for
figures over a period (``figures``).

Most urgent first everywhere: open orders by their next deadline (``due_at``; none last), then
the newest; closed orders after the open ones, newest first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.service_orders import (
    TERMINAL_SERVICE_STATUSES,
    ServiceOrderAction,
    ServiceOrderStatus,
    ServiceOrderType,
    service_actions,
)
from hub.db.tables import (
    OrderRow,
    ServiceAlertRow,
    ServiceOrderEventRow,
    ServiceOrderRow,
    ServiceOrderWriteRow,
    TechnicianRow,
)
from hub.errors import BadInputError
from hub.services.service_orders import records
from hub.services.service_orders.records import ServiceOrderRecord

#: The most orders one page (or one board column) holds.
MAX_LIMIT = 200
#: ``technician`` filter value for orders no technician has.
UNASSIGNED = "none"
#: The board's columns, in the order work moves through them.
BOARD_STATUSES: tuple[ServiceOrderStatus, ...] = (
    ServiceOrderStatus.NEW, ServiceOrderStatus.ASSIGNED, ServiceOrderStatus.BOOKED, ServiceOrderStatus.ON_SITE)
_CLOSED = tuple(s.value for s in TERMINAL_SERVICE_STATUSES)


@dataclass(frozen=True)
class ServiceFilter:
    """What a list shows. ``technician`` is a code, or ``"none"`` for unassigned orders; ``region``
    matches any of province, city or district; ``overdue`` keeps open orders past their next
    deadline; ``q`` matches the platform's id, the order's external id or the SKU."""

    status: tuple[str, ...] = ()
    type: str | None = None
    technician: str | None = None
    region: str | None = None
    shop: str | None = None
    due_before: datetime | None = None
    overdue: bool = False
    q: str | None = None
    limit: int = 50
    offset: int = 0
    #: The shops the caller may see (``Principal.shops``); None: every shop.
    shops: frozenset[str] | None = None


@dataclass(frozen=True)
class ServiceOrderSummary:
    """One service order in a list; ``seconds_left`` to its next deadline (negative: overdue)."""

    id: int
    platform: str
    shop: str
    external_id: str
    order_id: int | None
    order_external_id: str | None
    type: str
    status: str
    origin: str
    merchant_sku: str | None
    product_title: str | None
    region: str | None
    technician_code: str | None
    technician_name: str | None
    appointment_start: datetime | None
    appointment_end: datetime | None
    due_at: datetime | None
    due_milestone: str | None
    sla_state: str
    seconds_left: float | None
    alert_level: int | None
    version: int
    created_at: datetime


@dataclass(frozen=True)
class ServiceOrderDetail:
    """One service order, whole: the record, its order's external id, history (oldest first),
    write-backs, platform alerts and the steps allowed now."""

    record: ServiceOrderRecord
    order_external_id: str | None
    events: list[dict[str, Any]] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    actions: frozenset[ServiceOrderAction] = frozenset()
    seconds_left: float | None = None


def check_filter(filters: ServiceFilter) -> None:
    """``BadInputError`` naming the parameter for a filter no order could match by mistake: an
    unknown status or type, a negative offset."""
    known_statuses = {s.value for s in ServiceOrderStatus}
    for status in filters.status:
        if status not in known_statuses:
            raise BadInputError(f"status {status!r} is not one of {', '.join(sorted(known_statuses))}",
                                field="query.status")
    known_types = {t.value for t in ServiceOrderType}
    if filters.type is not None and filters.type not in known_types:
        raise BadInputError(f"type {filters.type!r} is not one of {', '.join(sorted(known_types))}",
                            field="query.type")
    if filters.offset < 0:
        raise BadInputError("offset must not be negative", field="query.offset")
    if filters.due_before is not None:
        try:
            filters.due_before.astimezone(UTC)
        except OverflowError:  # year 1 east of UTC, year 9999 west of it: no stored time compares
            raise BadInputError("due_before is out of range", field="query.due_before") from None


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _conditions(filters: ServiceFilter, now: datetime) -> list[Any]:
    row = ServiceOrderRow
    where: list[Any] = []
    if filters.status:
        where.append(row.status.in_(filters.status))
    if filters.type:
        where.append(row.type == filters.type)
    if filters.shops is not None:
        where.append(row.shop.in_(sorted(filters.shops)) if filters.shops else false())
    if filters.technician == UNASSIGNED:
        where.append(row.technician_id.is_(None))
    elif filters.technician:
        where.append(TechnicianRow.code == filters.technician)
    if filters.region:
        where.append(or_(row.region_province == filters.region, row.region_city == filters.region,
                         row.region_district == filters.region))
    if filters.shop:
        where.append(row.shop == filters.shop)
    if filters.due_before is not None:
        where.append(row.due_at < filters.due_before)
    if filters.overdue:
        where.append(and_(row.status.not_in(_CLOSED), row.due_at <= now))
    text = (filters.q or "").strip()
    if text:
        where.append(or_(row.external_id.icontains(text, autoescape=True),
                         OrderRow.external_id.icontains(text, autoescape=True),
                         row.merchant_sku.icontains(text, autoescape=True)))
    return where


def _joined(stmt: Any) -> Any:
    return (stmt.outerjoin(OrderRow, OrderRow.id == ServiceOrderRow.order_id)
            .outerjoin(TechnicianRow, TechnicianRow.id == ServiceOrderRow.technician_id))


def _urgency() -> tuple[Any, ...]:
    """Open first, by next deadline (none last), then newest created; the id breaks ties."""
    row = ServiceOrderRow
    closed = case((row.status.in_(_CLOSED), 1), else_=0)
    no_deadline = case((row.due_at.is_(None), 1), else_=0)
    return closed, no_deadline, row.due_at, row.created_at.desc(), row.id.desc()


def _summary_select() -> Any:
    return _joined(select(ServiceOrderRow, OrderRow.external_id, TechnicianRow.code, TechnicianRow.name)
                   .select_from(ServiceOrderRow))


def _region(row: ServiceOrderRow) -> str | None:
    return " ".join(p for p in (row.region_city, row.region_district) if p) or None


def _seconds_left(due_at: datetime | None, now: datetime) -> float | None:
    return (due_at - now).total_seconds() if due_at is not None else None


def _summary(row: ServiceOrderRow, order_external_id: str | None, code: str | None, name: str | None,
             now: datetime) -> ServiceOrderSummary:
    return ServiceOrderSummary(
        id=row.id, platform=row.platform, shop=row.shop, external_id=row.external_id, order_id=row.order_id,
        order_external_id=order_external_id, type=row.type, status=row.status, origin=row.origin,
        merchant_sku=row.merchant_sku, product_title=row.product_title, region=_region(row),
        technician_code=code, technician_name=name, appointment_start=row.appointment_start,
        appointment_end=row.appointment_end, due_at=row.due_at, due_milestone=row.due_milestone,
        sla_state=row.sla_state, seconds_left=_seconds_left(row.due_at, now), alert_level=row.alert_level,
        version=row.version, created_at=row.created_at)


async def list_service_orders(session: AsyncSession, filters: ServiceFilter, *,
                              now: datetime | None = None) -> tuple[list[ServiceOrderSummary], int]:
    """The orders ``filters`` keep (most urgent first: open by next deadline, then newest), and how
    many there are in all. ``BadInputError`` naming the parameter for an unknown status or type."""
    check_filter(filters)
    at = _now(now)
    where = _conditions(filters, at)
    limit = max(1, min(filters.limit, MAX_LIMIT))
    stmt = _summary_select().where(*where).order_by(*_urgency()).limit(limit).offset(filters.offset)
    rows = (await session.execute(stmt)).all()
    total = await session.scalar(_joined(select(func.count(ServiceOrderRow.id)).select_from(ServiceOrderRow))
                                 .where(*where))
    return [_summary(r, ext, code, name, at) for r, ext, code, name in rows], int(total or 0)


async def board(session: AsyncSession, filters: ServiceFilter, *, now: datetime | None = None,
                per_status: int = 50) -> dict[str, list[ServiceOrderSummary]]:
    """Open orders by status (new, assigned, booked, on_site), each column most urgent first and
    at most ``per_status`` long; ``filters.status`` narrows the columns shown (the others are
    empty), its other fields filter as in a list."""
    check_filter(filters)
    at = _now(now)
    shown = [s.value for s in BOARD_STATUSES if not filters.status or s.value in filters.status]
    columns: dict[str, list[ServiceOrderSummary]] = {s.value: [] for s in BOARD_STATUSES}
    if not shown:
        return columns
    per_status = max(1, min(per_status, MAX_LIMIT))
    # One read for every column: rank each order within its status, keep the first ``per_status``.
    rank = func.row_number().over(partition_by=ServiceOrderRow.status, order_by=_urgency()[1:]).label("rank")
    ranked = (_joined(select(ServiceOrderRow.id, rank).select_from(ServiceOrderRow))
              .where(ServiceOrderRow.status.in_(shown), *_conditions(filters, at)).subquery())
    kept = select(ranked.c.id).where(ranked.c.rank <= per_status)
    stmt = _summary_select().where(ServiceOrderRow.id.in_(kept)).order_by(*_urgency())
    for r, ext, code, name in (await session.execute(stmt)).all():
        columns[r.status].append(_summary(r, ext, code, name, at))
    return columns


def _event(row: ServiceOrderEventRow) -> dict[str, Any]:
    return {"at": row.at, "kind": row.kind, "old_status": row.old_status, "new_status": row.new_status,
            "cause": row.cause, "actor": row.actor, "detail": dict(row.detail or {})}


def _write(row: ServiceOrderWriteRow) -> dict[str, Any]:
    return {"id": row.id, "key": row.key, "action": row.action, "params": dict(row.params or {}),
            "actor": row.actor, "state": row.state, "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at, "result": dict(row.result or {}), "error": row.error,
            "created_at": row.created_at, "updated_at": row.updated_at}


def _alert(row: ServiceAlertRow) -> dict[str, Any]:
    return {"id": row.id, "alert_id": row.alert_id, "level": row.level, "rule_id": row.rule_id,
            "content": row.content, "raised_at": row.raised_at}


async def detail(session: AsyncSession, service_order_id: int, *, now: datetime | None = None) -> ServiceOrderDetail:
    """One order, whole; ``NotFoundError``."""
    record = await records.load(session, service_order_id)
    order_external_id = None
    if record.order_id is not None:
        order_external_id = await session.scalar(select(OrderRow.external_id).where(OrderRow.id == record.order_id))
    events = (await session.execute(select(ServiceOrderEventRow)
                                    .where(ServiceOrderEventRow.service_order_id == service_order_id)
                                    .order_by(ServiceOrderEventRow.at, ServiceOrderEventRow.id))).scalars().all()
    writes = (await session.execute(select(ServiceOrderWriteRow)
                                    .where(ServiceOrderWriteRow.service_order_id == service_order_id)
                                    .order_by(ServiceOrderWriteRow.id))).scalars().all()
    alerts = (await session.execute(select(ServiceAlertRow).where(ServiceAlertRow.service_order_id == service_order_id)
                                    .order_by(ServiceAlertRow.raised_at, ServiceAlertRow.id))).scalars().all()
    return ServiceOrderDetail(
        record=record, order_external_id=order_external_id, events=[_event(e) for e in events],
        writes=[_write(w) for w in writes], alerts=[_alert(a) for a in alerts],
        actions=service_actions(record.status), seconds_left=_seconds_left(record.due_at, _now(now)))
