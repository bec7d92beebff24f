"""After-sale intake: stores refund/return/exchange cases and service work orders as platforms report them.

Upsert by (platform, shop, external id); status moves only forward along the contracts' state
machines (a stale report is ignored, keeping the newer copy); the order they belong to is linked
when known. Stock consequences (release or restock) are the inventory service's, triggered
through the outbox. Not for fetching from partners.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.aftersales import (
    AfterSale,
    AfterSaleStatus,
    ServiceOrder,
    ServiceOrderStatus,
    aftersale_can_move,
    service_order_can_move,
)
from hub.db import bindings, outbox
from hub.db.tables import AfterSaleRow, ServiceOrderRow
from hub.db.upsert import insert_ignore


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind else "sqlite"


async def apply_aftersale(session: AsyncSession, case: AfterSale, *, cause: str) -> tuple[int, bool]:
    """Create or advance an after-sale case; returns (id, changed)."""
    order_id = await bindings.lookup(session, "order", case.order_ref.platform, case.order_ref.shop,
                                     case.order_ref.external_id)
    values: dict[str, Any] = {
        "platform": case.ref.platform,
        "shop": case.ref.shop,
        "external_id": case.ref.external_id,
        "order_id": order_id,
        "order_external_id": case.order_ref.external_id,
        "type": case.type.value,
        "status": case.status.value,
        "raw_status": case.raw_status,
        "channel_updated_at": case.updated_at.astimezone(UTC),
        "data": case.model_dump(mode="json"),
    }
    inserted = await session.execute(
        insert_ignore(AfterSaleRow, _dialect(session)).values(**values).returning(AfterSaleRow.id)
    )
    new_id = inserted.scalar_one_or_none()
    if new_id is not None:
        await bindings.bind(session, "aftersale", case.ref.platform, case.ref.shop, case.ref.external_id, new_id)
        outbox.add(session, "aftersale_changed", new_id, order_id, case.status.value, cause)
        await _intercept(session, case, order_id)
        return new_id, True
    row = (
        await session.execute(
            select(AfterSaleRow).where(
                AfterSaleRow.platform == case.ref.platform,
                AfterSaleRow.shop == case.ref.shop,
                AfterSaleRow.external_id == case.ref.external_id,
            )
        )
    ).scalar_one()
    current = AfterSaleStatus(row.status)
    if not aftersale_can_move(current, case.status):
        return row.id, False
    await session.execute(
        update(AfterSaleRow).where(AfterSaleRow.id == row.id, AfterSaleRow.status == current.value)
        .values(**{k: v for k, v in values.items() if k not in ("platform", "shop", "external_id", "order_id")},
                order_id=order_id or row.order_id, updated_at=datetime.now(UTC))
    )
    outbox.add(session, "aftersale_changed", row.id, order_id or row.order_id, case.status.value, cause)
    await _intercept(session, case, order_id or row.order_id)
    return row.id, True


async def _intercept(session: AsyncSession, case: AfterSale, order_id: int | None) -> None:
    """A refund before shipment holds the order and stops its shipment, in this transaction
    (``hub.services.fulfilment.interception``); a withdrawn one lifts that hold."""
    from hub.services.fulfilment import interception

    await interception.on_aftersale(session, case, order_id)


async def apply_service_order(session: AsyncSession, work: ServiceOrder, *, cause: str) -> tuple[int, bool]:
    """Create or advance a service work order; returns (id, changed)."""
    order_id = None
    if work.order_ref is not None:
        order_id = await bindings.lookup(session, "order", work.order_ref.platform, work.order_ref.shop,
                                         work.order_ref.external_id)
    values: dict[str, Any] = {
        "platform": work.ref.platform,
        "shop": work.ref.shop,
        "external_id": work.ref.external_id,
        "order_id": order_id,
        "type": work.type.value,
        "status": work.status.value,
        "raw_status": work.raw_status,
        "assignee": work.assignee,
        "sla_deadline": work.sla_deadline.astimezone(UTC) if work.sla_deadline else None,
        "channel_updated_at": work.updated_at.astimezone(UTC),
        "data": work.model_dump(mode="json"),
    }
    inserted = await session.execute(
        insert_ignore(ServiceOrderRow, _dialect(session)).values(**values).returning(ServiceOrderRow.id)
    )
    new_id = inserted.scalar_one_or_none()
    if new_id is not None:
        await bindings.bind(session, "service_order", work.ref.platform, work.ref.shop, work.ref.external_id, new_id)
        return new_id, True
    row = (
        await session.execute(
            select(ServiceOrderRow).where(
                ServiceOrderRow.platform == work.ref.platform,
                ServiceOrderRow.shop == work.ref.shop,
                ServiceOrderRow.external_id == work.ref.external_id,
            )
        )
    ).scalar_one()
    current = ServiceOrderStatus(row.status)
    if not service_order_can_move(current, work.status):
        # Same status may still carry a new assignee or deadline from a newer report.
        if work.status == current and work.updated_at.astimezone(UTC) > row.channel_updated_at:
            await session.execute(update(ServiceOrderRow).where(ServiceOrderRow.id == row.id).values(
                assignee=work.assignee, sla_deadline=values["sla_deadline"],
                channel_updated_at=values["channel_updated_at"], data=values["data"]))
            return row.id, True
        return row.id, False
    await session.execute(
        update(ServiceOrderRow).where(ServiceOrderRow.id == row.id, ServiceOrderRow.status == current.value)
        .values(**{k: v for k, v in values.items() if k not in ("platform", "shop", "external_id", "order_id")},
                order_id=order_id or row.order_id)
    )
    return row.id, True
