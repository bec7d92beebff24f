"""The follow-up of a batch of order changes (``orders_changed``), on SQLite and the real
PostgreSQL: the oldest orders get the stock and the rest wait on a stock-short hold with the
reason, a batch delivered twice reserves once, new, cancelled and shipped orders mix in one
batch, a failing plugin blocks nobody, and the work for 100 orders takes no more statements than
for 20 but the power-of-two chunks of its inserts."""

from __future__ import annotations

import importlib
import math
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, func, select

from contracts import OrderStatus
from contracts.fulfilment import Hold
from hub.context import Hub
from hub.db.tables import OrderEventRow, OrderHoldRow, ReservationRow, StockLedgerRow
from hub.plugin_api import hookimpl
from hub.services import order_flow
from hub.services.stock import adjustments, effects
from tests.integration.inventory_support import (  # noqa: F401
    close_hub,
    database,
    database_url,
    make_hub,
    place_order,
    seed,
    stock_row,
)

PAID = OrderStatus.PAID.value


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:  # noqa: F811
    h = make_hub(database_url)
    yield h
    await close_hub(h)


async def _states(hub: Hub, order_ids: list[int]) -> list[str]:
    async with hub.database().session() as session:
        rows = dict((await session.execute(select(ReservationRow.order_id, ReservationRow.state).where(
            ReservationRow.order_id.in_(order_ids)))).all())
    return [rows.get(oid, "-") for oid in order_ids]


async def _open_holds(hub: Hub, order_ids: list[int]) -> dict[int, dict[str, str]]:
    async with hub.database().session() as session:
        rows = (await session.execute(select(OrderHoldRow).where(
            OrderHoldRow.order_id.in_(order_ids), OrderHoldRow.released_at.is_(None)))).scalars()
        out: dict[int, dict[str, str]] = {}
        for row in rows:
            out.setdefault(row.order_id, {})[row.code] = row.reason
        return out


async def _count(hub: Hub, model: Any, *where: Any) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _paid(order_ids: list[int]) -> list[list[Any]]:
    return [[oid, None, PAID, "test"] for oid in order_ids]


async def test_oldest_orders_get_the_stock_and_the_rest_wait_on_hold_with_the_reason(hub: Hub) -> None:
    await seed(hub, "HOT", 3)
    order_ids = [await place_order(hub, [("HOT", 1)]) for _ in range(5)]
    # The batch names them newest first: the oldest are still served first.
    await order_flow.after_orders_change(hub, _paid(list(reversed(order_ids))))
    assert await _states(hub, order_ids) == ["active", "active", "active", "short", "short"]
    assert await stock_row(hub, "HOT") == (3, 3)
    holds = await _open_holds(hub, order_ids)
    assert set(holds) == set(order_ids[3:])
    assert holds[order_ids[3]] == {"stock_short": "SKU HOT: needed 1, available 0"}


async def test_a_short_order_is_named_with_what_was_available_when_its_turn_came(hub: Hub) -> None:
    await seed(hub, "HOT", 5)
    big, small = await place_order(hub, [("HOT", 4)]), await place_order(hub, [("HOT", 3)])
    late = await place_order(hub, [("HOT", 1)])
    await order_flow.after_orders_change(hub, _paid([big, small, late]))
    # As if reserved one after the other: the 3 do not fit after the 4, the 1 still does.
    assert await _states(hub, [big, small, late]) == ["active", "short", "active"]
    assert (await _open_holds(hub, [small]))[small]["stock_short"] == "SKU HOT: needed 3, available 1"
    assert await stock_row(hub, "HOT") == (5, 5)


async def test_the_same_batch_delivered_twice_reserves_once(hub: Hub) -> None:
    await seed(hub, "HOT", 2)
    order_ids = [await place_order(hub, [("HOT", 1)]) for _ in range(3)]
    for _ in range(2):
        await order_flow.after_orders_change(hub, _paid(order_ids))
    assert await stock_row(hub, "HOT") == (2, 2)
    assert await _count(hub, StockLedgerRow, StockLedgerRow.cause == "order_reserved") == 2
    assert await _states(hub, order_ids) == ["active", "active", "short"]
    assert await _count(hub, OrderEventRow, OrderEventRow.kind == "hold_added") == 1


async def test_a_batch_mixing_new_cancelled_and_shipped_orders(hub: Hub) -> None:
    await seed(hub, "SKU-1", 10)
    cancelled = await place_order(hub, [("SKU-1", 2)])
    shipped = await place_order(hub, [("SKU-1", 3)])
    await order_flow.after_orders_change(hub, _paid([cancelled, shipped]))
    assert await stock_row(hub, "SKU-1") == (10, 5)
    new = await place_order(hub, [("SKU-1", 1)])
    paid_then_cancelled = await place_order(hub, [("SKU-1", 4)])
    await order_flow.after_orders_change(hub, [
        [new, None, PAID, "test"],
        [cancelled, PAID, OrderStatus.CANCELLED.value, "test"],
        [shipped, PAID, OrderStatus.SHIPPED.value, "test"],
        [paid_then_cancelled, None, PAID, "test"],
        [paid_then_cancelled, PAID, OrderStatus.CANCELLED.value, "test"],
    ])
    assert await _states(hub, [new, cancelled, shipped, paid_then_cancelled]) == [
        "active", "released", "consumed", "released"]
    assert await stock_row(hub, "SKU-1") == (7, 1)  # 3 shipped left; only the new order holds stock


