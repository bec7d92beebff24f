"""The work-card safety-net poll on SQLite and PostgreSQL: one job per enabled shop that lists work
cards; a poll over 40 minutes asks in windows of at most 15 minutes (Tmall's limit); overlapping
runs store each card once; an old open card the windows no longer cover is read again and its
change stored; a paused shop is not polled. No workers: the inbox is processed by the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import func, select

from contracts.service_orders import ServiceOrder, ServiceOrderStatus
from hub.db import shops as shop_rows
from hub.db.engine import Database
from hub.db.shop_state import DbShopState
from hub.db.tables import InboxRow, ServiceOrderEventRow, ServiceOrderRow
from hub.pipeline import service_orders_polling
from hub.pipeline.service_orders_polling import CURSOR_KEY, poll_service_orders, poll_shop_service_orders
from hub.services.ingest import process_inbox_rows
from hub.services.service_orders import intake
from hub.testing.aftersales_channel import ChannelsPlugin
from hub.testing.hub import hub_config, running_hub
from hub.testing.service_channel import make_service_channel
from hub.testing.service_orders import make_service_order

SHOP = "svc-shop"
PLATFORM = "svcpoll"
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
OVERLAP = timedelta(minutes=5)


class Channel(make_service_channel(PLATFORM)):  # type: ignore[misc]
    """The fake channel, with every list call it was asked kept."""

    calls: ClassVar[list[tuple[datetime, datetime]]] = []

    async def fetch_service_orders(self, start: datetime, end: datetime) -> list[ServiceOrder]:
        self.calls.append((start, end))
        return await super().fetch_service_orders(start, end)


def _card(external_id: str, at: datetime, status: ServiceOrderStatus = ServiceOrderStatus.NEW, *,
          created: datetime | None = None, **fields: Any) -> ServiceOrder:
    """Put a card on the fake platform, changed last at ``at``."""
    card = make_service_order(platform=PLATFORM, shop=SHOP, external_id=external_id, status=status,
                              created_at=created or at, updated_at=at, **fields)
    return Channel.platform_state.add(card)


def _config(database_url: str, **shops: Any) -> Any:
    return hub_config(database_url, shops={SHOP: {"platform": PLATFORM}, **shops},
                      service_orders={"poll_interval_s": 60, "poll_overlap_s": OVERLAP.total_seconds()})


async def _process_inbox(hub: Any, database: Database) -> None:
    async with database.session() as session:
        ids = sorted((await session.execute(select(InboxRow.id).where(InboxRow.status != "done"))).scalars().all())
    outcome = await process_inbox_rows(hub, ids)
    assert sorted(outcome.done) == ids, outcome


def setup_function() -> None:
    Channel.platform_state.cards.clear()
    Channel.calls.clear()


async def test_windows_of_fifteen_minutes_each_card_once_and_a_stale_open_card_read_again(
        database_url: str, database: Database) -> None:
    config = _config(database_url, **{"svc-off": {"platform": PLATFORM, "enabled": False}})
    with running_hub(config, extra_plugins=[ChannelsPlugin(Channel)], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        assert service_orders_polling.jobs(hub) == [
            (f"poll_service_orders:{SHOP}", 60.0, "poll_service_orders", (SHOP,))]
        # An old open card, stored three hours ago: no window of the poll covers it any more.
        old = _card("WC-OLD", NOW - timedelta(hours=3))
        async with database.transaction() as session:
            await intake.apply_service_order(session, old, cause="push", settings=hub.config.service_orders)
        _card("WC-1", NOW - timedelta(minutes=30))
        _card("WC-2", NOW - timedelta(minutes=2))
        state = DbShopState(hub.database(), f"channel:{SHOP}")
        await state.set(CURSOR_KEY, (NOW - timedelta(minutes=40)).isoformat())

        await poll_shop_service_orders(hub, SHOP, now=NOW)
        assert Channel.calls[0][0] == NOW - timedelta(minutes=45) and Channel.calls[-1][1] == NOW
        assert all(end - start <= timedelta(minutes=15) for start, end in Channel.calls)
        assert all(a[1] == b[0] for a, b in zip(Channel.calls, Channel.calls[1:], strict=False))
        assert await state.get(CURSOR_KEY) == NOW.isoformat()
        await _process_inbox(hub, database)

        # The old card was booked on the platform; the next run's window sees WC-2 again, unchanged.
        _card("WC-OLD", NOW - timedelta(hours=2), ServiceOrderStatus.BOOKED, created=old.created_at,
              appointment_start=NOW + timedelta(days=1), appointment_end=NOW + timedelta(days=1, hours=2))
        Channel.calls.clear()
        assert await poll_shop_service_orders(hub, SHOP, now=NOW + timedelta(minutes=2)) == 1
        assert Channel.calls == [(NOW - OVERLAP, NOW + timedelta(minutes=2))]
        await _process_inbox(hub, database)

    async with database.session() as session:
        stored = dict((await session.execute(select(ServiceOrderRow.external_id, ServiceOrderRow.status))).all())
        events = dict((await session.execute(
            select(ServiceOrderRow.external_id, func.count(ServiceOrderEventRow.id))
            .join(ServiceOrderEventRow, ServiceOrderEventRow.service_order_id == ServiceOrderRow.id)
            .group_by(ServiceOrderRow.external_id))).all())
    assert stored == {"WC-OLD": "booked", "WC-1": "new", "WC-2": "new"}
    assert events == {"WC-OLD": 2, "WC-1": 1, "WC-2": 1}


async def test_a_paused_shop_is_not_polled(database_url: str, database: Database) -> None:
    _card("WC-P", NOW - timedelta(minutes=1))
    with running_hub(_config(database_url), extra_plugins=[ChannelsPlugin(Channel)], load_entry_points=False,
                     start_workers=False, relay=False):
        async with database.transaction() as session:
            await shop_rows.ensure_shops(session, [(SHOP, PLATFORM)])
            await shop_rows.pause_shop(session, SHOP, "authorisation expired")
        await poll_service_orders(SHOP)
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(InboxRow)) == 0
    assert Channel.calls == []
