"""Keeping the rollups: ``refresh`` recomputes, in one transaction, only the local days whose orders
(or their cases or parcels) changed since the watermark — DELETE those days' rows, INSERT … SELECT
… GROUP BY them (``rollups``) — and moves the watermark; with no usable rollups it rebuilds them
all (``rebuild``). ``invalidate`` drops the state when something not tracked by ``updated_at``
changed (a cost price): reports read ``orders`` until the next refresh rebuilds.
Not for reading (``sources``, ``queries``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.tables import (
    OrderRow,
    ReportBuyerDaysRow,
    ReportDayOrdersRow,
    ReportDaySkusRow,
    ReportRollupStateRow,
    utcnow,
)
from hub.services.reports import rollups, sources
from hub.services.reports.periods import dialect_of
from hub.services.reports.profit import freight_fingerprint
from hub.services.reports.settings import ReportsSection

TABLES = (ReportDayOrdersRow, ReportDaySkusRow, ReportBuyerDaysRow)


@dataclass(frozen=True)
class Refreshed:
    """What a refresh did: ``rebuilt`` everything, or recomputed ``days`` local days."""

    rebuilt: bool
    days: int


async def _fill(session: AsyncSession, days: rollups.Days, settings: ReportsSection) -> None:
    dialect = dialect_of(session)
    for table, query in ((ReportDayOrdersRow, rollups.order_days(days, dialect, settings)),
                         (ReportDaySkusRow, rollups.sku_days(days, dialect)),
                         (ReportBuyerDaysRow, rollups.buyer_days(days, dialect))):
        names = [c.name for c in query.selected_columns]
        await session.execute(insert(table).from_select(names, query))


async def _mark(session: AsyncSession, found: ReportRollupStateRow | None, zone: ZoneInfo,
                settings: ReportsSection, rolled_to: object) -> None:
    values = {"time_zone": zone.key, "settings_hash": freight_fingerprint(settings), "rolled_to": rolled_to,
              "refreshed_at": utcnow()}
    if found is None:
        session.add(ReportRollupStateRow(name=sources.STATE, **values))
    else:
        for name, value in values.items():
            setattr(found, name, value)


async def rebuild(session: AsyncSession, settings: ReportsSection, zone: ZoneInfo) -> Refreshed:
    """Every rollup row again from ``orders``, in the caller's transaction."""
    started = utcnow()
    found = await sources.state(session, lock=True)
    for table in TABLES:
        await session.execute(delete(table))
    low, high = (await session.execute(
        select(func.min(OrderRow.channel_created_at), func.max(OrderRow.channel_created_at)))).one()
    count = 0
    if low is not None:
        first, last = low.astimezone(zone).date(), high.astimezone(zone).date()
        await _fill(session, rollups.Days.between(first, last, zone), settings)
        count = (last - first).days + 1
    await _mark(session, found, zone, settings, started)
    return Refreshed(rebuilt=True, days=count)


async def refresh(session: AsyncSession, settings: ReportsSection, zone: ZoneInfo) -> Refreshed:
    """Recompute the days changed since the watermark (or everything, if the rollups are not usable),
    in the caller's transaction."""
    started = utcnow()
    found = await sources.state(session, lock=True)
    if found is None or found.time_zone != zone.key or found.settings_hash != freight_fingerprint(settings):
        return await rebuild(session, settings, zone)
    changed: list[date] = await sources.changed_days(session, found.rolled_to - sources.OVERLAP, zone)
    days = rollups.Days.of(changed, zone)
    if days is not None:
        for table in TABLES:
            for chunk in range(0, len(changed), 500):
                await session.execute(delete(table).where(table.day.in_(changed[chunk:chunk + 500])))
        await _fill(session, await rollups.bounded(session, days), settings)
    await _mark(session, found, zone, settings, started)
    return Refreshed(rebuilt=False, days=len(changed))


async def invalidate(session: AsyncSession) -> None:
    """Stop reading the rollups until the next refresh rebuilds them (a cost price changed)."""
    await session.execute(delete(ReportRollupStateRow).where(ReportRollupStateRow.name == sources.STATE))
