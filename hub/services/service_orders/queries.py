"""Lists of service orders with filters (status, type, technician, region, shop, due before,
overdue), one order with its history, write-backs, alerts and the steps allowed now, and the board
(open orders by status). Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.service_orders import ServiceOrderAction
from hub.services.service_orders.records import ServiceOrderRecord


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


async def list_service_orders(session: AsyncSession, filters: ServiceFilter, *,
                              now: datetime | None = None) -> tuple[list[ServiceOrderSummary], int]:
    """The orders ``filters`` keep (most urgent first: open by next deadline, then newest), and how
    many there are in all."""
    raise NotImplementedError


async def detail(session: AsyncSession, service_order_id: int, *, now: datetime | None = None) -> ServiceOrderDetail:
    """One order, whole; ``NotFoundError``."""
    raise NotImplementedError


async def board(session: AsyncSession, filters: ServiceFilter, *, now: datetime | None = None,
                per_status: int = 50) -> dict[str, list[ServiceOrderSummary]]:
    """Open orders by status (new, assigned, booked, on_site), each column most urgent first."""
    raise NotImplementedError
