"""The service-level scan on SQLite and PostgreSQL: an open order is flagged due soon, then
overdue, once each (a history row, the metric and the ``service_order_due`` hook per flag); a
closed order never is; an order that moved on to its next milestone is flagged again, for that
milestone, only when that one is due; a failing notification plugin undoes no flag."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from contracts.service_orders import ServiceOrderStatus as S
from contracts.service_orders import ServiceOrderType as T
from hub import metrics
from hub.context import Hub
from hub.db.engine import dispose_all_for_loop
from hub.db.tables import ServiceOrderEventRow, ServiceOrderRow
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager
from hub.services.service_orders import sla
from hub.testing.hub import hub_config
from hub.testing.service_orders import store_service_order

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PLATFORM = "sla-test"


class DueRecorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, str, datetime, str, str]] = []

    @hookimpl
    def service_order_due(self, service_order_id: int, shop: str, deadline: datetime, milestone: str,
                          level: str) -> None:
        self.calls.append((service_order_id, shop, deadline, milestone, level))


class BrokenPager:
    @hookimpl
    def service_order_due(self, service_order_id: int, shop: str, deadline: datetime, milestone: str,
                          level: str) -> None:
        raise RuntimeError("pager down")


@pytest.fixture
async def make_hub(database_url: str) -> AsyncIterator[Any]:
    def build(*plugins: Any) -> Hub:
        config = hub_config(database_url, service_orders={"due_soon_hours": 4})
        return Hub(config, build_plugin_manager(load_entry_points=False, extra=list(plugins)))

    yield build
    await dispose_all_for_loop()


async def _order(hub: Hub, *, created: datetime, status: S = S.NEW, previous: tuple[str, str] | None = None,
                 **columns: Any) -> int:
    """An order with its deadlines as intake or the lifecycle would store them (24/48/72 h)."""
    values = sla.values_for(hub.config.service_orders, T.INSTALLATION, status, created,
                            previous_milestone=previous[0] if previous else None,
                            previous_state=previous[1] if previous else "ok")
    async with hub.database().transaction() as session:
        return await store_service_order(session, platform=PLATFORM, shop="tm", status=status, created_at=created,
                                         **{**values, **columns})


async def _state(hub: Hub, service_order_id: int) -> tuple[str, str | None]:
    async with hub.database().session() as session:
        row = (await session.execute(select(ServiceOrderRow.sla_state, ServiceOrderRow.due_milestone)
                                     .where(ServiceOrderRow.id == service_order_id))).one()
    return row[0], row[1]


async def _flags(hub: Hub, service_order_id: int) -> list[tuple[str, str, str]]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(ServiceOrderEventRow).where(
            ServiceOrderEventRow.service_order_id == service_order_id, ServiceOrderEventRow.kind == "sla")
            .order_by(ServiceOrderEventRow.id))).scalars().all()
    return [(r.detail["milestone"], r.detail["level"], r.detail["deadline"]) for r in rows]


def _metric(milestone: str, level: str) -> float:
    return float(metrics.SERVICE_ORDER_SLA_FLAGS.labels(PLATFORM, milestone, level)._value.get())


def h(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


async def test_an_open_order_is_flagged_soon_then_overdue_once_each_and_a_closed_one_never(make_hub: Any) -> None:
    recorder = DueRecorder()
    hub = make_hub(recorder)
    before = (_metric("contact", "soon"), _metric("contact", "overdue"))
    near = await _order(hub, created=h(-22))  # contact due in 2 h
    later = await _order(hub, created=h(-14))  # contact due in 10 h
    done = await _order(hub, created=h(-100), status=S.COMPLETED, closed_at=h(-1))
    cancelled = await _order(hub, created=h(-100), status=S.CANCELLED, due_at=h(-50), due_milestone="contact",
                             sla_state="ok")  # a stale due date on a closed order: still never flagged

    assert await sla.scan(hub, now=NOW) == 1
    assert await sla.scan(hub, now=NOW) == 0  # the same level: once
    assert await _state(hub, near) == ("soon", "contact") and await _state(hub, later) == ("ok", "contact")
    assert await sla.scan(hub, now=h(3)) == 1  # past the contact deadline
    assert await sla.scan(hub, now=h(3)) == 0
    assert await sla.scan(hub, now=h(7)) == 1  # the other order's turn to be due soon
    assert await sla.scan(hub, now=h(40)) == 1  # … then overdue; nothing left to flag on either

    assert recorder.calls == [(near, "tm", h(2), "contact", "soon"), (near, "tm", h(2), "contact", "overdue"),
                              (later, "tm", h(10), "contact", "soon"), (later, "tm", h(10), "contact", "overdue")]
    assert all(c[2].tzinfo is not None for c in recorder.calls)
    assert await _flags(hub, near) == [("contact", "soon", h(2).isoformat()), ("contact", "overdue", h(2).isoformat())]
    assert (_metric("contact", "soon") - before[0], _metric("contact", "overdue") - before[1]) == (2, 2)
    assert await _flags(hub, done) == [] and await _flags(hub, cancelled) == []
    assert (await _state(hub, done))[0] == "met" and (await _state(hub, cancelled))[0] == "ok"


async def test_an_order_that_moved_on_is_flagged_again_only_when_its_next_milestone_is_due(make_hub: Any) -> None:
    recorder = DueRecorder()
    hub = make_hub(recorder)
    late = await _order(hub, created=h(-30))  # contact was due 6 h ago
    assert await sla.scan(hub, now=NOW) == 1 and recorder.calls[-1][3:] == ("contact", "overdue")

    # booked now (as the lifecycle stores a step): the next milestone, on site, is due in 18 h
    moved = sla.values_for(hub.config.service_orders, T.INSTALLATION, S.BOOKED, h(-30), booked_at=NOW,
                           previous_milestone="contact", previous_state="overdue")
    async with hub.database().transaction() as session:
        await session.execute(update(ServiceOrderRow).where(ServiceOrderRow.id == late)
                              .values(status=S.BOOKED.value, booked_at=NOW, **moved))
    assert await _state(hub, late) == ("ok", "on_site")
    assert await sla.scan(hub, now=h(1)) == 0  # not due yet: the contact flag is not raised again
    assert await sla.scan(hub, now=h(15)) == 1
    assert await sla.scan(hub, now=h(19)) == 1
    assert await sla.scan(hub, now=h(19)) == 0
    assert [c[3:] for c in recorder.calls] == [("contact", "overdue"), ("on_site", "soon"), ("on_site", "overdue")]
    assert [f[:2] for f in await _flags(hub, late)] == [("contact", "overdue"), ("on_site", "soon"),
                                                        ("on_site", "overdue")]

    # a notification plugin that fails undoes nothing: the flag stays, and is not raised twice
    broken = make_hub(BrokenPager())
    other = await _order(broken, created=h(-23))
    assert await sla.scan(broken, now=NOW) == 1
    assert await _state(broken, other) == ("soon", "contact")
    assert await sla.scan(broken, now=NOW) == 0
