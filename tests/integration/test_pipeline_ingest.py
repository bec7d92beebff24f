"""The ingest pipeline through real workers: inbox dedup, trigger messages expanded through the
connector, retries of transient partner faults, dead letters with the raw payload, replay.
On SQLite with the in-process queue and on PostgreSQL with the real Redis."""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel
from sqlalchemy import func, select

from contracts import Capability, InboundMessage, MessageKind, Order, OrderPage, OrderStatus
from hub.db import dead_letters
from hub.db.tables import DeadLetterRow, InboxRow, OrderEventRow, OrderRow
from hub.errors import BadInputError, PermanentError, RetryableError
from hub.plugin_api import hookimpl
from hub.services.ingest import accept_messages
from hub.testing.factories import make_order
from hub.testing.hub import QUEUE_MODES, hub_config, redis_url_for_mode, running_hub


class FakeShopState:
    """What the fake platform holds: orders by id and faults to inject per id."""

    orders: ClassVar[dict[str, Order]] = {}
    faults: ClassVar[dict[str, list[Exception]]] = {}
    calls: ClassVar[list[str]] = []


class _Settings(BaseModel):
    app_key: str = "k"


class FakeChannel:
    platform: ClassVar[str] = "fakeshop"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.GET_ORDER})
    Settings = _Settings
    max_stock_batch = 10

    def __init__(self, context: Any) -> None:
        self.context = context

    async def get_order(self, external_id: str) -> Order:
        FakeShopState.calls.append(external_id)
        pending = FakeShopState.faults.get(external_id)
        if pending:
            raise pending.pop(0)
        return FakeShopState.orders[external_id]

    async def aclose(self) -> None:
        return None


class FakePlugin:
    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [FakeChannel]


@pytest.fixture(params=QUEUE_MODES)
def mode(request: pytest.FixtureRequest, database_url: str) -> str | None:
    return redis_url_for_mode(request.param, database_url)


@pytest.fixture(autouse=True)
def _reset() -> None:
    FakeShopState.orders.clear()
    FakeShopState.faults.clear()
    FakeShopState.calls.clear()


def _trigger(message_id: str, external_id: str) -> InboundMessage:
    return InboundMessage(message_id=message_id, kind=MessageKind.ORDER, topic="taobao_trade_TradeBuyerPay",
                          external_id=external_id, payload={"tid": external_id})


