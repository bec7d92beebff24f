"""A poll window with more pages than one run may read: successive runs carry the window and its
page cursor over, so every order in it reaches the inbox and the window start moves past it only
once all its pages were read. On SQLite (embedded) and on PostgreSQL with Redis.

The fake platform lists by modified time, newest first, with page numbers as cursors, and pages
either like TOP's ``trades.sold.increment.get`` (from the last page backwards) or like AliExpress's
``solution.order.get`` (page 1 onwards). No workers run: the inbox is what counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from contracts import Capability, Order, OrderPage, OrderStatus
from hub.db.shop_state import DbShopState
from hub.db.tables import InboxRow
from hub.pipeline import polling
from hub.pipeline.polling import CURSOR_KEY, WINDOW_KEY, poll_shop_orders
from hub.plugin_api import hookimpl
from hub.testing.factories import make_order
from hub.testing.hub import QUEUE_MODES, hub_config, redis_url_for_mode, running_hub

SHOP = "shop-w"
T0 = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
OVERLAP_S = 30.0
PAGES_PER_RUN = 5


class Platform:
    """The fake platform's orders (latest state of each) and every list call made to it."""

    orders: ClassVar[dict[str, Order]] = {}
    calls: ClassVar[list[tuple[datetime, datetime, str | None]]] = []
    returned: ClassVar[list[tuple[str, datetime]]] = []  # (external id, modified), once per listing
    size: ClassVar[int] = 1  # orders a page
    forward: ClassVar[bool] = False  # page 1 onwards (AliExpress) rather than backwards (TOP)


class _Settings(BaseModel):
    app_key: str = "k"


