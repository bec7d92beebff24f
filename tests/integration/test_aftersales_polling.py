"""The after-sales safety-net poll on SQLite and PostgreSQL: one job per enabled shop that lists
after-sales; windows from the stored cursor minus the overlap (a day back the first time), in
spans the connector allows; overlapping windows and a case already pushed store nothing twice;
a paused shop is not polled. No workers run for the window tests: the inbox is what counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel
from sqlalchemy import select

from contracts import AfterSaleStatus, Capability, InboundMessage, MessageKind
from contracts.aftersales import AfterSale
from hub.db import shops as shop_rows
from hub.db.shop_state import DbShopState
from hub.db.tables import AfterSaleEventRow, AfterSaleRow, InboxRow
from hub.pipeline import aftersales_polling
from hub.pipeline.aftersales_polling import CURSOR_KEY, poll_aftersales, poll_shop_aftersales
from hub.plugin_api import hookimpl
from hub.services.ingest import process_inbox_rows
from hub.services.intake import accept_messages
from hub.testing.factories import make_aftersale, make_order
from hub.testing.hub import hub_config, running_hub

SHOP = "shop-as"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
OVERLAP_S = 600.0


class Platform:
    """The fake platform's cases (latest state of each) and every list call made to it."""

    cases: ClassVar[dict[str, AfterSale]] = {}
    calls: ClassVar[list[tuple[datetime, datetime]]] = []


class _Settings(BaseModel):
    app_key: str = "k"


class CaseChannel:
    platform: ClassVar[str] = "fakecases"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.AFTERSALES})
    Settings = _Settings
    max_stock_batch = 10
    max_aftersale_window_s = 6 * 3600

    def __init__(self, context: Any) -> None:
        self.context = context

    async def fetch_aftersales(self, start: datetime, end: datetime) -> list[AfterSale]:
        Platform.calls.append((start, end))
        return [c for c in Platform.cases.values() if start <= c.updated_at <= end]

    async def get_aftersale(self, external_id: str) -> AfterSale:
        return Platform.cases[external_id]

    async def aclose(self) -> None:
        return None


class CasePlugin:
    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [CaseChannel]


def _place(external_id: str, at: datetime, status: AfterSaleStatus = AfterSaleStatus.REQUESTED) -> AfterSale:
    order = make_order(platform="fakecases", shop=SHOP, external_id=f"O{external_id}")
    case = make_aftersale(order, external_id=external_id, status=status, updated_at=at)
    Platform.cases[external_id] = case
    return case


def _config(database_url: str, **shops: Any) -> Any:
    return hub_config(database_url, shops={SHOP: {"platform": "fakecases"}, **shops},
                      aftersales={"poll_interval_s": 120, "poll_overlap_s": OVERLAP_S})


async def _inbox_ids(database: Any) -> list[str]:
    async with database.session() as session:
        return sorted((await session.execute(select(InboxRow.message_id))).scalars().all())


def setup_function() -> None:
    Platform.cases.clear()
    Platform.calls.clear()


async def test_one_job_per_enabled_shop_whose_connector_lists_aftersales(database_url: str) -> None:
    config = _config(database_url, **{"shop-off": {"platform": "fakecases", "enabled": False},
                                      "shop-other": {"platform": "taobao"}})
    with running_hub(config, extra_plugins=[CasePlugin()], start_workers=False, relay=False) as hub:
        jobs = aftersales_polling.jobs(hub)
    assert ("poll_aftersales:shop-as", 120.0, "poll_aftersales", ("shop-as",)) in jobs
    assert all(args != ("shop-off",) for *_, args in jobs)
    assert ("poll_aftersales:shop-other", 120.0, "poll_aftersales", ("shop-other",)) in jobs  # taobao lists refunds


async def test_first_run_looks_back_a_day_in_spans_and_overlapping_windows_store_nothing_twice(
        database, database_url) -> None:  # type: ignore[no-untyped-def]
    _place("C1", NOW - timedelta(hours=20))
    _place("C2", NOW - timedelta(minutes=5))
    with running_hub(_config(database_url), extra_plugins=[CasePlugin()], start_workers=False, relay=False) as hub:
        assert await poll_shop_aftersales(hub, SHOP, now=NOW) == 2
        first = NOW - timedelta(days=1) - timedelta(seconds=OVERLAP_S)
        assert Platform.calls[0][0] == first and Platform.calls[-1][1] == NOW
        assert all(end - start <= timedelta(hours=6) for start, end in Platform.calls)
        assert await DbShopState(hub.database(), f"channel:{SHOP}").get(CURSOR_KEY) == NOW.isoformat()
        Platform.calls.clear()
        # The next run re-reads the overlap: C2 again, same observation, nothing new stored.
        later = NOW + timedelta(minutes=2)
        assert await poll_shop_aftersales(hub, SHOP, now=later) == 0
        assert Platform.calls == [(NOW - timedelta(seconds=OVERLAP_S), later)]
        # C2 moved on: a new observation of the same case.
        _place("C2", NOW + timedelta(minutes=3), AfterSaleStatus.REFUNDED)
        assert await poll_shop_aftersales(hub, SHOP, now=NOW + timedelta(minutes=4)) == 1
    ids = await _inbox_ids(database)
    assert len(ids) == 3 and all(i.startswith(f"poll:{SHOP}:") for i in ids)


async def test_a_pushed_case_seen_again_by_the_poll_leaves_one_case_and_one_history_row(
        database, database_url) -> None:  # type: ignore[no-untyped-def]
    case = _place("C7", NOW - timedelta(minutes=1))
    with running_hub(_config(database_url), extra_plugins=[CasePlugin()], start_workers=False, relay=False) as hub:
        pushed = await accept_messages(hub, platform="fakecases", shop=SHOP, source="message_channel", messages=[
            InboundMessage(message_id="tmc-1", kind=MessageKind.AFTERSALE, topic="refund_created",
                           external_id="C7", aftersale=case)])
        polled = await poll_shop_aftersales(hub, SHOP, now=NOW)
        async with database.session() as session:
            ids = list((await session.execute(select(InboxRow.id))).scalars().all())
        await process_inbox_rows(hub, sorted(ids))
    assert len(pushed) == 1 and polled == 1
    async with database.session() as session:
        cases = (await session.execute(select(AfterSaleRow))).scalars().all()
        events = (await session.execute(select(AfterSaleEventRow))).scalars().all()
    assert len(cases) == 1 and len(events) == 1


async def test_a_paused_shop_is_not_polled(database, database_url) -> None:  # type: ignore[no-untyped-def]
    _place("C9", NOW - timedelta(minutes=1))
    with running_hub(_config(database_url), extra_plugins=[CasePlugin()], start_workers=False, relay=False):
        async with database.transaction() as session:
            await shop_rows.ensure_shops(session, [(SHOP, "fakecases")])
            await shop_rows.pause_shop(session, SHOP, "authorisation expired")
        await poll_aftersales(SHOP)
    assert Platform.calls == [] and await _inbox_ids(database) == []
