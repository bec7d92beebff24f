"""The per-shop stock push on SQLite and the real PostgreSQL, against fake shops that keep what
they show: changes coalesce into batched calls, values a shop already shows are not sent, a
buyer's order in a shop is not pushed back to it, failures stay per SKU, and a partitioned group
never shows more than is available, even while shares move between shops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text

from hub.context import Hub
from hub.db import shops as shop_rows
from hub.db.tables import ChannelStockRow, DeadLetterRow
from hub.errors import AuthorizationError, ThrottledError
from hub.services.stock import adjustments, effects, levels, push, reconcile, scheduling
from hub.services.stock.adjustments import Adjustment
from tests.integration.inventory_support import close_hub, database, database_url, make_hub, place_order, seed  # noqa: F401


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:  # noqa: F811
    h = make_hub(database_url)
    yield h
    await close_hub(h)


async def _rows(hub: Hub, shop: str) -> dict[str, ChannelStockRow]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(ChannelStockRow).where(ChannelStockRow.shop == shop))).scalars()
        return {r.merchant_sku: r for r in rows}


async def test_first_push_sets_every_shop_and_a_second_push_sends_nothing(hub: Hub) -> None:
    await seed(hub, "SKU-1", 10)
    for shop in ("shop-a", "shop-b"):
        report = await push.push_shop(hub, shop)
        assert report.pushed == 1
    assert hub.fakes["shop-a"].shows == {"SKU-1": 10} == hub.fakes["shop-b"].shows  # type: ignore[attr-defined]
    again = await push.push_shop(hub, "shop-a")
    assert again.claimed == 0 and len(hub.fakes["shop-a"].calls) == 1  # type: ignore[attr-defined]
    row = (await _rows(hub, "shop-a"))["SKU-1"]
    assert (row.target, row.shown, row.dirty, row.last_error) == (10, 10, False, None)
    assert row.pushed_at is not None


async def test_buyers_order_is_not_pushed_back_to_its_own_shop(hub: Hub) -> None:
    fakes = hub.fakes  # type: ignore[attr-defined]
    await seed(hub, "SKU-1", 10)
    for shop in ("shop-a", "shop-b"):
        await push.push_shop(hub, shop)
    fakes["shop-a"].buyer_orders("SKU-1", 2)  # the platform lowers its own value when the buyer orders
    order_id = await place_order(hub, [("SKU-1", 2)], shop="shop-a")
    await effects.reserve_order(hub, order_id)
    a = await push.push_shop(hub, "shop-a")
    b = await push.push_shop(hub, "shop-b")
    assert (a.calls, a.skipped) == (0, 1)
    assert b.calls == 1 and fakes["shop-b"].shows["SKU-1"] == 8
    assert fakes["shop-a"].shows["SKU-1"] == 8


async def test_many_changes_coalesce_into_batches_of_the_connector_size(hub: Hub) -> None:
    skus = [f"SKU-{i:02d}" for i in range(45)]
    for sku in skus:
        await seed(hub, sku, 5, shops=["shop-a"])
    for _ in range(3):  # several changes per SKU before the push runs
        await adjustments.adjust_stock(hub, [Adjustment("wh1", s, delta=1) for s in skus], actor="test")
    report = await push.push_shop(hub, "shop-a")
    calls = hub.fakes["shop-a"].calls  # type: ignore[attr-defined]
    assert [len(c) for c in calls] == [20, 20, 5]
    assert report.pushed == 45 and {v.quantity for c in calls for v in c} == {8}


async def test_one_refused_sku_keeps_the_others_flowing_and_shows_its_error(hub: Hub) -> None:
    fake = hub.fakes["shop-a"]  # type: ignore[attr-defined]
    await seed(hub, "SKU-1", 10, shops=["shop-a"])
    await seed(hub, "SKU-2", 10, shops=["shop-a"])
    fake.refuse["SKU-2"] = ("isv.item-not-exist", False)
    report = await push.push_shop(hub, "shop-a")
    assert report.pushed == 1 and report.failed == 1
    rows = await _rows(hub, "shop-a")
    assert rows["SKU-1"].shown == 10 and rows["SKU-1"].last_error is None
    assert rows["SKU-2"].shown is None and "isv.item-not-exist" in (rows["SKU-2"].last_error or "")
    assert rows["SKU-2"].dirty is False  # permanent: not retried until the next change...
    async with hub.database().session() as session:  # ...but dead-lettered, so someone sees it
        letters = (await session.execute(select(DeadLetterRow))).scalars().all()
    assert len(letters) == 1 and "SKU-2" in letters[0].reason


async def test_retryable_sku_refusal_stays_dirty_for_the_next_push(hub: Hub) -> None:
    fake = hub.fakes["shop-a"]  # type: ignore[attr-defined]
    await seed(hub, "SKU-1", 10, shops=["shop-a"])
    fake.refuse["SKU-1"] = ("isp.busy", True)
    await push.push_shop(hub, "shop-a")
    assert (await _rows(hub, "shop-a"))["SKU-1"].dirty is True
    del fake.refuse["SKU-1"]
    await push.push_shop(hub, "shop-a")
    row = (await _rows(hub, "shop-a"))["SKU-1"]
    assert (row.shown, row.last_error, row.dirty) == (10, None, False)


async def test_throttled_push_is_retried_later_without_losing_the_change(hub: Hub) -> None:
    fake = hub.fakes["shop-a"]  # type: ignore[attr-defined]
    await seed(hub, "SKU-1", 10, shops=["shop-a"])
    fake.raise_next.append(ThrottledError("shop 'shop-a': throttled (TOP code 7)", code="7", retry_after=1.0))
    with pytest.raises(ThrottledError):
        await push.push_shop(hub, "shop-a")
    row = (await _rows(hub, "shop-a"))["SKU-1"]
    assert row.dirty is True and "throttled" in (row.last_error or "")
    await push.push_shop(hub, "shop-a")
    assert fake.shows == {"SKU-1": 10}


async def test_lost_authorisation_pauses_the_shop_and_keeps_its_changes(hub: Hub) -> None:
    fake = hub.fakes["shop-a"]  # type: ignore[attr-defined]
    await seed(hub, "SKU-1", 10, shops=["shop-a"])
    fake.raise_next.append(AuthorizationError("shop 'shop-a': session invalid (TOP code 27); re-authorise"))
    report = await push.push_shop(hub, "shop-a")
    assert report.paused and "re-authorise" in report.paused
    async with hub.database().session() as session:
        status = await shop_rows.shop_status(session, "shop-a")
    assert status is not None and status.paused
    assert (await _rows(hub, "shop-a"))["SKU-1"].dirty is True
    later = await push.push_shop(hub, "shop-a")  # while paused nothing is sent
    assert later.paused and len(fake.calls) == 1


async def _group_total(hub: Hub, sku: str) -> tuple[int, int]:
    fakes = hub.fakes  # type: ignore[attr-defined]
    async with hub.database().session() as session:
        available = (await levels.stock_of(session, [sku]))[sku].available
    return sum(f.shows.get(sku, 0) for f in fakes.values()), available


async def test_partitioned_group_lowers_others_before_topping_a_shop_up(database_url: str) -> None:  # noqa: F811
    hub = make_hub(database_url, stock_groups={"flash": {"mode": "partitioned", "skus": ["HOT"]}})
    fakes = hub.fakes  # type: ignore[attr-defined]
    try:
        await seed(hub, "HOT", 10)
        for shop in ("shop-a", "shop-b"):
            await push.push_shop(hub, shop)
        assert fakes["shop-a"].shows["HOT"] == 5 and fakes["shop-b"].shows["HOT"] == 5
        fakes["shop-a"].buyer_orders("HOT", 4)
        order_id = await place_order(hub, [("HOT", 4)], shop="shop-a")
        await effects.reserve_order(hub, order_id)
        # shop-a should be topped up to 3, but shop-b still shows 5: the raise waits.
        first = await push.push_shop(hub, "shop-a")
        shown, available = await _group_total(hub, "HOT")
        assert first.capped == 1 and shown <= available
        await push.push_shop(hub, "shop-b")
        shown, available = await _group_total(hub, "HOT")
        assert fakes["shop-b"].shows["HOT"] == 3 and shown <= available
        await push.push_shop(hub, "shop-a")
        assert fakes["shop-a"].shows["HOT"] == 3
        assert await _group_total(hub, "HOT") == (6, 6)
    finally:
        await close_hub(hub)


async def test_reconcile_repairs_a_shop_that_drifted(hub: Hub) -> None:
    fake = hub.fakes["shop-a"]  # type: ignore[attr-defined]
    await seed(hub, "SKU-1", 10, shops=["shop-a"])
    await seed(hub, "SKU-2", 4, shops=["shop-a"])
    await push.push_shop(hub, "shop-a")
    fake.shows["SKU-1"] = 37  # someone edited the listing by hand in the seller centre
    report = await reconcile.reconcile_shop(hub, "shop-a")
    assert (report.checked, report.drifted, report.repaired) == (2, 1, 1)
    assert fake.shows == {"SKU-1": 10, "SKU-2": 4}
    async with hub.database().session() as session:
        dirty = await session.scalar(select(func.count()).select_from(ChannelStockRow).where(
            ChannelStockRow.dirty.is_(True)))
    assert dirty == 0


async def test_pushes_of_any_size_reuse_the_same_compiled_statements(hub: Hub) -> None:
    """A long-running worker's memory stays flat: recording a call's answers is one statement
    whatever the call's size, not one compiled (and cached) per size — that cache was most of a
    busy worker's growth before."""
    skus = [f"SKU-{i:02d}" for i in range(12)]
    for sku in skus:
        await seed(hub, sku, 5, shops=["shop-a"])
    await push.push_shop(hub, "shop-a")
    cache = hub.database().engine.sync_engine._compiled_cache
    assert cache is not None

    async def change_and_push(count: int) -> None:
        await adjustments.adjust_stock(hub, [Adjustment("wh1", s, delta=1) for s in skus[:count]], actor="test")
        report = await push.push_shop(hub, "shop-a")
        assert report.pushed == count

    for count in (1, 2):  # every statement of a push compiled once
        await change_and_push(count)
    compiled = len(cache)
    for count in range(3, 13):
        await change_and_push(count)
    assert len(cache) == compiled, "a push of a new size compiled new statements"