class PagedChannel:
    """Newest first, ``Platform.size`` orders a page, paged as ``Platform.forward`` says."""

    platform: ClassVar[str] = "fakepaged"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.POLL_ORDERS})
    Settings = _Settings
    max_stock_batch = 10
    max_poll_window_s = 86_400

    def __init__(self, context: Any) -> None:
        self.context = context

    async def fetch_orders(self, start: datetime, end: datetime, cursor: str | None) -> OrderPage:
        Platform.calls.append((start, end, cursor))
        listed = sorted((o for o in Platform.orders.values() if start <= o.updated_at <= end),
                        key=lambda o: (o.updated_at, o.ref.external_id), reverse=True)
        pages = max(1, -(-len(listed) // Platform.size))
        if Platform.forward:
            page = int(cursor) if cursor else 1
            next_page = page + 1 if page < pages else None
        else:
            page = int(cursor) if cursor else pages
            next_page = page - 1 if page > 1 else None
        orders = listed[(page - 1) * Platform.size:page * Platform.size]
        Platform.returned.extend((o.ref.external_id, o.updated_at) for o in orders)
        return OrderPage(orders=orders, next_cursor=None if next_page is None else str(next_page))

    async def aclose(self) -> None:
        return None


class PagedPlugin:
    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [PagedChannel]


@pytest.fixture(params=QUEUE_MODES)
def mode(request: pytest.FixtureRequest, database_url: str) -> str | None:
    return redis_url_for_mode(request.param, database_url)


@pytest.fixture(autouse=True)
def _platform(monkeypatch: pytest.MonkeyPatch) -> None:
    Platform.orders.clear()
    Platform.calls.clear()
    Platform.returned.clear()
    Platform.size, Platform.forward = 1, False
    monkeypatch.setattr(polling, "MAX_PAGES_PER_RUN", PAGES_PER_RUN)


def _place(external_id: str, at: datetime, status: OrderStatus = OrderStatus.PAID) -> None:
    Platform.orders[external_id] = make_order(platform="fakepaged", shop=SHOP, external_id=external_id,
                                              status=status, updated_at=at)


async def _inbox(database: Any) -> list[tuple[str, str]]:
    """(external id, status) of every inbox row, one per stored observation."""
    async with database.session() as session:
        rows = (await session.execute(select(InboxRow.payload))).scalars().all()
    return sorted((row["external_id"], row["order"]["status"]) for row in rows)


def _config(database_url: str, mode: str | None) -> Any:
    return hub_config(database_url, redis_url=mode,
                      shops={SHOP: {"platform": "fakepaged", "poll_overlap_s": OVERLAP_S}})


async def test_a_window_of_more_pages_than_a_run_is_read_to_its_end_over_successive_runs(
        database, database_url, mode) -> None:  # type: ignore[no-untyped-def]
    # 12 orders in the first window (one page each) against 5 pages a run: the old poll set its
    # window back to the start and read the same 5 pages on every run, never the other 7.
    ids = [f"1000{i:02d}" for i in range(12)]
    for i, external_id in enumerate(ids):
        _place(external_id, T0 - timedelta(minutes=50) + timedelta(seconds=i))
    state = DbShopState(database, f"channel:{SHOP}")
    new_rows, starts = [], []
    with running_hub(_config(database_url, mode), extra_plugins=[PagedPlugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        for run in range(3):
            new_rows.append(await poll_shop_orders(hub, SHOP, now=T0 + timedelta(seconds=5 * run)))
            starts.append(await state.get(CURSOR_KEY))
        assert await state.get(WINDOW_KEY) is None

    assert await _inbox(database) == [(external_id, "paid") for external_id in ids]
    assert new_rows == [5, 4, 3]
    # The window start moved only once all 12 pages were read, to the end of the last window read.
    assert starts == [None, None, (T0 + timedelta(seconds=10)).isoformat()]
    # The later runs read the window the first one chose, from where the run before stopped (after
    # reading that run's last page again); the third then read the next window, from the carried
    # window's end minus the overlap.
    first_window = (T0 - polling.FIRST_LOOKBACK - timedelta(seconds=OVERLAP_S), T0)
    assert [call[:2] for call in Platform.calls[:14]] == [first_window] * 14
    assert [call[2] for call in Platform.calls[:14]] == [None, "11", "10", "9", "8", "8", "7", "6", "5", "4",
                                                         "4", "3", "2", "1"]
    assert Platform.calls[14:] == [(T0 - timedelta(seconds=OVERLAP_S), T0 + timedelta(seconds=10), None)]
    # Every page of the window was read once, but for the two read again on resuming.
    listed = sorted(external_id for external_id, _ in Platform.returned)
    assert listed == sorted([*ids, ids[4], ids[8]])


async def test_a_carried_window_loses_nothing_when_orders_change_between_runs(
        database, database_url, mode) -> None:  # type: ignore[no-untyped-def]
    # 14 orders in the window, 2 a page; between runs one already read and one not yet read are
    # shipped (their modification time leaves the window) and a new order arrives: every order's
    # every state that the platform lists lands, each once.
    Platform.size = 2
    ids = [f"2000{i:02d}" for i in range(14)]
    for i, external_id in enumerate(ids):
        _place(external_id, T0 - timedelta(seconds=140) + timedelta(seconds=10 * i))
    state = DbShopState(database, f"channel:{SHOP}")
    with running_hub(_config(database_url, mode), extra_plugins=[PagedPlugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        assert await poll_shop_orders(hub, SHOP, now=T0) == 10  # the 10 oldest: ids[0..9]
        shipped = T0 + timedelta(seconds=3)
        _place(ids[1], shipped, OrderStatus.SHIPPED)  # read already
        _place(ids[12], shipped, OrderStatus.SHIPPED)  # not read yet
        _place("200100", T0 + timedelta(seconds=4))
        assert await state.get(CURSOR_KEY) is None
        await poll_shop_orders(hub, SHOP, now=T0 + timedelta(seconds=5))  # the rest, then the next window
        assert await state.get(CURSOR_KEY) == T0.isoformat()
        await poll_shop_orders(hub, SHOP, now=T0 + timedelta(seconds=6))  # its rest, then the next
        assert await state.get(CURSOR_KEY) == (T0 + timedelta(seconds=6)).isoformat()
        assert await state.get(WINDOW_KEY) is None

    stored = await _inbox(database)
    assert stored == sorted([(external_id, "paid") for external_id in ids if external_id != ids[12]]
                            + [(ids[1], "shipped"), (ids[12], "shipped"), ("200100", "paid")])
    # Listed more than once only as the overlap would (once more for each completed window end, T0
    # and T0 + 5 s, it lies at most 30 s before), on the page each of the 2 resumed runs reads again,
    # and once each for the 2 shipped orders shifting the list under a carried cursor.
    extra = 0
    for seen in set(Platform.returned):
        overlaps = sum(end - timedelta(seconds=OVERLAP_S) <= seen[1] <= end for end in (T0, T0 + timedelta(seconds=5)))
        extra += max(0, Platform.returned.count(seen) - 1 - overlaps)
    assert extra <= 2 * Platform.size + 2


@pytest.mark.parametrize("shipped", [1, 2])
async def test_orders_moving_forward_between_runs_are_not_skipped_by_a_forward_paging_list(
        database, database_url, mode, shipped) -> None:  # type: ignore[no-untyped-def]
    # AliExpress-like: page 1 (newest) onwards, 2 orders a page, 14 orders. The first run reads pages
    # 1-5; then the newest orders are shipped and leave the window, so every order behind them moves
    # forward — onto pages read already. One shipped: the orders move by half a page and reading the
    # last page again takes the one that moved onto it. Two: they move by a whole page, the last
    # page holds none of what it held, and the window is read again from page 1.
    Platform.size, Platform.forward = 2, True
    ids = [f"3000{i:02d}" for i in range(14)]  # ids[13] newest
    for i, external_id in enumerate(ids):
        _place(external_id, T0 - timedelta(seconds=140) + timedelta(seconds=10 * i))
    with running_hub(_config(database_url, mode), extra_plugins=[PagedPlugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        assert await poll_shop_orders(hub, SHOP, now=T0) == 10  # ids[4..13]
        for external_id in ids[-shipped:]:
            _place(external_id, T0 + timedelta(seconds=3), OrderStatus.SHIPPED)
        for run in range(1, 4):
            await poll_shop_orders(hub, SHOP, now=T0 + timedelta(seconds=5 * run))

    assert await _inbox(database) == sorted([(external_id, "paid") for external_id in ids]
                                            + [(external_id, "shipped") for external_id in ids[-shipped:]])
    first_window = (T0 - polling.FIRST_LOOKBACK - timedelta(seconds=OVERLAP_S), T0)
    from_page_1 = [call for call in Platform.calls if call == (*first_window, None)]
    assert len(from_page_1) == shipped  # read from page 1 again only when the list moved by a page