async def _wait_for(database, predicate, limit_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        async with database.session() as session:
            if await predicate(session):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_same_message_three_times_makes_one_order(database, database_url, mode) -> None:  # type: ignore[no-untyped-def]
    order = make_order(platform="fakeshop", shop="shop-a", status=OrderStatus.PAID)
    FakeShopState.orders[order.ref.external_id] = order
    config = hub_config(database_url, redis_url=mode, shops={"shop-a": {"platform": "fakeshop"}})
    with running_hub(config, extra_plugins=[FakePlugin()], load_entry_points=False) as hub:
        ids = []
        for _ in range(3):
            ids += await accept_messages(hub, platform="fakeshop", shop="shop-a", source="message_channel",
                                         messages=[_trigger("tmc-1", order.ref.external_id)])
        assert len(ids) == 1  # the inbox dropped the redeliveries

        async def done(session) -> bool:  # type: ignore[no-untyped-def]
            return (await session.scalar(select(func.count()).select_from(OrderRow))) == 1

        await _wait_for(database, done)
        hub.runtime.join(60_000)  # type: ignore[union-attr]
    async with database.session() as session:
        row = (await session.execute(select(OrderRow))).scalar_one()
        assert row.external_id == order.ref.external_id and row.status == "paid"
        inbox_row = (await session.execute(select(InboxRow))).scalar_one()
        assert inbox_row.status == "done"
    assert FakeShopState.calls == [order.ref.external_id]


async def test_same_message_id_in_two_shops_of_one_platform_makes_both_orders(  # type: ignore[no-untyped-def]
    database, database_url, mode
) -> None:
    """Message ids need not be unique across a platform's shops: a collision must not drop the
    second shop's message (its order would wait for the next poll)."""
    first = make_order(platform="fakeshop", shop="shop-a", status=OrderStatus.PAID)
    second = make_order(platform="fakeshop", shop="shop-b", status=OrderStatus.PAID)
    FakeShopState.orders.update({first.ref.external_id: first, second.ref.external_id: second})
    config = hub_config(database_url, redis_url=mode,
                        shops={"shop-a": {"platform": "fakeshop"}, "shop-b": {"platform": "fakeshop"}})
    with running_hub(config, extra_plugins=[FakePlugin()], load_entry_points=False) as hub:
        stored = []
        for shop, order in (("shop-a", first), ("shop-b", second)):
            stored += await accept_messages(hub, platform="fakeshop", shop=shop, source="push",
                                            messages=[_trigger("same-id-1", order.ref.external_id)])
        assert len(stored) == 2, "each shop's message is stored"

        async def done(session) -> bool:  # type: ignore[no-untyped-def]
            return (await session.scalar(select(func.count()).select_from(OrderRow))) == 2

        await _wait_for(database, done)
        hub.runtime.join(20_000)  # type: ignore[union-attr]
    async with database.session() as session:
        orders = {(r.shop, r.external_id) for r in (await session.execute(select(OrderRow))).scalars()}
        inbox_rows = {(r.shop, r.message_id, r.status) for r in (await session.execute(select(InboxRow))).scalars()}
    assert orders == {("shop-a", first.ref.external_id), ("shop-b", second.ref.external_id)}
    assert inbox_rows == {("shop-a", "same-id-1", "done"), ("shop-b", "same-id-1", "done")}


async def test_transient_fault_is_retried_and_the_order_lands_once(database, database_url, mode) -> None:  # type: ignore[no-untyped-def]
    order = make_order(platform="fakeshop", shop="shop-a")
    FakeShopState.orders[order.ref.external_id] = order
    FakeShopState.faults[order.ref.external_id] = [RetryableError("isp.remote-service-error", code="15")]
    config = hub_config(database_url, redis_url=mode, shops={"shop-a": {"platform": "fakeshop"}})
    with running_hub(config, extra_plugins=[FakePlugin()], load_entry_points=False) as hub:
        await accept_messages(hub, platform="fakeshop", shop="shop-a", source="push",
                              messages=[_trigger("m-1", order.ref.external_id)])

        async def done(session) -> bool:  # type: ignore[no-untyped-def]
            return (await session.scalar(select(func.count()).select_from(OrderRow))) == 1

        await _wait_for(database, done)
    async with database.session() as session:
        events = (await session.execute(select(OrderEventRow))).scalars().all()
        inbox_row = (await session.execute(select(InboxRow))).scalar_one()
    # Created once; the follow-up work (the SKU is not in the catalogue: a hold) is not a status step.
    assert [e.kind for e in events if e.kind in ("created", "status_changed")] == ["created"]
    assert inbox_row.status == "done" and inbox_row.attempts == 1
    assert len(FakeShopState.calls) == 2


async def test_permanent_failure_is_dead_lettered_with_payload_and_replay_recovers(
    database, database_url, mode  # type: ignore[no-untyped-def]
) -> None:
    order = make_order(platform="fakeshop", shop="shop-a")
    FakeShopState.orders[order.ref.external_id] = order
    FakeShopState.faults[order.ref.external_id] = [PermanentError("isv.trade-not-exist (TOP code 50)")]
    config = hub_config(database_url, redis_url=mode, shops={"shop-a": {"platform": "fakeshop"}})
    with running_hub(config, extra_plugins=[FakePlugin()], load_entry_points=False) as hub:
        await accept_messages(hub, platform="fakeshop", shop="shop-a", source="push",
                              messages=[_trigger("m-bad", order.ref.external_id)])

        async def dead(session) -> bool:  # type: ignore[no-untyped-def]
            return (await session.scalar(select(func.count()).select_from(DeadLetterRow))) == 1

        await _wait_for(database, dead)
        async with database.session() as session:
            letter = (await session.execute(select(DeadLetterRow))).scalar_one()
            inbox_row = (await session.execute(select(InboxRow))).scalar_one()
            assert await session.scalar(select(func.count()).select_from(OrderRow)) == 0
        assert "trade-not-exist" in letter.reason and letter.inbox_id == inbox_row.id
        assert inbox_row.status == "dead" and inbox_row.payload["external_id"] == order.ref.external_id

        from hub.queue.dead_letter_replay import replay_dead_letter

        await replay_dead_letter(database, hub.runtime, letter.id, actor="test")

        async def landed(session) -> bool:  # type: ignore[no-untyped-def]
            return (await session.scalar(select(func.count()).select_from(OrderRow))) == 1

        await _wait_for(database, landed)
    async with database.session() as session:
        replayed = await dead_letters.get(session, letter.id)
    assert replayed is not None and replayed.replayed_at is not None


class PollingChannel(FakeChannel):
    """A fake platform whose poll page holds one good order and one it cannot map."""

    platform: ClassVar[str] = "fakepoll"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.GET_ORDER, Capability.POLL_ORDERS})
    max_poll_window_s = 86_400

    async def fetch_orders(self, start: Any, end: Any, cursor: str | None) -> OrderPage:
        good = FakeShopState.orders["good"]
        return OrderPage(orders=[good], rejected={"bad-1": "unknown trade status 'TRADE_MYSTERY' (field status)"})

    async def get_order(self, external_id: str) -> Order:
        if external_id == "bad-1":
            raise BadInputError("unknown trade status 'TRADE_MYSTERY'", field="status")
        return await super().get_order(external_id)


class PollingPlugin:
    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [PollingChannel]


async def test_an_unmappable_order_is_dead_lettered_and_the_poll_goes_on(database, database_url, mode) -> None:  # type: ignore[no-untyped-def]
    from hub.pipeline.polling import poll_shop_orders

    good = make_order(platform="fakepoll", shop="shop-p")
    FakeShopState.orders["good"] = good
    config = hub_config(database_url, redis_url=mode, shops={"shop-p": {"platform": "fakepoll"}})
    with running_hub(config, extra_plugins=[PollingPlugin()], load_entry_points=False) as hub:
        await poll_shop_orders(hub, "shop-p")

        async def settled(session) -> bool:  # type: ignore[no-untyped-def]
            orders = await session.scalar(select(func.count()).select_from(OrderRow))
            letters = await session.scalar(select(func.count()).select_from(DeadLetterRow))
            return orders == 1 and letters == 1

        await _wait_for(database, settled)
    async with database.session() as session:
        letter = (await session.execute(select(DeadLetterRow))).scalar_one()
        row = (await session.execute(select(OrderRow))).scalar_one()
    assert "TRADE_MYSTERY" in letter.reason
    assert row.external_id == good.ref.external_id