async def test_a_failing_plugin_blocks_neither_the_others_nor_the_stock(database_url: str) -> None:  # noqa: F811
    seen: list[int] = []

    class Flaky:
        @hookimpl
        def order_changed(self, order_id: int, order: Any, old_status: str | None, new_status: str,
                          cause: str) -> None:
            if not seen:
                seen.append(-order_id)
                raise RuntimeError("plugin down")
            seen.append(order_id)

    hub = make_hub(database_url, plugins=(Flaky(),))
    try:
        await seed(hub, "SKU-1", 10)
        order_ids = [await place_order(hub, [("SKU-1", 1)]) for _ in range(3)]
        await order_flow.after_orders_change(hub, _paid(order_ids))
        assert seen == [-order_ids[0], *order_ids[1:]]
        assert await stock_row(hub, "SKU-1") == (10, 3)
    finally:
        await close_hub(hub)


async def test_audit_holds_of_a_batch_land_on_the_orders_that_call_for_them(database_url: str) -> None:  # noqa: F811
    class Audit:
        @hookimpl
        def audit_order(self, order: Any, order_id: int, shop: str) -> list[Hold]:
            return [Hold(code="check_address", reason="PO box")] if order_id % 2 == 0 else []

    hub = make_hub(database_url, plugins=(Audit(),), rules={"high_value_hold_amount": 100})
    try:
        await seed(hub, "SKU-1", 12)
        order_ids = [await place_order(hub, [("SKU-1", qty)]) for qty in (1, 6, 2, 3)]  # 19.90 each
        await order_flow.after_orders_change(hub, _paid(order_ids))
        holds = await _open_holds(hub, order_ids)
        for oid, qty in zip(order_ids, (1, 6, 2, 3), strict=True):
            expected = {"check_address"} if oid % 2 == 0 else set()
            if qty > 5:
                expected.add("high_value")
            assert set(holds.get(oid, {})) == expected, oid
        assert await stock_row(hub, "SKU-1") == (12, 12)  # holds do not stop the reservation
    finally:
        await close_hub(hub)


async def _statements(hub: Hub, order_ids: list[int]) -> int:
    count = 0

    def counted(*_: Any) -> None:
        nonlocal count
        count += 1

    engine = hub.database().engine.sync_engine
    event.listen(engine, "before_cursor_execute", counted)
    try:
        await order_flow.after_orders_change(hub, _paid(order_ids))
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    return count


async def test_statements_for_a_batch_do_not_grow_with_its_orders(hub: Hub) -> None:
    skus = [f"SKU-{n}" for n in range(5)]
    for sku in skus:
        await seed(hub, sku, 10)
    # 20 then 100 orders over the 5 SKUs, two lines each (3 units of each SKU per 5 orders): each
    # batch gets some of its lines and runs short of others.
    small = [await place_order(hub, [(skus[n % 5], 2), (skus[(n + 1) % 5], 1)]) for n in range(20)]
    large = [await place_order(hub, [(skus[n % 5], 2), (skus[(n + 1) % 5], 1)]) for n in range(100)]
    for_small = await _statements(hub, small)
    async with hub.database().transaction() as session:
        for sku in skus:
            await adjustments.apply_adjustment(session, adjustments.Adjustment("wh1", sku, delta=50))
    for_large = await _statements(hub, large)
    # The inserts with RETURNING (reservations, holds) go in power-of-two chunks (hub.db.returning):
    # a larger batch may cost one more statement per power of two, never one per order.
    assert for_large <= for_small + 2 * math.ceil(math.log2(100 / 20)), \
        f"{for_large} statements for 100 orders, {for_small} for 20"
    assert for_small < 40, for_small
    assert await stock_row(hub, "SKU-0") == (60, 60)
    short = await _count(hub, ReservationRow, ReservationRow.state == "short")
    for batch in (small, large):
        assert 0 < await _count(hub, ReservationRow, ReservationRow.state == "short",
                                ReservationRow.order_id.in_(batch)) < len(batch)
    # Retrying the orders short of stock (nothing came in) is one more batch of the same few statements.
    assert await effects.retry_short_orders(hub, skus) > 0
    assert await _count(hub, ReservationRow, ReservationRow.state == "short") == short


def test_the_batch_actor_is_registered_wherever_the_actors_are() -> None:
    from hub import runner
    from hub.queue.actors import registered_actors

    for module in runner.ACTOR_MODULES:
        importlib.import_module(module)
    spec = registered_actors()["orders_changed"]
    assert spec.queue == "default" and spec.max_retries == 5
