"""The scan the scheduler runs every minute: each configured rule's events found, filtered by shop,
and recorded as deliveries to the rule's channels (one insert for the whole scan).

Only events some rule asks for are looked for. Deduplication is the deliveries' unique key, so a
scan may overlap the previous one (or run on two workers at once) without sending anything twice.

Each scan looks back ``[notifications] lookback_hours`` or, when the last completed scan (its
watermark, kept as an idempotency-key row) is older than that — the hub was down for longer —
to that scan, at most ``MAX_CATCH_UP`` back: an outage does not lose the events it spanned.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.notifications import Notification, NotificationLevel
from hub.db import idempotency
from hub.services.notifications import deliveries, events, reminders

UNPAID_REMINDER_DUE = "unpaid_reminder_due"
#: Where the last completed scan's time is kept (``hub.db.idempotency``).
WATERMARK_KEY = "notifications:scan"
#: The furthest back a scan catching up after an outage looks (the longest ``lookback_hours``).
MAX_CATCH_UP = timedelta(days=14)
#: A scan catching up starts this long before the last completed one (a scan's own duration and
#: the workers' clocks).
CATCH_UP_MARGIN = timedelta(minutes=5)


async def _since(hub: Any, now: datetime) -> datetime:
    """Where this scan starts: ``lookback_hours`` back, or further to the last completed scan."""
    since = now - timedelta(hours=hub.config.notifications.lookback_hours)
    async with hub.database().session() as session:
        last = (await idempotency.recall(session, WATERMARK_KEY) or {}).get("at")
    if isinstance(last, str):
        caught_up = max(datetime.fromisoformat(last) - CATCH_UP_MARGIN, now - MAX_CATCH_UP)
        since = min(since, caught_up)
    return since


async def _record_watermark(hub: Any, now: datetime) -> None:
    async with hub.database().transaction() as session:
        await idempotency.remember(session, WATERMARK_KEY, {"at": now.isoformat()})


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
    since = await _since(hub, now)
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
    recorded = await deliveries.record(hub, pairs, now)
    await _record_watermark(hub, now)
    return recorded
