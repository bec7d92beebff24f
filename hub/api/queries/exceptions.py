"""Read-only queries for the exceptions queue: open holds grouped by code, the held orders under a
code (oldest hold first, cursor-paged), and dead letters (newest first, by actor, cursor-paged).

The only counting is the grouped count of open holds, served by the partial index
``ix_order_holds_open``; every list is a keyset page. Not for releasing holds or replaying dead
letters (``hub.services.orders``, ``hub.queue.dead_letter_replay``), nor for rendering.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.cursors import decode_id_cursor, encode_id_cursor
from hub.db.tables import DeadLetterRow, InboxRow, OrderHoldRow, OrderRow
from hub.errors import BadInputError

MAX_LIMIT = 200
_HOLDS_CURSOR = "hold:"
_LETTERS_CURSOR = "dead_letter:"


@dataclass(frozen=True)
class HoldGroup:
    """One hold code with how many holds of it are open and since when the oldest waits."""

    code: str
    count: int
    oldest: datetime | None


@dataclass(frozen=True)
class HeldOrder:
    hold_id: int
    code: str
    reason: str
    held_since: datetime
    order_id: int
    shop: str
    platform: str
    external_id: str
    status: str
    total_amount: Decimal
    currency: str


@dataclass(frozen=True)
class HeldPage:
    rows: list[HeldOrder]
    next_cursor: str | None


@dataclass(frozen=True)
class DeadLetterPage:
    rows: list[DeadLetterRow]
    next_cursor: str | None


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInputError(f"limit must be between 1 and {MAX_LIMIT}", field="query.limit")


def _aware(moment: datetime | None) -> datetime | None:
    # Aggregates (MIN) bypass the column type, so SQLite hands back naive UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


async def open_hold_groups(session: AsyncSession) -> list[HoldGroup]:
    """Every code with open holds, the most held first (then by code)."""
    count = func.count()
    rows = await session.execute(
        select(OrderHoldRow.code, count, func.min(OrderHoldRow.created_at))
        .where(OrderHoldRow.released_at.is_(None))
        .group_by(OrderHoldRow.code).order_by(count.desc(), OrderHoldRow.code)
    )
    return [HoldGroup(code, int(n), _aware(oldest)) for code, n, oldest in rows.all()]


async def held_orders(session: AsyncSession, code: str, *, limit: int = 50, cursor: str | None = None) -> HeldPage:
    """One page of the orders with an open ``code`` hold, the longest held first."""
    _check_limit(limit)
    stmt = (
        select(OrderHoldRow.id, OrderHoldRow.reason, OrderHoldRow.created_at, OrderRow.id, OrderRow.shop,
               OrderRow.platform, OrderRow.external_id, OrderRow.status, OrderRow.total_amount, OrderRow.currency)
        .join(OrderRow, OrderRow.id == OrderHoldRow.order_id)
        .where(OrderHoldRow.code == code, OrderHoldRow.released_at.is_(None))
    )
    if cursor:
        stmt = stmt.where(OrderHoldRow.id > decode_id_cursor(_HOLDS_CURSOR, cursor))
    found = (await session.execute(stmt.order_by(OrderHoldRow.id).limit(limit + 1))).all()
    rows = [HeldOrder(hold_id=h, code=code, reason=reason, held_since=since, order_id=o, shop=shop, platform=platform,
                      external_id=external_id, status=status, total_amount=total, currency=currency)
            for h, reason, since, o, shop, platform, external_id, status, total, currency in found[:limit]]
    more = len(found) > limit
    return HeldPage(rows, encode_id_cursor(_HOLDS_CURSOR, rows[-1].hold_id) if more and rows else None)


async def dead_letter_page(
    session: AsyncSession, *, actor: str | None = None, include_replayed: bool = False, limit: int = 50,
    cursor: str | None = None,
) -> DeadLetterPage:
    """One page of dead letters, newest first; replayed ones only when asked for."""
    _check_limit(limit)
    stmt = select(DeadLetterRow)
    if actor:
        stmt = stmt.where(DeadLetterRow.actor == actor)
    if not include_replayed:
        stmt = stmt.where(DeadLetterRow.replayed_at.is_(None))
    if cursor:
        stmt = stmt.where(DeadLetterRow.id < decode_id_cursor(_LETTERS_CURSOR, cursor))
    found = list((await session.execute(stmt.order_by(DeadLetterRow.id.desc()).limit(limit + 1))).scalars())
    rows = found[:limit]
    more = len(found) > limit
    return DeadLetterPage(rows, encode_id_cursor(_LETTERS_CURSOR, rows[-1].id) if more and rows else None)


async def source_message(session: AsyncSession, inbox_id: int) -> InboxRow | None:
    """The inbox row a dead letter came from (to show whether a replay got it done)."""
    return await session.get(InboxRow, inbox_id, populate_existing=True)
