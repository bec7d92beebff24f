"""The review (审单) in the order follow-up, on SQLite and the real PostgreSQL: a batch of mixed
orders reviewed in one follow-up (every reason a hold, plugins' audit holds keeping their code),
approved orders handed to the flow by one outbox row, a duplicated message reviewing once, a
person's release approving the order, a review run again after the rules changed, and orders
waiting for a person when the review is not automatic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from contracts import OrderStatus
from contracts.fulfilment import Hold
from hub.context import Hub
from hub.db.tables import OrderEventRow, OrderHoldRow, OrderRow
from hub.plugin_api import hookimpl
from hub.services import order_flow, orders
from hub.services.fulfilment import review
from tests.integration.inventory_support import (  # noqa: F401
    close_hub,
    database,
    database_url,
    make_hub,
    place_order,
    seed,
)
from tests.integration.review_support import handed_to_flow, paid_changes

RULES = {"amount_above": "50", "sku_combinations": [["GIFT", "TEE"]]}


class Audit:
    """A merchant's plugin: holds orders of the TEE with its own code."""

    @hookimpl
    def audit_order(self, order: Any, order_id: int, shop: str) -> list[Hold]:
        if any(line.merchant_sku == "TEE" for line in order.lines):
            return [Hold(code="check_print", reason="printed tee: check the artwork")]
        return []


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:  # noqa: F811
    h = make_hub(database_url, plugins=(Audit(),), fulfilment={"review": RULES})
    for sku in ("MUG", "TEE", "GIFT"):
        await seed(h, sku, 100)
    yield h
    await close_hub(h)


async def _open(hub: Hub, order_id: int) -> dict[str, str]:
    async with hub.database().session() as session:
        return dict((await session.execute(select(OrderHoldRow.code, OrderHoldRow.reason).where(
            OrderHoldRow.order_id == order_id, OrderHoldRow.released_at.is_(None)))).all())


async def _status(hub: Hub, order_id: int) -> str | None:
    async with hub.database().session() as session:
        return await session.scalar(select(OrderRow.review_status).where(OrderRow.id == order_id))


async def _reviews(hub: Hub, order_id: int) -> list[OrderEventRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(OrderEventRow).where(
            OrderEventRow.order_id == order_id, OrderEventRow.kind == "reviewed").order_by(OrderEventRow.id)))
            .scalars())


async def test_a_batch_of_mixed_orders_is_reviewed_in_one_follow_up(hub: Hub) -> None:
    passing = await place_order(hub, [("MUG", 1)])  # 19.90
    expensive = await place_order(hub, [("MUG", 3)])  # 59.70
    plugin = await place_order(hub, [("TEE", 1)])
    everything = await place_order(hub, [("TEE", 2), ("GIFT", 1)])  # 59.70, the combination, the plugin
    await order_flow.after_orders_change(hub, paid_changes([passing, expensive, plugin, everything]))

    assert [await _status(hub, o) for o in (passing, expensive, plugin, everything)] == [
        "approved", "held", "held", "held"]
    assert await _open(hub, passing) == {}
    assert set(await _open(hub, expensive)) == {"review_amount"}
    assert await _open(hub, plugin) == {"check_print": "printed tee: check the artwork"}
    held = await _open(hub, everything)
    assert set(held) == {"review_amount", "review_sku_combo", "check_print"}
    assert "59.70 CNY is above 50" in held["review_amount"] and "GIFT + TEE" in held["review_sku_combo"]
    [event] = await _reviews(hub, everything)
    assert event.detail["outcome"] == "held" and event.cause == "review"
    assert {r["code"] for r in event.detail["reasons"]} == set(held)
    assert await handed_to_flow(hub) == [[passing]], "only the approved order goes to the flow, in one outbox row"


async def test_a_duplicated_message_reviews_once(hub: Hub) -> None:
    passing, held = await place_order(hub, [("MUG", 1)]), await place_order(hub, [("MUG", 3)])
    for _ in range(2):
        await order_flow.after_orders_change(hub, paid_changes([passing, held]))
    # The same order twice in one batch, too.
    again = await place_order(hub, [("MUG", 1)])
    await order_flow.after_orders_change(hub, paid_changes([again, again]))
    assert [len(await _reviews(hub, o)) for o in (passing, held, again)] == [1, 1, 1]
    assert await handed_to_flow(hub) == [[passing], [again]]
    async with hub.database().session() as session:
        added = (await session.execute(select(OrderEventRow).where(OrderEventRow.kind == "hold_added"))).scalars()
        assert [(e.order_id, e.detail["code"]) for e in added] == [(held, "review_amount")]


