"""Shop status at run time: paused (by the circuit breaker or lost authorisation) or active.

Configuration says which shops exist; this table says how each is doing right now and why, so an
operator sees "paused: session invalid (TOP 27)" instead of a shop silently hammered with calls.
A pause may carry an end time; once it has passed the shop counts as active again. Not for
deciding *when* to pause: ``hub.queue``'s breaker and the actors do that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import Shop, utcnow
from hub.db.upsert import upsert


@dataclass(frozen=True)
class ShopStatus:
    name: str
    platform: str
    status: str  # active | paused
    paused_reason: str | None = None
    paused_until: datetime | None = None

    @property
    def paused(self) -> bool:
        return self.status == "paused"


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _status(row: Shop, now: datetime) -> ShopStatus:
    if row.status == "paused" and (row.paused_until is None or row.paused_until > now):
        return ShopStatus(row.name, row.platform, "paused", row.paused_reason, row.paused_until)
    return ShopStatus(row.name, row.platform, "active")


async def ensure_shops(session: AsyncSession, shops: list[tuple[str, str]]) -> None:
    """Make sure a row exists for each (name, platform); keeps each shop's pause as it is."""
    if not shops:
        return
    now = utcnow()
    values = [{"name": name, "platform": platform, "status": "active", "created_at": now, "updated_at": now}
              for name, platform in dict(shops).items()]
    await session.execute(upsert(Shop, _dialect(session), values, conflict=["name"], update=["platform"]))


async def pause_shop(session: AsyncSession, name: str, reason: str, until: datetime | None = None) -> None:
    """Pause ``name`` with ``reason`` (shown to operators), until ``until`` or until resumed.

    A shop not yet known is recorded with an empty platform (``ensure_shops`` fills it in).
    """
    now = utcnow()
    values = {"name": name, "platform": "", "status": "paused", "paused_reason": reason, "paused_until": until,
              "created_at": now, "updated_at": now}
    await session.execute(
        upsert(Shop, _dialect(session), values, conflict=["name"], update=["status", "paused_reason", "paused_until"])
    )


async def resume_shop(session: AsyncSession, name: str) -> None:
    await session.execute(
        update(Shop).where(Shop.name == name).values(status="active", paused_reason=None, paused_until=None)
    )


async def shop_status(session: AsyncSession, name: str) -> ShopStatus | None:
    """The shop's status now, or None for a shop the table does not know."""
    row = await session.scalar(select(Shop).where(Shop.name == name).execution_options(populate_existing=True))
    return _status(row, utcnow()) if row is not None else None


async def all_shop_statuses(session: AsyncSession) -> list[ShopStatus]:
    now = utcnow()
    rows = (await session.execute(select(Shop).order_by(Shop.name))).scalars().all()
    return [_status(row, now) for row in rows]
