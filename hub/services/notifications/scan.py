"""The scan the scheduler runs every minute: each configured rule's events found, filtered by shop,
and recorded as deliveries to the rule's channels (one insert for the whole scan).

Only events some rule asks for are looked for. Deduplication is the deliveries' unique key, so a
scan may overlap the previous one (or run on two workers at once) without sending anything twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.notifications import Notification, NotificationLevel
from hub.services.notifications import deliveries, events, reminders

UNPAID_REMINDER_DUE = "unpaid_reminder_due"


async def _found(hub: Any, event: str, since: datetime, now: datetime, threshold: float | None) -> list[Notification]:
    if event == "unpaid_reminder_due":
        due = await reminders.due(hub, now)
        if not due:
            return []
        by_shop: dict[str, int] = {}
        for row in due:
            by_shop[row.shop] = by_shop.get(row.shop, 0) + 1
        hour = now.strftime("%Y%m%d%H")
        return [Notification(kind=UNPAID_REMINDER_DUE, subject=f"{count} unpaid order(s) to remind: {shop}",
                             level=NotificationLevel.INFO, text=f"{shop}: {count} order(s) await payment.",
                             link="/console/reminders", shop=shop, dedup_key=f"unpaid_reminder_due:{shop}:{hour}",
                             facts={"shop": shop, "count": count})
                for shop, count in sorted(by_shop.items())]
    async with hub.database().session() as session:
        return await events.SCANS[event](session, since, now, threshold)


async def scan(hub: Any, now: datetime | None = None) -> int:
    """Record the deliveries every rule calls for; how many were new."""
    section = hub.config.notifications
    now = now or datetime.now(UTC)
    since = now - timedelta(hours=section.lookback_hours)
    pairs: list[tuple[str, Notification]] = []
    cache: dict[tuple[str, float | None], list[Notification]] = {}
    for rule in section.rules:
        key = (rule.event, rule.threshold_hours)
        if key not in cache:
            cache[key] = await _found(hub, rule.event, since, now, rule.threshold_hours)
        for notification in cache[key]:
            if rule.shops and notification.shop is not None and notification.shop not in rule.shops:
                continue
            pairs += [(channel, notification) for channel in rule.channels
                      if section.channels[channel].enabled]
    return await deliveries.record(hub, pairs, now)
