"""Partitioned groups step by step, on SQLite and the real PostgreSQL, against fake shops that
sell on their own: a push computed before a sale reached the hub never hands that sale back, an
absolute-only shop is counted for the whole value it is sent, lost answers are resent with their
key (or never, without one; a lost absolute value once it can no longer land late), a decrement
cut short at 0 frees nothing until the sales have had time to arrive, a cancellation counts
again, a read-back anchors, and concurrent push jobs for four shops never grant more than is
free."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from hub.context import Hub
from hub.db.tables import ChannelStockRow
from hub.errors import RetryableError
from hub.services.stock import adjustments, effects, levels, push, reconcile, scheduling
from hub.services.stock.adjustments import Adjustment
from tests.integration.inventory_support import close_hub, database, database_url, make_hub, place_order, seed  # noqa: F401

PARTITIONED = {"flash": {"mode": "partitioned", "skus": ["HOT"]}}


async def _exposure(hub: Hub, shop: str) -> ChannelStockRow:
    async with hub.database().session() as session:
        return (await session.execute(select(ChannelStockRow).where(
            ChannelStockRow.shop == shop, ChannelStockRow.merchant_sku == "HOT"))).scalar_one()


async def _available(hub: Hub) -> int:
    async with hub.database().session() as session:
        return (await levels.stock_of(session, ["HOT"]))["HOT"].available


async def _dirty(hub: Hub, *shops: str) -> None:
    async with hub.database().transaction() as session:
        await session.execute(ChannelStockRow.__table__.update().where(ChannelStockRow.shop.in_(shops))
                              .values(dirty=True))


async def _start(hub: Hub, on_hand: int = 10) -> None:
    await seed(hub, "HOT", on_hand)
    for shop in hub.config.shops:
        await push.push_shop(hub, shop)


async def _push_losing_the_answer(hub: Hub, shop: str) -> None:
    """A push job whose call reaches the shop and is applied, but whose answer is lost."""
    hub.fakes[shop].lose_answer_next = [RetryableError("read timeout")]  # type: ignore[attr-defined]
    with pytest.raises(RetryableError):
        await push.push_shop(hub, shop)


async def _sweep(hub: Hub) -> None:
    """The dirty sweep, with each push it schedules run at once."""
    for shop in sorted(await scheduling.shops_to_sweep(hub, older_than_s=0)):
        await push.push_shop(hub, shop)


async def _sale(hub: Hub, shop: str, quantity: int, at: datetime | None = None) -> int:
    """The hub takes in a sale the fake shop already made."""
    order_id = await place_order(hub, [("HOT", quantity)], shop=shop, created=at)
    await effects.reserve_order(hub, order_id)
    return order_id


async def test_a_raise_computed_before_a_sale_reached_the_hub_does_not_hand_the_sale_back(
    database_url: str,  # noqa: F811
) -> None:
    hub = make_hub(database_url, stock_groups=PARTITIONED)
    a, b = hub.fakes["shop-a"], hub.fakes["shop-b"]  # type: ignore[attr-defined]
    try:
        await _start(hub)
        assert (a.shows["HOT"], b.shows["HOT"]) == (5, 5)
        a.buyer_orders("HOT", 5)  # shop-a sells out; the hub has not heard yet
        await adjustments.adjust_stock(hub, [Adjustment("wh1", "HOT", delta=2)], actor="test")  # 12: 6 each
        await push.push_shop(hub, "shop-a")
        # An absolute 6 would let shop-a sell 6 more on top of the 5 it sold: 16 on 12. A change
        # of +1 (all that is free while the 5 are unseen) keeps it to 11.
        assert a.shows["HOT"] == 1 and a.shows["HOT"] + 5 + b.shows["HOT"] <= await _available(hub)
        await _sale(hub, "shop-a", 5)
        await _dirty(hub, "shop-a")
        await push.push_shop(hub, "shop-a")
        assert (a.shows["HOT"], b.shows["HOT"], await _available(hub)) == (2, 5, 7)
        assert (await _exposure(hub, "shop-a")).exposure == 2
    finally:
        await close_hub(hub)


async def test_an_absolute_only_shop_is_counted_for_the_whole_value_it_is_sent(database_url: str) -> None:  # noqa: F811
    hub = make_hub(database_url, stock_groups=PARTITIONED, absolute_only=("shop-b",))
    a, b = hub.fakes["shop-a"], hub.fakes["shop-b"]  # type: ignore[attr-defined]
    try:
        await _start(hub)
        b.buyer_orders("HOT", 2)
        await _sale(hub, "shop-b", 2)  # seen: exposure 3, target 4, not yet down to half
        await _dirty(hub, "shop-b")
        assert (await push.push_shop(hub, "shop-b")).pushed == 0
        b.buyer_orders("HOT", 2)  # shows 1, the hub has not heard: exposure still 3
        await adjustments.adjust_stock(hub, [Adjustment("wh1", "HOT", delta=6)], actor="test")  # 14, 7 each
        await _dirty(hub, "shop-b")
        await push.push_shop(hub, "shop-b")
        row = await _exposure(hub, "shop-b")
        # Pushed 4 (7 less its exposure 3): it now shows 4 and sold 2 unseen; counted as 3 + 4.
        assert b.shows["HOT"] == 4 and row.exposure == 7 >= b.shows["HOT"] + 2
        assert a.shows["HOT"] + b.shows["HOT"] + 2 <= await _available(hub)
    finally:
        await close_hub(hub)


async def test_a_change_whose_answer_was_lost_is_sent_again_with_its_key_and_applied_once(
    database_url: str,  # noqa: F811
) -> None:
    hub = make_hub(database_url, stock_groups=PARTITIONED)
    a = hub.fakes["shop-a"]  # type: ignore[attr-defined]
    try:
        await _start(hub)
        a.buyer_orders("HOT", 3)
        await _sale(hub, "shop-a", 3)  # 7 left: 3 each
        await push.push_shop(hub, "shop-b")  # lowered 5 → 3 first
        await _push_losing_the_answer(hub, "shop-a")  # +1 applied, the answer lost
        first = a.changes[-1][0]
        row = await _exposure(hub, "shop-a")
        assert a.shows["HOT"] == 3 and row.pending_key == first.key and row.exposure == 3
        await push.push_shop(hub, "shop-a")
        resent = a.changes[-1][0]
        assert len(a.changes) == 2 and (resent.key, resent.delta) == (first.key, 1)
        assert a.shows["HOT"] == 3 and (await _exposure(hub, "shop-a")).pending_key is None
    finally:
        await close_hub(hub)


async def test_a_first_value_whose_answer_was_lost_stays_counted_and_is_set_again_absolute(
    database_url: str,  # noqa: F811
) -> None:
    hub = make_hub(database_url, stock_groups=PARTITIONED)
    a = hub.fakes["shop-a"]  # type: ignore[attr-defined]
    try:
        await seed(hub, "HOT", 10)
        await _push_losing_the_answer(hub, "shop-a")  # 5 applied, the answer lost
        assert a.shows["HOT"] == 5 and (await _exposure(hub, "shop-a")).exposure == 5
        await push.push_shop(hub, "shop-b")
        assert hub.fakes["shop-b"].shows["HOT"] == 5  # type: ignore[attr-defined]
        await adjustments.adjust_stock(hub, [Adjustment("wh1", "HOT", delta=10)], actor="test")  # 20: 10 each
        await _dirty(hub, "shop-a")
        await push.push_shop(hub, "shop-a")
        # The first value may still land, late: nothing is sent over it until it cannot...
        assert [c[0].quantity for c in a.calls] == [5] and (await _exposure(hub, "shop-a")).dirty
        hub.config.rules.stock_unanswered_wait_s = 0  # ...which is now (the wait is over)
        await push.push_shop(hub, "shop-a")
        # What shop-a shows was never confirmed, so it is set again absolutely, not changed by +5,
        # and counted on top: it may have sold some of the first 5 unseen.
        assert not a.changes and [c[0].quantity for c in a.calls] == [5, 10] and a.shows["HOT"] == 10
        assert (await _exposure(hub, "shop-a")).exposure == 15
    finally:
        await close_hub(hub)


async def test_a_change_without_a_key_whose_answer_was_lost_is_never_sent_again(database_url: str) -> None:  # noqa: F811
    hub = make_hub(database_url, stock_groups=PARTITIONED, unkeyed=("shop-a",))
    a = hub.fakes["shop-a"]  # type: ignore[attr-defined]
    try:
        await _start(hub)
        a.buyer_orders("HOT", 3)
        await _sale(hub, "shop-a", 3)
        await push.push_shop(hub, "shop-b")
        await _push_losing_the_answer(hub, "shop-a")
        assert a.shows["HOT"] == 3
        await _dirty(hub, "shop-a")
        await push.push_shop(hub, "shop-a")
        assert len(a.changes) == 1 and a.shows["HOT"] == 3  # counted as made (+1, exposure 3), not resent
        assert (await _exposure(hub, "shop-a")).exposure == 3
    finally:
        await close_hub(hub)


async def test_a_decrement_cut_short_at_zero_frees_nothing_until_the_sales_have_had_time_to_arrive(
    database_url: str,  # noqa: F811
) -> None:
    hub = make_hub(database_url, stock_groups=PARTITIONED, rules={"stock_settle_after_s": 3600})
    a, b = hub.fakes["shop-a"], hub.fakes["shop-b"]  # type: ignore[attr-defined]
    try:
        await _start(hub)
        a.buyer_orders("HOT", 5)
        sold_at = datetime.now(UTC)
        b.buyer_orders("HOT", 1)
        await _sale(hub, "shop-b", 1)  # 9: shop-b wants 4... and shop-a 4, so it is lowered by 1
        await _dirty(hub, "shop-a", "shop-b")
        await push.push_shop(hub, "shop-a")
        row = await _exposure(hub, "shop-a")
        assert a.shows["HOT"] == 0 and row.exposure == 5 and row.anchor_value == 0  # cut short: not credited
        await _sale(hub, "shop-a", 5, at=sold_at)  # the sales arrive; they came before the anchor
        await _dirty(hub, "shop-a", "shop-b")
        await push.push_shop(hub, "shop-a")
        assert (await _exposure(hub, "shop-a")).exposure == 0 and a.shows["HOT"] == 0
        # 4 are left: shop-a wants 2 and gets them; nothing was given back wrongly meanwhile.
        assert await _available(hub) == 4
        hub.config.rules.stock_settle_after_s = 0
        await _dirty(hub, "shop-a", "shop-b")
        for shop in ("shop-b", "shop-a", "shop-b", "shop-a"):
            await push.push_shop(hub, shop)
        assert (a.shows["HOT"], b.shows["HOT"]) == (2, 2)
    finally:
        await close_hub(hub)


async def test_the_sweep_brings_back_units_held_by_a_decrement_to_zero_once_the_settle_time_has_passed(
    database_url: str,  # noqa: F811
) -> None:
    """No stock change comes after: only the sweep can see that the held units are due back."""
    hub = make_hub(database_url, stock_groups=PARTITIONED, rules={"stock_settle_after_s": 3600})
    a, b = hub.fakes["shop-a"], hub.fakes["shop-b"]  # type: ignore[attr-defined]
    try:
        await _start(hub)
        a.buyer_orders("HOT", 4)  # shows 1; the hub has not heard
        sold_at = datetime.now(UTC)
        b.buyer_orders("HOT", 1)
        await _sale(hub, "shop-b", 1)  # 9 left: 4 each
        await _dirty(hub, "shop-a", "shop-b")
        await push.push_shop(hub, "shop-a")  # lowered by 1 to exactly 0: maybe cut short, not credited
        await _sale(hub, "shop-a", 4, at=sold_at)  # 5 left: 2 each
        await _dirty(hub, "shop-a", "shop-b")
        await push.push_shop(hub, "shop-b")  # lowered to 2
        await push.push_shop(hub, "shop-a")  # raised by the 1 its count lacks
        row = await _exposure(hub, "shop-a")
        assert (a.shows["HOT"], b.shows["HOT"], row.exposure, row.dirty) == (1, 2, 2, False)
        await _sweep(hub)
        assert (a.shows["HOT"], b.shows["HOT"]) == (1, 2)  # not due yet
        hub.config.rules.stock_settle_after_s = 0  # every sale from before the anchor has arrived
        await _sweep(hub)
        assert (a.shows["HOT"], b.shows["HOT"]) == (2, 2)
        assert (await _exposure(hub, "shop-a")).exposure == 2
        assert await scheduling.shops_to_sweep(hub) == set()  # nothing left to wake
    finally:
        await close_hub(hub)


async def test_units_due_back_settled_by_another_shops_push_are_still_pushed_to_their_shop(
    database_url: str,  # noqa: F811
) -> None:
    """Another shop's push job settles the whole SKU, the held units included, before the sweep
    looks: the shop holding them must still be raised to its share, not left showing less."""
    hub = make_hub(database_url, stock_groups=PARTITIONED, rules={"stock_settle_after_s": 3600})
    a, b = hub.fakes["shop-a"], hub.fakes["shop-b"]  # type: ignore[attr-defined]
    try:
        await _start(hub)
        a.buyer_orders("HOT", 4)  # shows 1; the hub has not heard
        sold_at = datetime.now(UTC)
        b.buyer_orders("HOT", 1)
        await _sale(hub, "shop-b", 1)
        await _dirty(hub, "shop-a", "shop-b")
        await push.push_shop(hub, "shop-a")  # lowered by 1 to exactly 0: maybe cut short, not credited
        await _sale(hub, "shop-a", 4, at=sold_at)  # 5 left: 2 each
        await _dirty(hub, "shop-a", "shop-b")
        await push.push_shop(hub, "shop-b")  # lowered to 2
        await push.push_shop(hub, "shop-a")  # raised by the 1 its count lacks: shows 1, counted 2
        assert a.shows["HOT"] == 1
        b.buyer_orders("HOT", 1)
        await _sale(hub, "shop-b", 1)  # 4 left: 2 each
        await push.push_shop(hub, "shop-a")  # counted for its 2: nothing to push
        hub.config.rules.stock_settle_after_s = 0  # every sale from before shop-a's anchor has arrived
        await push.push_shop(hub, "shop-b")  # its job comes next and settles shop-a's held unit too
        row = await _exposure(hub, "shop-a")
        assert (a.shows["HOT"], row.exposure, row.target) == (1, 1, 2)
        await _sweep(hub)
        assert (a.shows["HOT"], b.shows["HOT"]) == (2, 2)
        assert await scheduling.shops_to_sweep(hub, older_than_s=0) == set()
    finally:
        await close_hub(hub)


async def test_units_held_by_an_overwrite_come_back_once_the_settle_time_has_passed(database_url: str) -> None:  # noqa: F811
    hub = make_hub(database_url, stock_groups=PARTITIONED, absolute_only=("shop-a",),
                   rules={"stock_settle_after_s": 3600})
    a, b = hub.fakes["shop-a"], hub.fakes["shop-b"]  # type: ignore[attr-defined]
    try:
        await _start(hub)
        await adjustments.adjust_stock(hub, [Adjustment("wh1", "HOT", delta=-6)], actor="test")  # 4: 2 each
        await _dirty(hub, "shop-a", "shop-b")
        await push.push_shop(hub, "shop-b")  # lowered by 3, confirmed
        await push.push_shop(hub, "shop-a")  # over-committed: pushed 0, still counted for 5
        row = await _exposure(hub, "shop-a")
        assert a.shows["HOT"] == 0 and row.exposure == 5 and b.shows["HOT"] == 2
        hub.config.rules.stock_settle_after_s = 0  # every sale from before the 0 has arrived (none)
        await _dirty(hub, "shop-a", "shop-b")
        for shop in ("shop-a", "shop-b", "shop-a"):
            await push.push_shop(hub, shop)
        assert (await _exposure(hub, "shop-a")).exposure == a.shows["HOT"] == 2
    finally:
        await close_hub(hub)


async def test_a_cancelled_sale_counts_in_its_shop_again(database_url: str) -> None:  # noqa: F811
    hub = make_hub(database_url, stock_groups=PARTITIONED)
    a = hub.fakes["shop-a"]  # type: ignore[attr-defined]
    try:
        await _start(hub)
        a.buyer_orders("HOT", 2)
        order_id = await _sale(hub, "shop-a", 2)
        assert (await _exposure(hub, "shop-a")).exposure == 3
        a.shows["HOT"] += 2  # the platform puts the units back on sale
        await effects.release_order(hub, order_id)
        await effects.release_order(hub, order_id)  # a repeat changes nothing
        assert (await _exposure(hub, "shop-a")).exposure == 5 == a.shows["HOT"]
        assert await _available(hub) == 10
    finally:
        await close_hub(hub)


async def test_a_read_back_anchors_and_a_listing_raised_by_hand_is_counted(database_url: str) -> None:  # noqa: F811
    hub = make_hub(database_url, stock_groups=PARTITIONED)
    a = hub.fakes["shop-a"]  # type: ignore[attr-defined]
    try:
        await _start(hub)
        a.shows["HOT"] = 9  # someone raised it in the seller centre
        report = await reconcile.reconcile_shop(hub, "shop-a", push=False)
        row = await _exposure(hub, "shop-a")
        assert report.raised_outside == 1 and row.exposure == 9 and row.anchor_value == 9
        await push.push_shop(hub, "shop-a")  # lowered back to its share
        assert a.shows["HOT"] == 5 and (await _exposure(hub, "shop-a")).exposure == 5
    finally:
        await close_hub(hub)


async def test_concurrent_push_jobs_never_grant_more_than_is_free(database_url: str) -> None:  # noqa: F811
    """Four shops' jobs plan at once (on PostgreSQL really at once, serialised by the SKU's lock)
    while each shop sells unseen: what they can sell, plus what they sold unseen, stays within
    what is available after every round."""
    shops = {f"shop-{i}": {} for i in range(4)}
    hub = make_hub(database_url, shops, stock_groups=PARTITIONED)
    fakes = hub.fakes  # type: ignore[attr-defined]
    try:
        await _start(hub, on_hand=40)
        unseen: dict[str, int] = dict.fromkeys(shops, 0)
        for rnd in range(6):
            for i, name in enumerate(shops):
                qty = min(fakes[name].shows["HOT"], (i + rnd) % 4)
                if qty:
                    fakes[name].buyer_orders("HOT", qty)
                    unseen[name] += qty
            await adjustments.adjust_stock(hub, [Adjustment("wh1", "HOT", delta=3)], actor="test")
            await _dirty(hub, *shops)
            await asyncio.gather(*(push.push_shop(hub, name) for name in shops))
            async with hub.database().session() as session:
                exposures = (await session.execute(select(ChannelStockRow.exposure))).scalars().all()
            left = await _available(hub)
            assert sum(e or 0 for e in exposures) <= left
            assert sum(f.shows["HOT"] for f in fakes.values()) + sum(unseen.values()) <= left
            if rnd % 2:  # the hub takes the sales in, late
                for name, qty in unseen.items():
                    if qty:
                        await _sale(hub, name, qty)
                unseen = dict.fromkeys(shops, 0)
    finally:
        await close_hub(hub)
