"""Reports read from the daily rollups on SQLite and PostgreSQL: after a refresh every report (each
period and dimension, gross profit, buyers) gives the same figures as computed from ``orders``; an
order cancelled after a refresh shows at once (its day read from ``orders``) and in the rollups
after the next refresh; a full rebuild equals the incremental result; a cost price change drops
the rollups until the next refresh."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from hub.context import Hub
from hub.db.tables import (
    OrderRow,
    ReportBuyerDaysRow,
    ReportDayOrdersRow,
    ReportDaySkusRow,
    ReportRollupStateRow,
    utcnow,
)
from hub.pipeline import reports as report_jobs
from hub.services.reports import costs, refresh, report
from tests.integration.test_reports import D1, D2, REPORTS, _hub, seed

ZONE = "Asia/Shanghai"


async def _refresh(hub: Hub) -> refresh.Refreshed:
    async with hub.database().transaction() as session:
        return await refresh.refresh(session, REPORTS, ZoneInfo(ZONE))


async def _nothing_changed_since(hub: Hub) -> None:
    """Move the watermark on, as if no order changed since the refresh: reports read rollups only."""
    async with hub.database().transaction() as session:
        await session.execute(update(ReportRollupStateRow).values(rolled_to=utcnow() + timedelta(hours=1)))


def _figures(r: Any) -> tuple[Any, ...]:
    profit = r.profit and (r.profit.cost, r.profit.freight, r.profit.fees, r.profit.lines_without_cost,
                           r.profit.orders_with_fees)
    return (r.bucket, r.key, r.orders, r.paid_orders, r.sales_orders, r.sales, r.units, r.cancelled,
            r.refunded_orders, r.returned_orders, r.statuses, profit)


async def _everything(hub: Hub) -> list[Any]:
    out: list[Any] = []
    async with hub.database().session() as session:
        for period in ("day", "week", "month"):
            for dimension in ("none", "channel", "shop", "sku", "province"):
                got = await report.sales_report(session, period=period, dimension=dimension,  # type: ignore[arg-type]
                                                first=D1 - timedelta(days=60), last=D2, settings=REPORTS,
                                                time_zone=ZONE, with_profit=True)
                out.append([_figures(r) for r in [*got.rows, got.totals]])
            _, buyers = await report.buyers_report(session, period=period, first=D1, last=D2,  # type: ignore[arg-type]
                                                   settings=REPORTS, time_zone=ZONE, shops=["shop-a", "shop-b"])
            out.append(buyers)
    return out


async def _tables(hub: Hub) -> list[Any]:
    async with hub.database().session() as session:
        return [sorted(tuple(row) for row in (await session.execute(select(*table.__table__.columns))).all())
                for table in refresh.TABLES]


async def test_rollups_give_the_figures_orders_give(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub)
    live = await _everything(hub)
    done = await _refresh(hub)
    assert done.rebuilt and done.days > 0
    await _nothing_changed_since(hub)
    assert await _everything(hub) == live
    async with hub.database().session() as session:
        day = (await session.execute(select(ReportDayOrdersRow).where(
            ReportDayOrdersRow.day == D1, ReportDayOrdersRow.shop == "shop-b"))).scalar_one()
    assert (day.orders, day.sales, day.refunded_orders, day.freight) == (1, Decimal("60.0000"), 1, Decimal("4.0000"))


async def test_a_cancelled_order_shows_at_once_and_in_the_rollups_after_the_next_refresh(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub)
    await _refresh(hub)
    async with hub.database().transaction() as session:
        await session.execute(update(OrderRow).where(OrderRow.external_id == "B2")
                              .values(status="cancelled", updated_at=utcnow()))
    async with hub.database().session() as session:
        now = await report.sales_report(session, period="day", dimension="shop", first=D2, last=D2,
                                        settings=REPORTS, time_zone=ZONE)
    assert [(r.key, r.sales_orders, r.cancelled) for r in now.rows] == [("shop-a", 0, 2), ("shop-b", 0, 1)]
    done = await _refresh(hub)
    assert not done.rebuilt and done.days >= 1
    async with hub.database().session() as session:
        day = (await session.execute(select(ReportDayOrdersRow).where(
            ReportDayOrdersRow.day == D2, ReportDayOrdersRow.shop == "shop-b"))).scalar_one()
        assert (day.n_cancelled, day.sales_orders, day.sales) == (1, 0, Decimal("0.0000"))
        assert (await session.execute(select(ReportBuyerDaysRow).where(
            ReportBuyerDaysRow.day == D2))).all() == []
        assert (await session.execute(select(ReportDaySkusRow.n_cancelled).where(
            ReportDaySkusRow.day == D2, ReportDaySkusRow.shop == "shop-b"))).scalars().all() == [1]
    await _nothing_changed_since(hub)
    async with hub.database().session() as session:
        rolled = await report.sales_report(session, period="day", dimension="shop", first=D2, last=D2,
                                           settings=REPORTS, time_zone=ZONE)
    assert [(r.key, r.sales_orders, r.cancelled) for r in rolled.rows] == [("shop-a", 0, 2), ("shop-b", 0, 1)]
    incremental = await _tables(hub)
    async with hub.database().transaction() as session:
        await refresh.rebuild(session, REPORTS, ZoneInfo(ZONE))
    assert await _tables(hub) == incremental


async def test_a_cost_price_change_drops_the_rollups_until_the_next_refresh(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub)
    await _refresh(hub)
    async with hub.database().transaction() as session:
        await costs.set_cost(session, "CUP", Decimal("10"), actor="test")
    async with hub.database().session() as session:
        assert await session.get(ReportRollupStateRow, "reports") is None
    assert (await _refresh(hub)).rebuilt
    await _nothing_changed_since(hub)
    async with hub.database().session() as session:
        got = await report.sales_report(session, period="day", dimension="none", first=D1, last=D2,
                                        settings=REPORTS, time_zone=ZONE, with_profit=True)
    assert got.totals.gross_profit == Decimal("83.50")  # as the API test: CUP's 3 units at cost 10
    assert report_jobs.jobs(None) == [(report_jobs.REFRESH_ACTOR, 60.0, report_jobs.REFRESH_ACTOR, ())]