async def test_a_push_claimed_while_a_change_is_uncommitted_waits_for_it_and_sends_its_value(hub: Hub) -> None:
    """A sale's transaction marks its SKU's listings dirty (a no-op on a listing dirty already) and
    commits a moment later; a push job claiming that listing in between used to read the stock
    without the sale and clear the flag, and the shop kept the old value until the SKU changed
    again. The claim now waits for the change to commit (PostgreSQL: row locks; SQLite serialises
    its writers), so the shop shows the value with the change."""
    if hub.database().dialect != "postgresql":
        pytest.skip("SQLite runs one writer at a time: the claim cannot come between")
    await seed(hub, "SKU-1", 10)
    await push.push_shop(hub, "shop-a")
    await adjustments.adjust_stock(hub, [Adjustment("wh1", "SKU-1", delta=-1)], actor="test")  # dirty: 9
    async with hub.database().transaction() as session:
        await adjustments.apply_adjustment(session, Adjustment("wh1", "SKU-1", delta=-1))  # 8, uncommitted
        await scheduling.mark_dirty(session, {"SKU-1"})
        pushing = asyncio.ensure_future(push.push_shop(hub, "shop-a"))
        await _until_a_backend_waits_for_a_lock(hub)
        assert not pushing.done()
    report = await pushing
    assert report.pushed == 1 and hub.fakes["shop-a"].shows == {"SKU-1": 8}  # type: ignore[attr-defined]
    row = (await _rows(hub, "shop-a"))["SKU-1"]
    assert (row.target, row.shown, row.dirty) == (8, 8, False)


async def _until_a_backend_waits_for_a_lock(hub: Hub, within_s: float = 60.0) -> None:
    """Until another connection of this database waits for a row lock (a condition, not a delay)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        async with hub.database().session() as session:
            waiting = (await session.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"))).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no connection waited for a lock within {within_s:g} s")
