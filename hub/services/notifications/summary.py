"""The daily summary: yesterday's counts (orders, holds, after-sales, deliveries that failed) sent
once a day at ``[notifications.daily_summary] at`` in the merchant's time zone.

``due`` says whether it is time (the scheduler asks every minute); the dedup key
``daily_summary:<local date>`` makes it once a day however many workers ask. Counts only.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from contracts.notifications import Notification
from hub.db.tables import AfterSaleRow, NotificationDeliveryRow, OrderHoldRow, OrderRow
from hub.services.notifications import deliveries

DAILY_SUMMARY = "daily_summary"


def local_now(hub: Any, now: datetime) -> datetime:
    return now.astimezone(ZoneInfo(hub.config.console.time_zone))


def due(hub: Any, now: datetime) -> bool:
    """Whether the summary's local time of day has come (today's may already be recorded: dedup)."""
    section = hub.config.notifications.daily_summary
    if not section.channels:
        return False
    hour, minute = (int(part) for part in section.at.split(":"))
    return local_now(hub, now).time() >= time(hour, minute)


async def build(hub: Any, now: datetime) -> Notification:
    local = local_now(hub, now)
    day_start = datetime.combine(local.date() - timedelta(days=1), time(0), local.tzinfo).astimezone(UTC)
    day_end = day_start + timedelta(days=1)
    async with hub.database().session() as session:
        orders = await session.scalar(select(func.count()).select_from(OrderRow).where(
            OrderRow.channel_created_at >= day_start, OrderRow.channel_created_at < day_end))
        holds = await session.scalar(select(func.count()).select_from(OrderHoldRow)
                                     .where(OrderHoldRow.created_at >= day_start, OrderHoldRow.created_at < day_end))
        cases = await session.scalar(select(func.count()).select_from(AfterSaleRow)
                                     .where(AfterSaleRow.created_at >= day_start, AfterSaleRow.created_at < day_end))
        failed = await session.scalar(select(func.count()).select_from(NotificationDeliveryRow)
                                      .where(NotificationDeliveryRow.status.in_(("failed", "dead"))))
    day = (local.date() - timedelta(days=1)).isoformat()
    facts = {"date": day, "orders": orders or 0, "holds": holds or 0, "aftersales": cases or 0,
             "deliveries_failing": failed or 0}
    text = (f"{day}: {facts['orders']} orders, {facts['holds']} held, {facts['aftersales']} after-sale cases; "
            f"{facts['deliveries_failing']} notifications failing.")
    return Notification(kind=DAILY_SUMMARY, subject=f"Daily summary {day}", text=text, facts=facts,
                        link="/console", dedup_key=f"daily_summary:{local.date().isoformat()}")


async def run(hub: Any, now: datetime | None = None) -> int:
    """Record today's summary for its channels when due; how many deliveries were new (0 or more)."""
    now = now or datetime.now(UTC)
    if not due(hub, now):
        return 0
    notification = await build(hub, now)
    channels = [c for c in hub.config.notifications.daily_summary.channels
                if hub.config.notifications.channels[c].enabled]
    return await deliveries.record(hub, [(c, notification) for c in channels], now)
