"""Shared test factories for service orders: a platform's work card as a connector maps it
(``make_service_order``), a technician (``make_technician``), and rows stored directly
(``store_technician``, ``store_service_order``) for tests that start from a given state rather than
from intake. Not for production code.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.refs import ChannelRef
from contracts.service_orders import (
    ServiceOrder,
    ServiceOrderStatus,
    ServiceOrderType,
    ServiceRegion,
    Technician,
)
from hub.db.tables import ServiceOrderRow, TechnicianRow

_ids = itertools.count(1)


def make_service_order(*, shop: str = "tm", platform: str = "tmall", external_id: str | None = None,
                       order_external_id: str | None = "T1001", status: ServiceOrderStatus = ServiceOrderStatus.NEW,
                       kind: ServiceOrderType = ServiceOrderType.INSTALLATION, merchant_sku: str | None = "AC-1",
                       region: ServiceRegion | None = None, created_at: datetime | None = None,
                       updated_at: datetime | None = None, **fields: Any) -> ServiceOrder:
    """A work card as a channel connector would map it (defaults: a new Tmall installation in 杭州)."""
    created = created_at or datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    return ServiceOrder(
        ref=ChannelRef(platform=platform, shop=shop, external_id=external_id or f"WC{next(_ids):06d}"),
        order_ref=(ChannelRef(platform=platform, shop=shop, external_id=order_external_id)
                   if order_external_id else None),
        merchant_sku=merchant_sku, type=kind, status=status, raw_status=status.value,
        region=region or ServiceRegion(province="浙江省", city="杭州市", district="西湖区"),
        created_at=created, updated_at=updated_at or created, **fields)


def make_technician(code: str = "T01", *, skills: tuple[ServiceOrderType, ...] = (ServiceOrderType.INSTALLATION,),
                    regions: tuple[str, ...] = ("杭州市",), **fields: Any) -> Technician:
    """A technician (defaults: installs in 杭州市, Monday to Saturday 09:00–18:00, 4 a day)."""
    return Technician(code=code, name=fields.pop("name", f"Tech {code}"), skills=frozenset(skills),
                      regions=regions, **fields)


async def store_technician(session: AsyncSession, technician: Technician) -> int:
    """Insert ``technician``'s row directly; returns its id."""
    now = datetime.now(UTC)
    result = await session.execute(insert(TechnicianRow).values(
        code=technician.code, name=technician.name, mobile=technician.mobile,
        skills=sorted(s.value for s in technician.skills), regions=list(technician.regions),
        work_days=list(technician.work_days), work_start=technician.work_start.strftime("%H:%M"),
        work_end=technician.work_end.strftime("%H:%M"), daily_capacity=technician.daily_capacity,
        active=technician.active, created_at=now, updated_at=now).returning(TechnicianRow.id))
    return int(result.scalar_one())


async def store_service_order(session: AsyncSession, *, shop: str = "tm", platform: str = "tmall",
                              external_id: str | None = None, status: ServiceOrderStatus = ServiceOrderStatus.NEW,
                              kind: ServiceOrderType = ServiceOrderType.INSTALLATION, origin: str = "channel",
                              created_at: datetime | None = None, **columns: Any) -> int:
    """Insert a ``service_orders`` row directly (any other column as a keyword); returns its id.
    Deadlines are left as given (none by default): tests of the SLA maths set them."""
    created = created_at or datetime.now(UTC)
    values: dict[str, Any] = {
        "platform": platform, "shop": shop, "external_id": external_id or f"WC{next(_ids):06d}",
        "type": kind.value, "status": status.value, "raw_status": status.value, "origin": origin,
        "region_province": "浙江省", "region_city": "杭州市", "region_district": "西湖区",
        "merchant_sku": "AC-1", "quantity": 1, "version": 1, "sla_state": "ok",
        "channel_updated_at": created, "created_at": created, "updated_at": created, "data": {},
    }
    values.update(columns)
    result = await session.execute(insert(ServiceOrderRow).values(**values).returning(ServiceOrderRow.id))
    return int(result.scalar_one())


WORK_HOURS = (time(9, 0), time(18, 0))
