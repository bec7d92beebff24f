"""One outstanding stock push per listing, so an older value never lands after a newer one.

A push is *outstanding* from the moment a job claims the listing until its answer is recorded.
Two jobs for one shop may run at once (the per-shop flag is released when a job starts, so the
changes that arrive meanwhile get a job of their own); without a mark, the second job would push
a newer value while the first one's call is still on its way, slow or retrying after a throttle,
and the platform would apply the older value last while the hub records the newer one.

The mark is ``channel_stock.pending_key`` (the job's key for a shared listing, the planned push's
key for a partitioned one, see ``exposure``) with ``pending_at``, when it went out:

- a listing with a push outstanding is not claimed by another job; it stays dirty and its own job,
  once answered, has the next push scheduled;
- just before each call the job renews its marks (``pending_at`` = now) and drops the listings
  whose mark is no longer its own;
- an answer is recorded only by the job whose mark the listing still carries;
- a call whose outcome is unknown (a timeout, a lost reply, a transient fault after the inline
  retries) may still be applied, late: its mark stays, counted from when the hub gave up, and the
  listing's ``shown`` becomes unknown. It is pushed again (by the dirty sweep) only once
  ``rules.stock_unanswered_wait_s`` has passed, the time the platform may still take to apply it.
  The same wait covers a job that died holding marks: the sweep then makes those listings dirty.

Not for choosing values (``targets``, ``push``) or the partitioned accounting (``exposure``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import ChannelStockRow

if TYPE_CHECKING:
    from hub.config import HubConfig
    from hub.context import Hub


def _now() -> datetime:
    return datetime.now(UTC)


def wait(config: HubConfig) -> timedelta:
    """How long a push without an answer may still be applied (``rules.stock_unanswered_wait_s``)."""
    return timedelta(seconds=config.rules.stock_unanswered_wait_s)


def free(now: datetime, config: HubConfig) -> Any:
    """SQL condition: no push of the listing outstanding (none marked; a partitioned change to be
    resent with its key, which carries no time; or a mark older than the wait)."""
    row = ChannelStockRow
    return or_(row.pending_key.is_(None), row.pending_at.is_(None), row.pending_at <= now - wait(config))


async def hold(session: AsyncSession, row_ids: Iterable[int], key: str, at: datetime) -> None:
    """Mark shared listings just claimed by the job ``key`` (in the claim's transaction)."""
    ids = sorted(set(row_ids))
    if ids:
        await session.execute(update(ChannelStockRow).where(ChannelStockRow.id.in_(ids))
                              .values(pending_key=key, pending_at=at, pending_delta=None)
                              .execution_options(synchronize_session=False))


async def renew(hub: Hub, marks: Sequence[tuple[int, str]]) -> set[int]:
    """Just before a call goes out: ``pending_at`` = now for each (row id, key) still carrying that
    key; returns the row ids renewed. A row not returned was taken over by a newer push (this job
    outlived the wait): its value must not be sent."""
    if not marks:
        return set()
    ids = {row_id for row_id, _ in marks}
    keys = {key for _, key in marks}
    async with hub.database().transaction() as session:
        renewed = await session.execute(
            update(ChannelStockRow).where(ChannelStockRow.id.in_(sorted(ids)), ChannelStockRow.pending_key.in_(keys))
            .values(pending_at=_now()).returning(ChannelStockRow.id, ChannelStockRow.pending_key)
            .execution_options(synchronize_session=False))
        wanted = set(marks)
        return {row_id for row_id, key in renewed.all() if (row_id, key) in wanted}


async def release(session: AsyncSession, row_id: int, key: str) -> None:
    """The push is over (answered, refused, or never sent): clear the mark if it is still ``key``'s."""
    await session.execute(update(ChannelStockRow)
                          .where(ChannelStockRow.id == row_id, ChannelStockRow.pending_key == key)
                          .values(pending_key=None, pending_at=None, pending_delta=None)
                          .execution_options(synchronize_session=False))


async def keep_unknown(session: AsyncSession, row_id: int, key: str, at: datetime) -> None:
    """The outcome is unknown: the mark stays, counted from ``at``, and what the shop shows is
    unknown (the old value or the one sent), so the next push is never skipped as "already shown"."""
    row = ChannelStockRow
    await session.execute(update(row).where(row.id == row_id)
                          .values(shown=None,
                                  pending_at=case((row.pending_key == key, at), else_=row.pending_at))
                          .execution_options(synchronize_session=False))


async def superseded(session: AsyncSession, row_id: int, at: datetime) -> None:
    """An answer came back after a newer push took the listing over: the platform may have
    applied this older value last, so what it shows is unknown and the listing is pushed again."""
    row = ChannelStockRow
    await session.execute(update(row).where(row.id == row_id)
                          .values(shown=None, dirty=True,
                                  dirty_since=case((row.dirty_since.is_(None), at), else_=row.dirty_since))
                          .execution_options(synchronize_session=False))


async def mark_abandoned_dirty(hub: Hub) -> set[str]:
    """Listings still marked, and clean, well after the wait: the job holding them died (a worker
    killed mid-call), having claimed them. Dirty again with ``shown`` unknown, so the sweep pushes
    them; returns their shops."""
    row = ChannelStockRow
    now = _now()
    async with hub.database().transaction() as session:
        marked = await session.execute(
            update(row).where(row.dirty.is_(False), row.pending_key.is_not(None), row.pending_at.is_not(None),
                              row.pending_at <= now - wait(hub.config))
            .values(dirty=True, dirty_since=now, shown=None).returning(row.shop)
            .execution_options(synchronize_session=False))
        return set(marked.scalars())


async def any_dirty_and_free(hub: Hub, row_ids: Iterable[int]) -> bool:
    """Whether any of ``row_ids`` changed while its push was outstanding and can be pushed now."""
    ids = sorted(set(row_ids))
    if not ids:
        return False
    async with hub.database().session() as session:
        found = await session.scalar(select(ChannelStockRow.id).where(
            ChannelStockRow.id.in_(ids), ChannelStockRow.dirty.is_(True), free(_now(), hub.config)).limit(1))
    return found is not None
