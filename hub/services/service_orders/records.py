"""Reading one stored service order (``ServiceOrderRecord``, with its technician) and writing its
history (``add_event``). What intake, assignment, the lifecycle, the write-back and the SLA scan
share; not for lists (``queries``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.refs import ChannelRef
from contracts.service_orders import ServiceOrder, ServiceOrderStatus, ServiceOrderType, ServiceRegion
from hub.db.tables import ServiceOrderEventRow, ServiceOrderRow, TechnicianRow, utcnow
from hub.errors import NotFoundError


@dataclass(frozen=True)
class ServiceOrderRecord:
    """One stored service order as the services need it."""

    id: int
    platform: str
    shop: str
    external_id: str
    order_id: int | None
    order_line_id: int | None
    line_external_id: str | None
    merchant_sku: str | None
    product_title: str | None
    quantity: int
    service_code: str | None
    type: ServiceOrderType
    status: ServiceOrderStatus
    raw_status: str
    origin: str
    region: ServiceRegion
    expected_at: datetime | None
    appointment_start: datetime | None
    appointment_end: datetime | None
    technician_id: int | None
    technician_code: str | None
    technician_name: str | None
    assignee: str | None
    sla_deadline: datetime | None
    contact_due_at: datetime | None
    onsite_due_at: datetime | None
    complete_due_at: datetime | None
    due_at: datetime | None
    due_milestone: str | None
    sla_state: str
    alert_level: int | None
    alerted_at: datetime | None
    assigned_at: datetime | None
    booked_at: datetime | None
    on_site_at: datetime | None
    closed_at: datetime | None
    rating: int | None
    completion_note: str | None
    reason: str | None
    version: int
    created_by: str | None
    channel_updated_at: datetime
    created_at: datetime
    updated_at: datetime
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        """Created in the hub (by a person or a rule): no platform to write steps back to."""
        return self.origin != "channel"

    def contract(self) -> ServiceOrder:
        """The order as a connector reads it: the platform's report as stored (its ``extra``
        included), with what the hub knows now (status, technician, appointment)."""
        base: dict[str, Any] = dict(self.data) if self.data.get("ref") else {}
        base.update({
            "ref": ChannelRef(platform=self.platform, shop=self.shop, external_id=self.external_id),
            "type": self.type, "status": self.status, "raw_status": self.raw_status,
            "merchant_sku": self.merchant_sku, "product_title": self.product_title, "quantity": self.quantity,
            "service_code": self.service_code, "line_external_id": self.line_external_id,
            "region": self.region, "expected_at": self.expected_at,
            "appointment_start": self.appointment_start, "appointment_end": self.appointment_end,
            "assignee": self.technician_name or self.assignee, "sla_deadline": self.sla_deadline,
            "rating": self.rating, "completion_note": self.completion_note, "reason": self.reason,
            "created_at": base.get("created_at") or self.created_at,
            "updated_at": self.channel_updated_at,
        })
        return ServiceOrder.model_validate(base)


def _record(row: ServiceOrderRow, tech: TechnicianRow | None) -> ServiceOrderRecord:
    return ServiceOrderRecord(
        id=row.id, platform=row.platform, shop=row.shop, external_id=row.external_id, order_id=row.order_id,
        order_line_id=row.order_line_id, line_external_id=row.line_external_id, merchant_sku=row.merchant_sku,
        product_title=row.product_title, quantity=row.quantity, service_code=row.service_code,
        type=ServiceOrderType(row.type), status=ServiceOrderStatus(row.status), raw_status=row.raw_status,
        origin=row.origin,
        region=ServiceRegion(province=row.region_province, city=row.region_city, district=row.region_district),
        expected_at=row.expected_at, appointment_start=row.appointment_start, appointment_end=row.appointment_end,
        technician_id=row.technician_id, technician_code=tech.code if tech else None,
        technician_name=tech.name if tech else None, assignee=row.assignee, sla_deadline=row.sla_deadline,
        contact_due_at=row.contact_due_at, onsite_due_at=row.onsite_due_at, complete_due_at=row.complete_due_at,
        due_at=row.due_at, due_milestone=row.due_milestone, sla_state=row.sla_state, alert_level=row.alert_level,
        alerted_at=row.alerted_at, assigned_at=row.assigned_at, booked_at=row.booked_at, on_site_at=row.on_site_at,
        closed_at=row.closed_at, rating=row.rating, completion_note=row.completion_note, reason=row.reason,
        version=row.version, created_by=row.created_by, channel_updated_at=row.channel_updated_at,
        created_at=row.created_at, updated_at=row.updated_at, data=dict(row.data or {}),
    )


async def load(session: AsyncSession, service_order_id: int, *, lock: bool = False) -> ServiceOrderRecord:
    """The stored service order ``service_order_id`` (``lock``: its row locked until the
    transaction ends, on PostgreSQL); ``NotFoundError`` when there is none."""
    query = select(ServiceOrderRow).where(ServiceOrderRow.id == service_order_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no service order {service_order_id}")
    tech = None
    if row.technician_id is not None:
        tech = (await session.execute(select(TechnicianRow).where(TechnicianRow.id == row.technician_id))
                ).scalar_one_or_none()
    return _record(row, tech)


async def add_event(session: AsyncSession, service_order_id: int, kind: str, *, cause: str,
                    actor: str | None = None, old_status: str | None = None, new_status: str | None = None,
                    detail: dict[str, Any] | None = None, at: datetime | None = None) -> None:
    """Append one history row (never buyer data in ``detail``)."""
    await add_events(session, [{"service_order_id": service_order_id, "kind": kind, "cause": cause, "actor": actor,
                                "old_status": old_status, "new_status": new_status, "detail": detail or {},
                                "at": at or utcnow()}])


async def add_events(session: AsyncSession, events: list[dict[str, Any]]) -> None:
    """Append many history rows in one statement (each a dict of ``ServiceOrderEventRow`` columns)."""
    if not events:
        return
    rows = [{"detail": {}, "actor": None, "old_status": None, "new_status": None, "at": utcnow(), **e} for e in events]
    await session.execute(insert(ServiceOrderEventRow), rows)