async def test_releasing_the_last_review_hold_approves_and_hands_over(hub: Hub) -> None:
    order_id = await place_order(hub, [("TEE", 3)])  # 59.70 and the plugin's hold
    await order_flow.after_orders_change(hub, paid_changes([order_id]))
    async with hub.database().transaction() as session:
        await orders.add_hold(session, order_id, Hold(code="stock_check", reason="count it"), cause="system")
        await orders.release_hold(session, order_id, "review_amount", actor="apikey:ab:alice")
    await order_flow.after_hold_released(hub, order_id)
    assert await _status(hub, order_id) == "held", "the plugin's hold is a review hold too"
    async with hub.database().transaction() as session:
        await orders.release_hold(session, order_id, "check_print", actor="apikey:cd:bob")
    for _ in range(2):  # the release's follow-up, delivered twice
        await order_flow.after_hold_released(hub, order_id)
    assert await _status(hub, order_id) == "approved"
    last = (await _reviews(hub, order_id))[-1]
    assert last.actor == "apikey:cd:bob" and last.detail["reviewed_by"] == "apikey:cd:bob"
    assert last.detail["outcome"] == "approved" and len(await _reviews(hub, order_id)) == 2
    assert await handed_to_flow(hub) == [[order_id]], "handed over once; the flow waits for stock_check itself"
    assert set(await _open(hub, order_id)) == {"stock_check"}
    # Reviewed again (the same rules): what a person released stays released.
    result, unknown = await review.review_again(hub, [order_id, 999_999], actor="apikey:ab:alice")
    assert result.approved == [order_id] and unknown == [999_999]
    assert set(await _open(hub, order_id)) == {"stock_check"} and await handed_to_flow(hub) == [[order_id]]


async def test_reviewing_again_after_the_rules_changed(database_url: str) -> None:  # noqa: F811
    strict = make_hub(database_url, fulfilment={"review": {"amount_above": "50", "cities": ["杭州"]}})
    loose = make_hub(database_url, fulfilment={"review": {"cities": ["杭州"]}})
    none = make_hub(database_url)
    try:
        await seed(strict, "MUG", 100)
        order_id = await place_order(strict, [("MUG", 3)])
        cancelled = await place_order(strict, [("MUG", 1)], status=OrderStatus.CANCELLED)
        await order_flow.after_orders_change(strict, paid_changes([order_id]))
        assert set(await _open(strict, order_id)) == {"review_amount", "review_region"}
        # The amount rule is gone: its hold is released under the name of who asked, the region stays.
        result, _ = await review.review_again(loose, [order_id, cancelled], actor="apikey:ab:alice")
        assert result.held == {order_id: [Hold(code="review_region", reason="recipient city 杭州市 (杭州 is "
                                                                            "listed in cities)")]}
        assert result.skipped == [cancelled]
        assert set(await _open(loose, order_id)) == {"review_region"}
        # The amount rule is back: a hold a review run released (not a person) comes back.
        await review.review_again(strict, [order_id], actor="apikey:ab:alice")
        assert set(await _open(strict, order_id)) == {"review_amount", "review_region"}
        # No rules at all: approved, and handed to the flow.
        result, _ = await review.review_again(none, [order_id], actor="apikey:ab:alice")
        assert result.approved == [order_id] and await _open(none, order_id) == {}
        assert await _status(none, order_id) == "approved" and await handed_to_flow(none) == [[order_id]]
        async with none.database().session() as session:
            released_by = set((await session.execute(select(OrderHoldRow.released_by).where(
                OrderHoldRow.order_id == order_id))).scalars())
        assert released_by == {"apikey:ab:alice"}
    finally:
        await close_hub(strict)


