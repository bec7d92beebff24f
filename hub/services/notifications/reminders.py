"""Unpaid-order reminders (催付) worked by people: the orders due for a reminder, marking them done,
and the list as CSV.

Neither Taobao/Tmall's TOP nor Douyin's open platform documents an API that messages a buyer about
an unpaid order for an ordinary app [U], so the hub does not send reminders itself: it lists orders
in ``pending_payment`` older than ``unpaid_reminder_after_minutes`` and younger than
``unpaid_auto_close_minutes`` (after that the platform closes them) that nobody marked reminded.
The list shows the order id, shop and amount; the buyer's contact stays in the platform's tools.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from hub.db.tables import OrderRow, UnpaidReminderRow
from hub.db.upsert import insert_ignore
from hub.errors import ConflictError, NotFoundError
from hub.services.access.scope import ShopLimited, check_shop, shop_condition
from hub.services.notifications.settings import NotificationsSection


@dataclass(frozen=True)
class DueReminder:
    order_id: int
    shop: str
    platform: str
    external_id: str
    created_at: datetime
    amount: Decimal
    currency: str


def window(section: NotificationsSection, now: datetime) -> tuple[datetime, datetime]:
    """(oldest, newest) creation time of an order due for a reminder at ``now``."""
    return (now - timedelta(minutes=section.unpaid_auto_close_minutes),
            now - timedelta(minutes=section.unpaid_reminder_after_minutes))


async def due(hub: Any, now: datetime, principal: ShopLimited | None = None, limit: int = 500) -> list[DueReminder]:
    oldest, newest = window(hub.config.notifications, now)
    async with hub.database().session() as session:
        rows = await session.execute(
            select(OrderRow.id, OrderRow.shop, OrderRow.platform, OrderRow.external_id, OrderRow.channel_created_at,
                   OrderRow.total_amount, OrderRow.currency)
            .outerjoin(UnpaidReminderRow, UnpaidReminderRow.order_id == OrderRow.id)
            .where(OrderRow.status == "pending_payment", OrderRow.channel_created_at > oldest,
                   OrderRow.channel_created_at <= newest, UnpaidReminderRow.order_id.is_(None),
                   shop_condition(OrderRow.shop, principal))
            .order_by(OrderRow.channel_created_at, OrderRow.id).limit(limit))
        return [DueReminder(*row) for row in rows]


async def mark_done(hub: Any, order_id: int, actor: str, principal: ShopLimited | None = None) -> None:
    """Record that ``actor`` reminded the buyer of ``order_id``; 404 outside the caller's shops."""
    async with hub.database().transaction() as session:
        found = (await session.execute(select(OrderRow.shop, OrderRow.status).where(OrderRow.id == order_id))).first()
        if found is None:
            raise NotFoundError(f"order {order_id} does not exist")
        check_shop(principal, found.shop, f"order {order_id}")
        if found.status != "pending_payment":
            raise ConflictError(f"order {order_id} is {found.status}, not pending_payment: no reminder needed")
        await session.execute(insert_ignore(UnpaidReminderRow, hub.database().dialect, ["order_id"])
                              .values(order_id=order_id, reminded_at=datetime.now(UTC), reminded_by=actor[:100]))


def to_csv(rows: list[DueReminder]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["order_id", "shop", "platform", "external_id", "created_at", "amount",
                                             "currency"])
    writer.writeheader()
    for row in rows:
        values = asdict(row)
        values["created_at"] = row.created_at.isoformat()
        values["amount"] = f"{row.amount:.2f}"
        writer.writerow(values)
    return out.getvalue()
