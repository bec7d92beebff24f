"""A refund before shipment and the platform's closing of the order both give stock back: each
reserved unit goes back exactly once whichever arrives first (``refund_release`` for the refunded
lines, the order flow's release for the closed order), and the closed order's interception holds
are lifted (nothing of it ships any more)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from contracts import OrderStatus
from contracts.fulfilment import Hold
from contracts.inventory import StockChangeCause
from hub.context import Hub
from hub.db.tables import AfterSaleLineRow, AfterSaleRow, OrderLineRow, OrderRow, StockLedgerRow
from hub.services import order_flow, orders
from hub.services.aftersales import refund_release
from hub.services.fulfilment.interception import CANCEL_HOLD, REFUND_HOLD
from hub.testing.fulfilment_world import open_holds
from tests.integration.inventory_support import make_hub, place_order, seed, stock_row

_ids = itertools.count(1)


def _hub(database_url: str) -> Hub:
    return make_hub(database_url, {"shop-a": {}}, aftersales={"auto_approve_refund_below": None})


async def _paid_order(hub: Hub, lines: list[tuple[str, int]]) -> int:
    order_id = await place_order(hub, lines)
    await order_flow.after_orders_change(hub, [[order_id, None, "paid", "test"]])
    return order_id


async def _refunded_case(hub: Hub, order_id: int, lines: list[tuple[str, int]]) -> int:
    """A refund-only case refunded at the platform for ``lines`` (SKU, units), as intake stores it."""
    async with hub.database().transaction() as session:
        order = await session.get(OrderRow, order_id)
        assert order is not None
        row = AfterSaleRow(platform=order.platform, shop=order.shop, external_id=f"RC-{next(_ids)}",
                           order_id=order_id, order_external_id=order.external_id, type="refund_only",
                           status="refunded", raw_status="SUCCESS", channel_updated_at=datetime.now(UTC), data={},
                           applied_at=datetime.now(UTC), refund_amount=Decimal("1"), currency="CNY", version="v1",
                           reason="不想要了")
        session.add(row)
        await session.flush()
        by_sku = {ol.merchant_sku: ol for ol in (await session.execute(
            select(OrderLineRow).where(OrderLineRow.order_id == order_id))).scalars()}
        for position, (sku, units) in enumerate(lines):
            session.add(AfterSaleLineRow(aftersale_id=row.id, position=position, order_line_id=by_sku[sku].id,
                                         line_external_id=by_sku[sku].external_id, merchant_sku=sku, quantity=units))
        return row.id


async def _platform_closes(hub: Hub, order_id: int, status: OrderStatus = OrderStatus.CLOSED) -> None:
    """The order sync stored the platform's closing; the order flow follows (twice: at least once)."""
    async with hub.database().transaction() as session:
        await session.execute(update(OrderRow).where(OrderRow.id == order_id).values(status=status.value))
    for _ in range(2):
        await order_flow.after_orders_change(hub, [[order_id, "paid", status.value, "message_channel"]])


async def _released(hub: Hub, sku: str) -> list[int]:
    """The reserved deltas of the SKU's release rows in the ledger."""
    async with hub.database().session() as session:
        return list((await session.execute(select(StockLedgerRow.reserved_delta).where(
            StockLedgerRow.merchant_sku == sku, StockLedgerRow.cause == StockChangeCause.ORDER_RELEASED.value)
            .order_by(StockLedgerRow.id))).scalars())


async def test_refund_first_then_the_platform_closes_the_order_each_unit_released_once(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub, "CUP", 10)
    await seed(hub, "MUG", 10)
    order_id = await _paid_order(hub, [("CUP", 2), ("MUG", 1)])
    case_id = await _refunded_case(hub, order_id, [("CUP", 2), ("MUG", 1)])
    assert await refund_release.release_case(hub, case_id) is not None
    assert await stock_row(hub, "CUP") == (10, 0) and await stock_row(hub, "MUG") == (10, 0)
    await _platform_closes(hub, order_id)
    assert await stock_row(hub, "CUP") == (10, 0) and await stock_row(hub, "MUG") == (10, 0)
    assert await _released(hub, "CUP") == [-2] and await _released(hub, "MUG") == [-1]
    assert await refund_release.release_case(hub, case_id) is None  # the refund told again: the order is closed


async def test_the_platform_closes_first_then_the_refund_gives_nothing_back_again(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub, "CUP", 10)
    order_id = await _paid_order(hub, [("CUP", 2)])
    await _platform_closes(hub, order_id, OrderStatus.CANCELLED)
    assert await stock_row(hub, "CUP") == (10, 0)
    case_id = await _refunded_case(hub, order_id, [("CUP", 2)])
    assert await refund_release.release_case(hub, case_id) is None
    assert await stock_row(hub, "CUP") == (10, 0) and await _released(hub, "CUP") == [-2]


async def test_part_of_a_line_refunded_then_closed_releases_the_rest_once(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub, "CUP", 10)
    order_id = await _paid_order(hub, [("CUP", 3)])
    await refund_release.release_case(hub, await _refunded_case(hub, order_id, [("CUP", 1)]))
    assert await stock_row(hub, "CUP") == (10, 2)
    await _platform_closes(hub, order_id)
    assert await stock_row(hub, "CUP") == (10, 0) and sorted(await _released(hub, "CUP")) == [-2, -1]


async def test_a_closed_order_has_its_interception_holds_lifted_and_others_kept(database_url: str) -> None:
    hub = _hub(database_url)
    await seed(hub, "CUP", 10)
    order_id = await _paid_order(hub, [("CUP", 1)])
    async with hub.database().transaction() as session:
        for code in (REFUND_HOLD, CANCEL_HOLD, "high_value"):
            await orders.add_hold(session, order_id, Hold(code=code, reason=f"{code} for the test"), cause="test")
    await _platform_closes(hub, order_id)
    assert list(await open_holds(hub, order_id)) == ["high_value"]  # a person's own hold stays for a person


async def test_the_refund_locks_the_order_while_it_gives_back(database_url: str) -> None:
    """PostgreSQL: while the refund gives back, the order row is locked, so the platform's closing
    (an UPDATE of that row) commits before or after it, never in between."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: there is no row lock to see")
    hub = _hub(database_url)
    await seed(hub, "CUP", 10)
    order_id = await _paid_order(hub, [("CUP", 3)])
    case_id = await _refunded_case(hub, order_id, [("CUP", 1)])
    async with hub.database().transaction() as giving_back:
        assert await refund_release.release_refunded(giving_back, case_id) is not None
        async with hub.database().transaction() as closing:
            with pytest.raises(DBAPIError, match="could not obtain lock"):
                await closing.execute(text("SELECT id FROM orders WHERE id = :id FOR UPDATE NOWAIT"),
                                      {"id": order_id})
    assert await stock_row(hub, "CUP") == (10, 2)
