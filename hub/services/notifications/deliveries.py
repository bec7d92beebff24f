"""Deliveries: a notification recorded once per channel, sent, retried with backoff, recorded.

``record`` inserts many in one ``INSERT … ON CONFLICT DO NOTHING`` (unique channel + dedup key,
so a repeated event is not sent twice). ``send_due`` claims each due delivery with a conditional
UPDATE (two workers never send the same one), calls its channel's notifier, and records the
outcome: ``sent``; ``failed`` with the next try at a backed-off time; ``dead`` after a permanent
refusal or ``max_attempts``. One channel failing never holds up the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, select, update

from contracts.notifications import Notification, NotificationLevel
from hub.db.tables import NotificationDeliveryRow
from hub.db.upsert import insert_ignore
from hub.errors import ConfigError, HubError, NotFoundError, PermanentError
from hub.services.access.scope import ShopLimited, check_shop, shop_condition
from hub.services.notifications import channels

log = structlog.get_logger(__name__)

PENDING, SENT, FAILED, DEAD = "pending", "sent", "failed", "dead"
STATUSES = (PENDING, SENT, FAILED, DEAD)
#: A claimed delivery is not claimed again for this long (a worker died mid-send: retried after it).
LEASE = timedelta(minutes=5)
BATCH = 100

TEST_KIND = "test"


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … capped at one hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def row_of(channel: str, notification: Notification, now: datetime) -> dict[str, Any]:
    return {"channel": channel, "kind": notification.kind, "dedup_key": notification.dedup_key,
            "shop": notification.shop, "level": str(notification.level), "subject": notification.subject,
            "text": notification.text, "link": notification.link, "facts": notification.facts, "status": PENDING,
            "attempts": 0, "next_attempt_at": now, "created_at": now}


async def record(hub: Any, pairs: list[tuple[str, Notification]], now: datetime | None = None) -> int:
    """Record (channel, notification) pairs not recorded before, in one statement; how many were new."""
    if not pairs:
        return 0
    now = now or datetime.now(UTC)
    rows = list({(c, n.dedup_key): row_of(c, n, now) for c, n in pairs}.values())
    async with hub.database().transaction() as session:
        stmt = insert_ignore(NotificationDeliveryRow, hub.database().dialect, ["channel", "dedup_key"])
        result = await session.execute(stmt.returning(NotificationDeliveryRow.id), rows)
        return len(result.all())


def notification_of(row: NotificationDeliveryRow) -> Notification:
    return Notification(kind=row.kind, subject=row.subject, text=row.text, level=NotificationLevel(row.level),
                        link=row.link, facts=row.facts or {}, dedup_key=row.dedup_key, shop=row.shop)


async def _claim(hub: Any, delivery_id: int, now: datetime) -> NotificationDeliveryRow | None:
    async with hub.database().transaction() as session:
        claimed = await session.execute(
            update(NotificationDeliveryRow)
            .where(NotificationDeliveryRow.id == delivery_id, NotificationDeliveryRow.status.in_((PENDING, FAILED)),
                   NotificationDeliveryRow.next_attempt_at <= now)
            .values(next_attempt_at=now + LEASE).execution_options(synchronize_session=False))
        if getattr(claimed, "rowcount", 0) != 1:
            return None
        return (await session.execute(select(NotificationDeliveryRow)
                                      .where(NotificationDeliveryRow.id == delivery_id))).scalar_one()


async def send_one(hub: Any, delivery_id: int, now: datetime | None = None) -> str | None:
    """Send one due delivery; its new status, or None when it was not due (or another worker has it)."""
    now = now or datetime.now(UTC)
    row = await _claim(hub, delivery_id, now)
    if row is None:
        return None
    attempts = row.attempts + 1
    values: dict[str, Any] = {"attempts": attempts}
    try:
        if row.channel not in hub.config.notifications.channels:
            raise PermanentError(f"channel {row.channel!r} is no longer configured")
        notifier = channels.build_notifier(hub, row.channel)
        await notifier.send(notification_of(row))
    except (PermanentError, ConfigError) as exc:
        values |= {"status": DEAD, "last_error": str(exc)[:1000]}
    except Exception as exc:  # a transient fault, or a notifier bug: both are retried, recorded
        error = str(exc) if isinstance(exc, HubError) else f"{type(exc).__name__}: {exc}"
        status = DEAD if attempts >= hub.config.notifications.max_attempts else FAILED
        values |= {"status": status, "last_error": error[:1000], "next_attempt_at": now + backoff(attempts)}
    else:
        values |= {"status": SENT, "sent_at": datetime.now(UTC), "last_error": None}
    async with hub.database().transaction() as session:
        await session.execute(update(NotificationDeliveryRow).where(NotificationDeliveryRow.id == delivery_id)
                              .values(**values).execution_options(synchronize_session=False))
    log.info("notification.delivery", delivery_id=delivery_id, channel=row.channel, kind=row.kind,
             status=values["status"], attempts=attempts)
    return str(values["status"])


async def due_ids(hub: Any, now: datetime, limit: int = BATCH) -> list[int]:
    async with hub.database().session() as session:
        return list((await session.execute(
            select(NotificationDeliveryRow.id)
            .where(NotificationDeliveryRow.status.in_((PENDING, FAILED)),
                   NotificationDeliveryRow.next_attempt_at <= now)
            .order_by(NotificationDeliveryRow.next_attempt_at, NotificationDeliveryRow.id).limit(limit))).scalars())


async def send_due(hub: Any, now: datetime | None = None) -> dict[str, int]:
    """Send every due delivery (up to a batch); counts by resulting status."""
    now = now or datetime.now(UTC)
    counts: dict[str, int] = {}
    for delivery_id in await due_ids(hub, now):
        status = await send_one(hub, delivery_id, now)
        if status is not None:
            counts[status] = counts.get(status, 0) + 1
    return counts


async def resend(hub: Any, delivery_id: int, actor: str, principal: ShopLimited | None = None) -> None:
    """Make a delivery due again now (sent, failed or dead alike), attributed to ``actor``."""
    async with hub.database().transaction() as session:
        shop = (await session.execute(select(NotificationDeliveryRow.shop)
                                      .where(NotificationDeliveryRow.id == delivery_id))).first()
        if shop is None:
            raise NotFoundError(f"delivery {delivery_id} does not exist")
        check_shop(principal, shop[0], f"delivery {delivery_id}")
        await session.execute(update(NotificationDeliveryRow).where(NotificationDeliveryRow.id == delivery_id)
                              .values(status=PENDING, attempts=0, next_attempt_at=datetime.now(UTC),
                                      resent_by=actor[:100])
                              .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class DeliveryView:
    id: int
    channel: str
    kind: str
    shop: str | None
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime


async def listing(hub: Any, principal: ShopLimited | None = None, *, status: str | None = None,
                  channel: str | None = None, limit: int = 200) -> list[DeliveryView]:
    """Newest first; a caller limited to some shops sees their shops' deliveries and shop-less ones
    (low stock, failing jobs) only when unlimited."""
    conditions = [shop_condition(NotificationDeliveryRow.shop, principal)]
    if status:
        conditions.append(NotificationDeliveryRow.status == status)
    if channel:
        conditions.append(NotificationDeliveryRow.channel == channel)
    async with hub.database().session() as session:
        rows = await session.execute(
            select(NotificationDeliveryRow.id, NotificationDeliveryRow.channel, NotificationDeliveryRow.kind,
                   NotificationDeliveryRow.shop, NotificationDeliveryRow.subject, NotificationDeliveryRow.status,
                   NotificationDeliveryRow.attempts, NotificationDeliveryRow.last_error,
                   NotificationDeliveryRow.created_at, NotificationDeliveryRow.sent_at,
                   NotificationDeliveryRow.next_attempt_at)
            .where(and_(*conditions)).order_by(NotificationDeliveryRow.id.desc()).limit(limit))
        return [DeliveryView(*row) for row in rows]


async def send_test(hub: Any, name: str) -> None:
    """Send a test notification to channel ``name`` now (not recorded); the notifier's error if it fails."""
    notifier = channels.build_notifier(hub, name)
    now = datetime.now(UTC)
    await notifier.send(Notification(kind=TEST_KIND, subject="Connector Hub test notification",
                                     text=f"Channel {name} works ({now:%Y-%m-%d %H:%M} UTC).",
                                     dedup_key=f"test:{name}:{now.timestamp()}"))
