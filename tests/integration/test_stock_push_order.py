"""An older stock value never lands after a newer one, on SQLite and the real PostgreSQL.

Two push jobs for one shop may run at once (the changes that arrive while one job waits for its
answer get a job of their own). The fault suite once ended with Tmall showing a quantity 17 sales
old while the hub believed every push was done: one job's call was slow (or waiting out a
throttle before its retry), a second job pushed the newer value, and the platform applied the
older value last. Here a fake shop holds a call on an event, so the interleaving is driven step by
step: a slow call that lands after a newer job ran, a call whose answer never came (a timeout)
that lands later still, an answer that comes back after a newer push took the listing over, and
a job that died holding a listing. The wait for a push that may still land is ended by setting
``rules.stock_unanswered_wait_s`` to 0 at the step where it is over, never by sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from contracts.inventory import ChannelStock, StockPushResult
from hub.context import Hub
from hub.db.tables import ChannelStockRow
from hub.services.stock import adjustments, push, scheduling
from hub.services.stock.adjustments import Adjustment
from tests.integration.inventory_support import (  # noqa: F401
    FakeShop,
    close_hub,
    database,
    database_url,
    make_hub,
    seed,
)


class LateShop(FakeShop):
    """A fake shop whose next stock call is held (``hold_next``): it arrives (``arrived`` is set),
    the platform applies it only when ``release`` is set, and then answers. With ``answer_next``
    False the hub gets no answer at all (a read timeout: the outcome is unknown) and the values wait
    in ``late`` until ``land_late`` applies them, as a platform applies a request whose reply was
    lost."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.hold_next = False
        self.answer_next = True
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.late: list[ChannelStock] = []

    async def push_stock(self, values: list[ChannelStock]) -> list[StockPushResult]:
        if not self.answer_next:
            self.answer_next = True
            self.calls.append(list(values))
            self.late += values
            return [StockPushResult(merchant_sku=v.merchant_sku, channel_sku_id=v.channel_sku_id, ok=False,
                                    error_code="timeout", error_message="read timeout", retryable=True,
                                    outcome_unknown=True) for v in values]
        if not self.hold_next:
            return await super().push_stock(values)
        self.hold_next = False
        self.calls.append(list(values))
        self.arrived.set()
        await self.release.wait()
        for v in values:
            self.shows[v.merchant_sku] = v.quantity
        return [StockPushResult(merchant_sku=v.merchant_sku, channel_sku_id=v.channel_sku_id, ok=True,
                                quantity=v.quantity) for v in values]

    def land_late(self) -> None:
        for v in self.late:
            self.shows[v.merchant_sku] = v.quantity
        self.late = []


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:  # noqa: F811
    h = make_hub(database_url, {"shop-a": {}})
    h.fakes["shop-a"] = LateShop("shop-a")  # type: ignore[attr-defined]
    yield h
    await close_hub(h)


def _shop(hub: Hub) -> LateShop:
    shop: LateShop = hub.fakes["shop-a"]  # type: ignore[attr-defined]
    return shop


async def _row(hub: Hub) -> ChannelStockRow:
    async with hub.database().session() as session:
        return (await session.execute(select(ChannelStockRow).where(ChannelStockRow.shop == "shop-a"))).scalar_one()


async def _sell_elsewhere(hub: Hub, quantity: int) -> None:
    """Stock leaves (sales in other channels, a count): every listing of the SKU is dirty."""
    await adjustments.adjust_stock(hub, [Adjustment("wh1", "SKU-1", delta=-quantity)], actor="test")


async def _push_until_quiet(hub: Hub) -> None:
    """What the queue and the dirty sweep do once nothing is in flight: push until nothing is left."""
    for _ in range(5):
        if not await scheduling.dirty_shops(hub, older_than_s=0):
            return
        await push.push_shop(hub, "shop-a")
    raise AssertionError("the shop still had listings to push after five jobs")


async def test_a_slow_push_is_not_overtaken_by_a_newer_one(hub: Hub) -> None:
    shop = _shop(hub)
    await seed(hub, "SKU-1", 100, shops=["shop-a"])
    await push.push_shop(hub, "shop-a")
    assert shop.shows == {"SKU-1": 100}

    await _sell_elsewhere(hub, 17)
    shop.hold_next = True
    slow = asyncio.create_task(push.push_shop(hub, "shop-a"))  # 83 goes out, and takes its time
    await asyncio.wait_for(shop.arrived.wait(), 30)
    await _sell_elsewhere(hub, 17)  # 66 now, while 83 is still on its way
    meanwhile = await push.push_shop(hub, "shop-a")
    assert meanwhile.calls == 0 and (await _row(hub)).dirty  # nothing sent over the call in flight
    shop.release.set()  # the platform applies 83 and answers
    await asyncio.wait_for(slow, 30)
    await _push_until_quiet(hub)

    assert [c[0].quantity for c in shop.calls] == [100, 83, 66]
    assert shop.shows == {"SKU-1": 66}
    row = await _row(hub)
    assert (row.shown, row.target, row.dirty, row.pending_key) == (66, 66, False, None)