async def test_a_manual_hold_before_the_review_keeps_the_order_held(hub: Hub) -> None:
    order_id = await place_order(hub, [("MUG", 1)])
    await review.hold(hub, order_id, "buyer called: wait", actor="apikey:ab:alice")
    assert await _status(hub, order_id) is None
    async with hub.database().session() as session:
        assert [e.order.id for e in (await review.queue(session)).rows] == [order_id], "in the queue already"
    await order_flow.after_orders_change(hub, paid_changes([order_id]))
    assert await _status(hub, order_id) == "held" and await _open(hub, order_id) == {"manual": "buyer called: wait"}
    state, released = await review.release(hub, order_id, actor="apikey:cd:bob")
    assert released == ["manual"] and state.review_status == "approved" and not state.open_holds
    assert await handed_to_flow(hub) == [[order_id]]


async def test_orders_wait_for_a_person_when_the_review_is_not_automatic(database_url: str) -> None:  # noqa: F811
    hub = make_hub(database_url, fulfilment={"review": {"auto": False, "amount_above": "50"}})
    try:
        await seed(hub, "MUG", 100)
        waiting, held = await place_order(hub, [("MUG", 1)]), await place_order(hub, [("MUG", 3)])
        await order_flow.after_orders_change(hub, paid_changes([waiting, held]))
        assert [await _status(hub, o) for o in (waiting, held)] == ["waiting", "held"]
        assert set(await _open(hub, waiting)) == {"review_waiting"} and set(await _open(hub, held)) == {"review_amount"}
        assert await handed_to_flow(hub) == []
        async with hub.database().session() as session:
            page = await review.queue(session)
            assert [(e.order.id, [h.code for h in e.holds]) for e in page.rows] == [
                (waiting, ["review_waiting"]), (held, ["review_amount"])]
            assert [e.order.id for e in (await review.queue(session, code="review_amount")).rows] == [held]
            first = await review.queue(session, limit=1)
            assert [e.order.id for e in (await review.queue(session, limit=1, cursor=first.next_cursor)).rows] == [
                held]
        for _ in range(2):
            state, released = await review.approve(hub, waiting, actor="apikey:ab:alice")
        assert state.review_status == "approved" and not state.open_holds and released == []
        assert await handed_to_flow(hub) == [[waiting]], "approved twice, handed over once"
        events = await _reviews(hub, waiting)
        assert events[-1].detail == {"outcome": "approved", "reasons": [], "reviewed_by": "apikey:ab:alice",
                                     "released": ["review_waiting"]}
    finally:
        await close_hub(hub)


async def test_the_legacy_high_value_rule_still_holds(database_url: str) -> None:  # noqa: F811
    hub = make_hub(database_url, rules={"high_value_hold_amount": 50})
    try:
        await seed(hub, "MUG", 100)
        order_id = await place_order(hub, [("MUG", 3)])
        await order_flow.after_orders_change(hub, paid_changes([order_id]))
        assert set(await _open(hub, order_id)) == {"high_value"} and await _status(hub, order_id) == "held"
    finally:
        await close_hub(hub)


async def test_actions_refuse_orders_they_do_not_apply_to(hub: Hub) -> None:
    cancelled = await place_order(hub, [("MUG", 1)], status=OrderStatus.CANCELLED)
    with pytest.raises(review.ReviewConflict, match="cancelled"):
        await review.approve(hub, cancelled, actor="a")
    with pytest.raises(review.ReviewConflict):
        await review.hold(hub, cancelled, "why", actor="a")
    from hub.errors import BadInputError, NotFoundError

    with pytest.raises(NotFoundError):
        await review.approve(hub, 999_999, actor="a")
    with pytest.raises(BadInputError, match="say why"):
        await review.hold(hub, cancelled, "   ", actor="a")
    with pytest.raises(NotFoundError, match="no open hold"):
        await review.release(hub, cancelled, actor="a", code="nope")


async def test_a_message_delivered_twice_at_once_reviews_once(hub: Hub) -> None:
    import asyncio

    order_ids = [await place_order(hub, [("MUG", qty)]) for qty in (1, 3, 1, 3)]
    await asyncio.gather(*(order_flow.after_orders_change(hub, paid_changes(order_ids)) for _ in range(2)))
    assert [len(await _reviews(hub, o)) for o in order_ids] == [1, 1, 1, 1]
    assert await handed_to_flow(hub) == [[order_ids[0], order_ids[2]]]
    async with hub.database().session() as session:
        added = (await session.execute(select(OrderEventRow).where(OrderEventRow.kind == "hold_added"))).scalars()
        assert sorted((e.order_id, e.detail["code"]) for e in added) == [
            (order_ids[1], "review_amount"), (order_ids[3], "review_amount")]
