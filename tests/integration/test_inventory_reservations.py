"""Reservations on SQLite and the real PostgreSQL: each order line reserves, releases and consumes
stock exactly once whatever the order of events; short lines hold the order with the reason; a
burst of concurrent reservations never takes more than there is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from contracts import OrderStatus
from hub.context import Hub
from hub.db.engine import Database
from hub.db.tables import OrderHoldRow, OrderRow, ReservationRow, StockLedgerRow
from hub.errors import BadInputError
from hub.services.stock import adjustments, effects, reservations, skus
from hub.services.stock.adjustments import Adjustment
from hub.services.stock.levels import stock_of
from hub.services.stock.reservations import LineNeed, ReserveOutcome
from tests.integration.inventory_support import (  # noqa: F401
    close_hub,
    database,
    database_url,
    make_hub,
    place_order,
    seed,
    stock_row,
)


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:  # noqa: F811
    h = make_hub(database_url)
    yield h
    await close_hub(h)


async def _holds(hub: Hub, order_id: int) -> dict[str, str]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(OrderHoldRow).where(
            OrderHoldRow.order_id == order_id, OrderHoldRow.released_at.is_(None)))).scalars()
        return {r.code: r.reason for r in rows}


async def test_paid_order_reserves_once_however_often_reported(hub: Hub) -> None:
    await seed(hub, "SKU-1", 10)
    order_id = await place_order(hub, [("SKU-1", 2)])
    for _ in range(3):
        await effects.reserve_order(hub, order_id)
    assert await stock_row(hub, "SKU-1") == (10, 2)
    async with hub.database().session() as session:
        ledger = (await session.execute(select(StockLedgerRow).where(
            StockLedgerRow.cause == "order_reserved"))).scalars().all()
    assert [(r.reserved_delta, r.reference) for r in ledger] == [(2, f"order:{order_id}")]


async def test_cancel_before_payment_report_means_the_late_reserve_takes_nothing(hub: Hub) -> None:
    await seed(hub, "SKU-1", 10)
    order_id = await place_order(hub, [("SKU-1", 3)])
    await effects.release_order(hub, order_id)  # the cancel overtook the payment
    await effects.reserve_order(hub, order_id)
    assert await stock_row(hub, "SKU-1") == (10, 0)
    await effects.consume_order(hub, order_id)  # and a confused "shipped" changes nothing either
    assert await stock_row(hub, "SKU-1") == (10, 0)


async def test_shipment_consumes_once_and_a_late_cancel_gives_nothing_back(hub: Hub) -> None:
    await seed(hub, "SKU-1", 10)
    order_id = await place_order(hub, [("SKU-1", 4)])
    await effects.reserve_order(hub, order_id)
    await effects.consume_order(hub, order_id)
    await effects.consume_order(hub, order_id)
    await effects.release_order(hub, order_id)
    assert await stock_row(hub, "SKU-1") == (6, 0)
    async with hub.database().session() as session:
        states = (await session.execute(select(ReservationRow.state).where(
            ReservationRow.order_id == order_id))).scalars().all()
    assert states == ["consumed"]


async def test_line_without_stock_holds_the_order_naming_sku_need_and_available(hub: Hub) -> None:
    await seed(hub, "SKU-1", 5)
    order_id = await place_order(hub, [("SKU-1", 7)])
    effect = await effects.reserve_order(hub, order_id)
    assert effect.short
    holds = await _holds(hub, order_id)
    assert holds["stock_short"] == "SKU SKU-1: needed 7, available 5"
    assert await stock_row(hub, "SKU-1") == (5, 0)
    # Stock arrives: the waiting order is reserved and its hold lifted, without anyone asking.
    await adjustments.adjust_stock(hub, [Adjustment("wh1", "SKU-1", delta=3)], actor="test")
    assert await stock_row(hub, "SKU-1") == (8, 7)
    assert "stock_short" not in await _holds(hub, order_id)
    async with hub.database().session() as session:
        assert (await session.get(OrderRow, order_id)).on_hold is False  # type: ignore[union-attr]


async def test_short_line_released_by_cancel_never_reserves_later(hub: Hub) -> None:
    await seed(hub, "SKU-1", 1)
    order_id = await place_order(hub, [("SKU-1", 2)])
    await effects.reserve_order(hub, order_id)
    await effects.release_order(hub, order_id)
    await adjustments.adjust_stock(hub, [Adjustment("wh1", "SKU-1", delta=5)], actor="test")
    await effects.reserve_order(hub, order_id)
    assert await stock_row(hub, "SKU-1") == (6, 0)


async def test_bundle_reserves_its_components_and_shows_the_minimum(hub: Hub) -> None:
    await seed(hub, "CUP", 10)
    await seed(hub, "LID", 3)
    async with hub.database().transaction() as session:
        await skus.define_sku(session, "SET", components={"CUP": 2, "LID": 1})
        levels = await stock_of(session, ["SET"])
    assert levels["SET"].available == 3  # min(10 // 2, 3 // 1)
    order_id = await place_order(hub, [("SET", 2)])
    await effects.reserve_order(hub, order_id)
    assert await stock_row(hub, "CUP") == (10, 4)
    assert await stock_row(hub, "LID") == (3, 2)
    async with hub.database().session() as session:
        assert (await stock_of(session, ["SET"]))["SET"].available == 1
    await effects.consume_order(hub, order_id)
    assert await stock_row(hub, "CUP") == (6, 0)


async def test_unknown_sku_line_puts_the_order_on_hold(hub: Hub) -> None:
    await seed(hub, "SKU-1", 5)
    order_id = await place_order(hub, [("NOPE", 1)])
    await effects.reserve_order(hub, order_id)
    assert "NOPE" in (await _holds(hub, order_id))["sku_unknown"]


async def test_created_order_reserves_when_shop_takes_stock_at_creation(database_url: str) -> None:  # noqa: F811
    from hub.services import order_flow

    hub = make_hub(database_url, {"shop-a": {"reserve_on": "created"}})
    try:
        await seed(hub, "SKU-1", 5)
        order_id = await place_order(hub, [("SKU-1", 1)], status=OrderStatus.PENDING_PAYMENT)
        await order_flow.after_order_change(hub, order_id, None, OrderStatus.PENDING_PAYMENT, "test")
        assert await stock_row(hub, "SKU-1") == (5, 1)
        await order_flow.after_order_change(hub, order_id, "pending_payment", OrderStatus.CLOSED, "test")
        assert await stock_row(hub, "SKU-1") == (5, 0)
    finally:
        await close_hub(hub)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"warehouse": "wh1", "merchant_sku": "SKU-1", "on_hand": -1}, "on_hand"),
        ({"warehouse": "wh1", "merchant_sku": "SKU-1", "delta": 1.5}, "delta"),
        ({"warehouse": "wh1", "merchant_sku": "SKU-1", "delta": "3"}, "delta"),
        ({"warehouse": "wh1", "merchant_sku": "SKU-1"}, "delta"),
        ({"warehouse": "", "merchant_sku": "SKU-1", "delta": 1}, "warehouse"),
    ],
)
def test_bad_adjustment_is_refused_naming_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(BadInputError) as info:
        adjustments.parse_adjustment(raw, "adjustment 1")
    assert info.value.field == field and "adjustment 1" in str(info.value)


async def test_batch_with_unknown_warehouse_or_sku_applies_nothing(hub: Hub) -> None:
    await seed(hub, "SKU-1", 5)
    for bad, field in [(Adjustment("wh-nowhere", "SKU-1", delta=1), "warehouse"),
                       (Adjustment("wh1", "SKU-404", delta=1), "merchant_sku")]:
        with pytest.raises(BadInputError) as info:
            await adjustments.adjust_stock(hub, [Adjustment("wh1", "SKU-1", delta=4), bad], actor="test")
        assert info.value.field == field and "adjustment 2" in str(info.value)
    assert await stock_row(hub, "SKU-1") == (5, 0)


async def test_adjustment_cannot_take_on_hand_below_reserved(hub: Hub) -> None:
    await seed(hub, "SKU-1", 5)
    order_id = await place_order(hub, [("SKU-1", 4)])
    await effects.reserve_order(hub, order_id)
    with pytest.raises(BadInputError, match="below the 4 reserved"):
        await adjustments.adjust_stock(hub, [Adjustment("wh1", "SKU-1", delta=-2)], actor="test")
    await adjustments.adjust_stock(hub, [Adjustment("wh1", "SKU-1", on_hand=4)], actor="test")
    assert await stock_row(hub, "SKU-1") == (4, 4)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_fifty_concurrent_reservations_on_twenty_units_exactly_twenty_succeed(database_url: str) -> None:  # noqa: F811
    hub = make_hub(database_url)
    try:
        await seed(hub, "HOT", 20)
        # Fifty buyers racing over at most 16 connections: enough to contend for the row's lock for
        # real, few enough for a shared server (tests may hold 20 connections at once).
        db = Database.connect(database_url, pool_size=8)

        async def reserve(order_id: int) -> ReserveOutcome:
            async with db.transaction() as session:
                result = await reservations.reserve_line(session, order_id, LineNeed("1", "HOT", 1))
                return result.outcome

        outcomes = await asyncio.gather(*(reserve(1000 + i) for i in range(50)))
        await db.dispose()
        assert outcomes.count(ReserveOutcome.RESERVED) == 20
        assert outcomes.count(ReserveOutcome.SHORT) == 30
        assert await stock_row(hub, "HOT") == (20, 20)
    finally:
        await close_hub(hub)
