"""The events rules can raise, each found by one set-based query over the database.

Each function returns ``contracts.Notification`` objects with a stable ``dedup_key`` (the same
event found by the next scan, or by another worker, has the same key, so it is delivered once per
channel). Notifications carry ids, shop names, codes and counts only: never a buyer's name, phone
or address (the hold *reason* text is not copied either: rules may quote order data in it).
Scans look back ``[notifications] lookback_hours`` (or to the last completed scan after an outage,
``hub.services.notifications.scan``); the deliveries' unique key deduplicates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts.notifications import Notification, NotificationLevel
from hub.db.tables import (
    AfterSaleRow,
    DeadLetterRow,
    FulfilmentExceptionRow,
    OrderHoldRow,
    OrderRow,
    ServiceOrderRow,
    Shop,
    SkuRow,
    StockRow,
)

#: The notification kinds these scans raise (the rule events of the same names).
DEADLINE_LAPSING = "deadline_lapsing"
LOW_STOCK = "low_stock"
ORDER_HELD = "order_held"
PARCEL_STUCK = "parcel_stuck"
REFUND_REQUESTED = "refund_requested"
SHOP_PAUSED = "shop_paused"
SYNC_FAILING = "sync_failing"
#: After-sale statuses a person still has to act on (a deadline can lapse).
OPEN_AFTERSALE = ("requested", "approved", "awaiting_return", "returned", "rejected")
OPEN_SERVICE_ORDER = ("new", "assigned", "booked", "on_site")
#: A scan reports at most this many events of one kind (the rest wait for the next scan).
LIMIT = 500

Scan = Callable[[AsyncSession, datetime, datetime, float | None], Awaitable[list[Notification]]]


async def order_held(session: AsyncSession, since: datetime, now: datetime, _: float | None) -> list[Notification]:
    rows = await session.execute(
        select(OrderHoldRow.id, OrderHoldRow.code, OrderRow.id, OrderRow.shop, OrderRow.external_id)
        .join(OrderRow, OrderRow.id == OrderHoldRow.order_id)
        .where(OrderHoldRow.created_at >= since, OrderHoldRow.released_at.is_(None))
        .order_by(OrderHoldRow.id).limit(LIMIT))
    return [Notification(kind=ORDER_HELD, subject=f"Order {ext} held: {code}", level=NotificationLevel.WARNING,
                         text=f"Order {ext} of {shop} is on hold ({code}) and will not ship until released.",
                         link=f"/console/orders/{order_id}", shop=shop, dedup_key=f"order_held:{hold_id}",
                         facts={"order_id": order_id, "order": ext, "hold": code, "hold_id": hold_id})
            for hold_id, code, order_id, shop, ext in rows]


async def refund_requested(session: AsyncSession, since: datetime, now: datetime,
                           _: float | None) -> list[Notification]:
    rows = await session.execute(
        select(AfterSaleRow.id, AfterSaleRow.shop, AfterSaleRow.external_id, AfterSaleRow.type,
               AfterSaleRow.refund_amount, AfterSaleRow.currency, AfterSaleRow.order_external_id)
        .where(AfterSaleRow.created_at >= since).order_by(AfterSaleRow.id).limit(LIMIT))
    return [Notification(kind=REFUND_REQUESTED, subject=f"After-sale {ext} ({kind}) requested",
                         text=f"{shop}: {kind} for order {order_ext}"
                              + (f", {amount:.2f} {currency}" if amount is not None else "") + ".",
                         link=f"/console/aftersales/{case_id}", shop=shop, dedup_key=f"refund_requested:{case_id}",
                         facts={"aftersale_id": case_id, "type": kind, "order": order_ext,
                                "amount": None if amount is None else str(amount), "currency": currency})
            for case_id, shop, ext, kind, amount, currency, order_ext in rows]


async def low_stock(session: AsyncSession, since: datetime, now: datetime, _: float | None) -> list[Notification]:
    available = func.coalesce(func.sum(StockRow.on_hand - StockRow.reserved), 0) - SkuRow.safety_stock
    rows = await session.execute(
        select(SkuRow.merchant_sku, available, SkuRow.low_stock_threshold)
        .outerjoin(StockRow, StockRow.merchant_sku == SkuRow.merchant_sku)
        .where(SkuRow.low_stock_threshold.is_not(None), SkuRow.active.is_(True), SkuRow.is_bundle.is_(False))
        .group_by(SkuRow.merchant_sku, SkuRow.safety_stock, SkuRow.low_stock_threshold)
        .having(available <= SkuRow.low_stock_threshold).order_by(SkuRow.merchant_sku).limit(LIMIT))
    day = now.date().isoformat()
    return [Notification(kind=LOW_STOCK, subject=f"Low stock: {sku}", level=NotificationLevel.WARNING,
                         text=f"{sku}: {max(int(left), 0)} available, threshold {threshold}.",
                         link="/console/stock", dedup_key=f"low_stock:{sku}:{day}",
                         facts={"sku": sku, "available": max(int(left), 0), "threshold": threshold})
            for sku, left, threshold in rows]


async def deadline_lapsing(session: AsyncSession, since: datetime, now: datetime,
                           hours: float | None) -> list[Notification]:
    until = now + timedelta(hours=hours or 12.0)
    cases = await session.execute(
        select(AfterSaleRow.id, AfterSaleRow.shop, AfterSaleRow.external_id, AfterSaleRow.deadline)
        .where(AfterSaleRow.status.in_(OPEN_AFTERSALE), AfterSaleRow.deadline.is_not(None),
               AfterSaleRow.deadline > now, AfterSaleRow.deadline <= until)
        .order_by(AfterSaleRow.deadline).limit(LIMIT))
    found = [Notification(kind=DEADLINE_LAPSING,
                          subject=f"After-sale {ext}: platform decides at {due:%Y-%m-%d %H:%M} UTC",
                          level=NotificationLevel.WARNING,
                          text=f"{shop}: decide before the deadline or the platform will.",
                          link=f"/console/aftersales/{case_id}", shop=shop,
                          dedup_key=f"deadline_lapsing:aftersale:{case_id}:{due:%Y%m%d%H%M}",
                          facts={"aftersale_id": case_id, "deadline": due.isoformat() if due else None})
             for case_id, shop, ext, due in cases]
    orders = await session.execute(
        select(ServiceOrderRow.id, ServiceOrderRow.shop, ServiceOrderRow.external_id, ServiceOrderRow.due_at)
        .where(ServiceOrderRow.status.in_(OPEN_SERVICE_ORDER), ServiceOrderRow.due_at.is_not(None),
               ServiceOrderRow.due_at > now, ServiceOrderRow.due_at <= until)
        .order_by(ServiceOrderRow.due_at).limit(LIMIT))
    found += [Notification(kind=DEADLINE_LAPSING, subject=f"Service order {ext} due at {due:%Y-%m-%d %H:%M} UTC",
                           level=NotificationLevel.WARNING, text=f"{shop}: the next milestone is due soon.",
                           link=f"/console/service-orders/{so_id}", shop=shop,
                           dedup_key=f"deadline_lapsing:service_order:{so_id}:{due:%Y%m%d%H%M}",
                           facts={"service_order_id": so_id, "due_at": due.isoformat() if due else None})
              for so_id, shop, ext, due in orders]
    return found


async def parcel_stuck(session: AsyncSession, since: datetime, now: datetime, _: float | None) -> list[Notification]:
    rows = await session.execute(
        select(FulfilmentExceptionRow.id, FulfilmentExceptionRow.kind, FulfilmentExceptionRow.subject,
               OrderRow.id, OrderRow.shop, OrderRow.external_id)
        .join(OrderRow, OrderRow.id == FulfilmentExceptionRow.order_id)
        .where(FulfilmentExceptionRow.resolved_at.is_(None), FulfilmentExceptionRow.raised_at >= since)
        .order_by(FulfilmentExceptionRow.id).limit(LIMIT))
    return [Notification(kind=PARCEL_STUCK, subject=f"Order {ext}: {kind.replace('_', ' ')}",
                         level=NotificationLevel.WARNING, text=f"{shop}: {subject} needs a look ({kind}).",
                         link="/console/exceptions", shop=shop, dedup_key=f"parcel_stuck:{exc_id}",
                         facts={"exception_id": exc_id, "kind": kind, "order_id": order_id, "order": ext})
            for exc_id, kind, subject, order_id, shop, ext in rows]


async def sync_failing(session: AsyncSession, since: datetime, now: datetime, _: float | None) -> list[Notification]:
    rows = await session.execute(
        select(DeadLetterRow.actor, func.count(), func.max(DeadLetterRow.id))
        .where(DeadLetterRow.replayed_at.is_(None), DeadLetterRow.created_at >= since)
        .group_by(DeadLetterRow.actor).order_by(DeadLetterRow.actor))
    hour = now.strftime("%Y%m%d%H")
    return [Notification(kind=SYNC_FAILING, subject=f"{count} failed job(s): {actor}",
                         level=NotificationLevel.CRITICAL,
                         text=f"{count} {actor} job(s) gave up and wait in the dead letters.",
                         link="/console/exceptions", dedup_key=f"sync_failing:{actor}:{hour}",
                         facts={"actor": actor, "count": count, "latest_id": latest})
            for actor, count, latest in rows]


async def shop_paused(session: AsyncSession, since: datetime, now: datetime, _: float | None) -> list[Notification]:
    rows = await session.execute(
        select(Shop.name, Shop.updated_at, Shop.paused_until)
        .where(and_(Shop.status == "paused", Shop.updated_at >= since)).order_by(Shop.name))
    return [Notification(kind=SHOP_PAUSED, subject=f"Shop {name} paused", level=NotificationLevel.CRITICAL,
                         text=f"{name} is paused" + (f" until {until:%Y-%m-%d %H:%M} UTC" if until else "")
                              + "; its orders and stock are not synchronised.",
                         link="/console/shops", shop=name, dedup_key=f"shop_paused:{name}:{at:%Y%m%d%H%M%S}",
                         facts={"shop": name, "paused_until": until.isoformat() if until else None})
            for name, at, until in rows]


async def unpaid_reminder_due(session: AsyncSession, since: datetime, now: datetime,
                              _: float | None) -> list[Notification]:
    """Filled in by ``scan`` from ``reminders.due_counts`` (it needs the reminder settings)."""
    return []


SCANS: dict[str, Scan] = {
    "order_held": order_held, "refund_requested": refund_requested, "low_stock": low_stock,
    "deadline_lapsing": deadline_lapsing, "parcel_stuck": parcel_stuck, "sync_failing": sync_failing,
    "shop_paused": shop_paused, "unpaid_reminder_due": unpaid_reminder_due,
}