async def test_a_push_without_an_answer_is_followed_only_once_it_can_no_longer_land(hub: Hub) -> None:
    shop = _shop(hub)
    await seed(hub, "SKU-1", 100, shops=["shop-a"])
    await push.push_shop(hub, "shop-a")

    await _sell_elsewhere(hub, 17)
    shop.answer_next = False
    report = await push.push_shop(hub, "shop-a")  # 83 goes out; no answer comes back
    assert report.failed == 1 and shop.shows == {"SKU-1": 100}
    row = await _row(hub)
    assert row.dirty and row.shown is None and row.pending_key is not None  # it may show 100 or 83

    await _sell_elsewhere(hub, 17)  # 66 now
    assert await scheduling.dirty_shops(hub, older_than_s=0) == set()  # the sweep leaves it alone...
    assert (await push.push_shop(hub, "shop-a")).calls == 0  # ...and so does a job
    shop.land_late()  # the platform applies 83 after all
    assert shop.shows == {"SKU-1": 83}

    hub.config.rules.stock_unanswered_wait_s = 0  # the time it could still land is over
    assert await scheduling.dirty_shops(hub, older_than_s=0) == {"shop-a"}
    await _push_until_quiet(hub)
    assert [c[0].quantity for c in shop.calls] == [100, 83, 66]
    assert shop.shows == {"SKU-1": 66}
    assert ((await _row(hub)).shown, (await _row(hub)).pending_key) == (66, None)


async def test_a_lost_answer_is_pushed_again_even_when_the_target_is_back_to_the_old_value(hub: Hub) -> None:
    shop = _shop(hub)
    await seed(hub, "SKU-1", 100, shops=["shop-a"])
    await push.push_shop(hub, "shop-a")
    await _sell_elsewhere(hub, 17)
    shop.answer_next = False
    await push.push_shop(hub, "shop-a")  # 83, no answer
    shop.land_late()  # it did land
    await adjustments.adjust_stock(hub, [Adjustment("wh1", "SKU-1", delta=17)], actor="test")  # back to 100
    hub.config.rules.stock_unanswered_wait_s = 0
    await _push_until_quiet(hub)
    assert shop.shows == {"SKU-1": 100}  # not skipped as "already shown": 83 may have landed, and did


async def test_an_answer_that_comes_after_a_newer_push_took_over_is_not_believed(hub: Hub) -> None:
    shop = _shop(hub)
    await seed(hub, "SKU-1", 100, shops=["shop-a"])
    await push.push_shop(hub, "shop-a")

    await _sell_elsewhere(hub, 17)
    shop.hold_next = True
    slow = asyncio.create_task(push.push_shop(hub, "shop-a"))  # 83, held for longer than the wait
    await asyncio.wait_for(shop.arrived.wait(), 30)
    hub.config.rules.stock_unanswered_wait_s = 0  # the hub takes the job holding it for dead
    await _sell_elsewhere(hub, 17)
    newer = await push.push_shop(hub, "shop-a")  # 66 goes out and is answered
    assert newer.pushed == 1 and shop.shows == {"SKU-1": 66}
    shop.release.set()  # then 83 lands, last, and its answer comes back
    await asyncio.wait_for(slow, 30)
    assert shop.shows == {"SKU-1": 83}
    row = await _row(hub)
    assert row.dirty and row.shown is None  # the hub does not take 83 (or 66) as what the shop shows

    await _push_until_quiet(hub)
    assert shop.shows == {"SKU-1": 66}


async def test_listings_claimed_by_a_job_that_died_are_pushed_once_the_wait_is_over(hub: Hub) -> None:
    shop = _shop(hub)
    await seed(hub, "SKU-1", 100, shops=["shop-a"])
    await push.push_shop(hub, "shop-a")
    await _sell_elsewhere(hub, 17)
    # A job claimed the listing and its worker was killed (kill -9) before anything was recorded.
    await push._claim(hub, "shop-a", "0123456789abcdef0123456789abcdef")
    row = await _row(hub)
    assert not row.dirty and row.pending_key is not None
    assert await scheduling.shops_to_sweep(hub, older_than_s=0) == set()  # it may still be on its way

    hub.config.rules.stock_unanswered_wait_s = 0  # it no longer can be
    assert await scheduling.shops_to_sweep(hub, older_than_s=0) == {"shop-a"}
    await _push_until_quiet(hub)
    assert shop.shows == {"SKU-1": 83} and (await _row(hub)).pending_key is None
