"""Where a report's day rows come from: the rollups for the days they are complete for, and — so
a report is never stale — ``orders`` directly (``rollups``' SELECTs) for the days changed since the
refresh's watermark; ``orders`` alone when there are no usable rollups (never refreshed, built in
another time zone or with other freight settings, or dropped after a cost price changed).
Read-only. Not for refreshing (``refresh``) nor summing (``queries``, ``buyers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, union, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from hub.db.tables import (
    AfterSaleRow,
    OrderRow,
    ParcelRow,
    ReportBuyerDaysRow,
    ReportDayOrdersRow,
    ReportDaySkusRow,
    ReportRollupStateRow,
)
from hub.services.reports import rollups
from hub.services.reports.periods import Range, bucket_sql, dialect_of
from hub.services.reports.profit import freight_fingerprint
from hub.services.reports.settings import ReportsSection

STATE = "reports"
#: Changes this long before the watermark are read again: a transaction that stamped ``updated_at``
#: before the refresh's watermark may commit after the refresh read.
OVERLAP = timedelta(minutes=2)


@dataclass(frozen=True)
class Coverage:
    """Whether the rollups may be read, and the local days that changed since they were."""

    rolled: bool
    dirty: tuple[date, ...] = ()


async def state(session: AsyncSession, *, lock: bool = False) -> ReportRollupStateRow | None:
    query = select(ReportRollupStateRow).where(ReportRollupStateRow.name == STATE)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def changed_days(session: AsyncSession, since: datetime, zone: ZoneInfo) -> list[date]:
    """The local days (creation days) of orders changed, or whose cases or parcels changed, after ``since``."""
    ids = union(select(OrderRow.id).where(OrderRow.updated_at > since),
                select(AfterSaleRow.order_id).where(AfterSaleRow.updated_at > since,
                                                    AfterSaleRow.order_id.is_not(None)),
                select(ParcelRow.order_id).where(ParcelRow.updated_at > since)).subquery()
    changed = OrderRow.id.in_(select(ids.c[0]))
    low, high = (await session.execute(
        select(func.min(OrderRow.channel_created_at), func.max(OrderRow.channel_created_at)).where(changed))).one()
    if low is None:
        return []
    span = Range(_local(low, zone), _local(high, zone), zone)
    days = rollups.Days.between(span.first, span.last, zone)
    day = bucket_sql(OrderRow.channel_created_at, span, "day", dialect_of(session))
    found = (await session.execute(select(day).where(changed, days.where(OrderRow.channel_created_at))
                                   .distinct())).scalars()
    return sorted(date.fromisoformat(str(d)) for d in found)


def _local(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


async def coverage(session: AsyncSession, settings: ReportsSection, zone: ZoneInfo) -> Coverage:
    found = await state(session)
    if found is None or found.time_zone != zone.key or found.settings_hash != freight_fingerprint(settings):
        return Coverage(rolled=False)
    return Coverage(rolled=True, dirty=tuple(await changed_days(session, found.rolled_to - OVERLAP, zone)))


async def order_rows(session: AsyncSession, span: Range, settings: ReportsSection, *, per_sku: bool) -> Any:
    """A subquery of day rows (``report_day_orders`` or ``report_day_skus`` columns) for ``span``'s days."""
    dialect = dialect_of(session)
    found = await coverage(session, settings, span.zone)

    def live(days: rollups.Days) -> Any:
        return rollups.sku_days(days, dialect) if per_sku else rollups.order_days(days, dialect, settings)

    name = "report_live_skus" if per_sku else "report_live_orders"
    if not found.rolled:
        return (await _once(session, live(rollups.Days.between(span.first, span.last, span.zone)), name)).subquery()
    table = ReportDaySkusRow if per_sku else ReportDayOrdersRow
    dirty = tuple(d for d in found.dirty if span.first <= d <= span.last)
    in_span = (table.day >= span.first, table.day <= span.last)
    if not dirty:
        return select(*table.__table__.columns).where(*in_span).subquery()
    changed = rollups.Days.of(dirty, span.zone)
    assert changed is not None
    fresh = await _once(session, live(await rollups.bounded(session, changed)), name)
    return union_all(_stored(table, fresh).where(*in_span, table.day.not_in(dirty)), fresh).subquery()


async def _once(session: AsyncSession, query: Select[Any], name: str) -> Select[Any]:
    """``query``'s rows computed once, into the temporary table ``name`` (this connection's own,
    made again by each report), as a SELECT: a report reads its day rows in two or three statements,
    and the rows of days not rolled up yet cost a join of orders with their lines, parcels and cases."""
    schema = "pg_temp" if dialect_of(session) == "postgresql" else "temp"
    await session.execute(text(f"DROP TABLE IF EXISTS {schema}.{name}"))
    create = query.into(name, temporary=True)
    await session.execute(create)
    return select(*create.table.c)


def _stored(table: Any, live: Any) -> Any:
    """The rollup's rows as a SELECT with ``live``'s columns in its order (a UNION pairs columns by
    position)."""
    return select(*[table.__table__.c[c.name] for c in live.selected_columns])


async def buyer_rows(session: AsyncSession, span: Range, settings: ReportsSection) -> Any:
    """A subquery of ``report_buyer_days`` rows for every day up to ``span.last`` (a buyer's first
    order may be before the range), or None when no order was created by then."""
    dialect = dialect_of(session)
    found = await coverage(session, settings, span.zone)
    if not found.rolled:
        first = (await session.execute(select(func.min(OrderRow.channel_created_at))
                                       .where(OrderRow.channel_created_at < span.end))).scalar_one()
        if first is None:
            return None
        days = rollups.Days.between(_local(first, span.zone), span.last, span.zone)
        return (await _once(session, rollups.buyer_days(days, dialect), "report_live_buyers")).subquery()
    table = ReportBuyerDaysRow
    dirty = tuple(d for d in found.dirty if d <= span.last)
    if not dirty:
        return select(*table.__table__.columns).where(table.day <= span.last).subquery()
    changed = rollups.Days.of(dirty, span.zone)
    assert changed is not None
    fresh = await _once(session, rollups.buyer_days(await rollups.bounded(session, changed), dialect),
                        "report_live_buyers")
    return union_all(_stored(table, fresh).where(table.day <= span.last, table.day.not_in(dirty)), fresh).subquery()
