"""An inbox batch worked as a batch, on SQLite and the real PostgreSQL: its orders land together
(history, lines, bindings, one ``orders_changed`` follow-up), one order that fails to map is set
aside alone, a batch processed twice applies once, reports of one order apply in order, a
connector with ``get_orders`` is asked once per batch, the SQL a batch costs does not grow
with its size, and a merged batch of 1,000 ids stays within the drivers' parameter limits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel
from sqlalchemy import event, func, select

from contracts import Capability, InboundMessage, MessageKind, Order, OrderPage, OrderStatus
from hub.context import Hub
from hub.db import inbox
from hub.db.tables import Binding, DeadLetterRow, InboxRow, OrderEventRow, OrderLineRow, OrderRow, OutboxRow
from hub.pipeline.actors import process_inbox_batch
from hub.plugin_api import hookimpl
from hub.services.ingest import process_inbox_rows
from hub.testing.factories import make_order
from hub.testing.hub import QUEUE_MODES, hub_config, redis_url_for_mode, running_hub

RAISED_AT = datetime(2026, 11, 11, 0, 1, tzinfo=UTC)


class Platform:
    """What the fake platform holds and what the hub asked it."""

    orders: ClassVar[dict[str, Order]] = {}
    unmappable: ClassVar[dict[str, str]] = {}  # id → why its data does not map
    listed: ClassVar[set[str]] = set()  # ids get_orders returns (the rest it misses)
    get_order_calls: ClassVar[list[str]] = []
    get_orders_calls: ClassVar[list[tuple[list[str], Any]]] = []


class _Settings(BaseModel):
    app_key: str = "k"


class OneByOne:
    """A channel that fetches orders one at a time (``get_order`` only)."""

    platform: ClassVar[str] = "onebyone"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.GET_ORDER})
    Settings = _Settings
    max_stock_batch = 10

    def __init__(self, context: Any) -> None:
        self.context = context

    async def get_order(self, external_id: str) -> Order:
        Platform.get_order_calls.append(external_id)
        if external_id in Platform.unmappable:
            from hub.errors import BadInputError

            raise BadInputError(Platform.unmappable[external_id], field="status")
        return Platform.orders[external_id]

    async def aclose(self) -> None:
        return None


class Listing(OneByOne):
    """A channel with a list call (``get_orders``) that finds only the ids in ``Platform.listed``."""

    platform: ClassVar[str] = "listing"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.GET_ORDER, Capability.GET_ORDERS})

    async def get_orders(self, external_ids: Sequence[str], *,
                         modified_between: tuple[datetime, datetime] | None = None) -> OrderPage:
        Platform.get_orders_calls.append((list(external_ids), modified_between))
        found = [Platform.orders[i] for i in external_ids if i in Platform.listed and i not in Platform.unmappable]
        rejected = {i: Platform.unmappable[i] for i in external_ids if i in Platform.unmappable}
        return OrderPage(orders=found, rejected=rejected)


class Plugin:
    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [OneByOne, Listing]


@pytest.fixture(params=QUEUE_MODES)
def mode(request: pytest.FixtureRequest, database_url: str) -> str | None:
    return redis_url_for_mode(request.param, database_url)


@pytest.fixture(autouse=True)
def _reset() -> None:
    Platform.orders.clear()
    Platform.unmappable.clear()
    Platform.listed.clear()
    Platform.get_order_calls.clear()
    Platform.get_orders_calls.clear()


def _hub(database_url: str, mode: str | None) -> Any:
    config = hub_config(database_url, redis_url=mode,
                        shops={"shop-a": {"platform": "onebyone"}, "shop-l": {"platform": "listing"}})
    return running_hub(config, extra_plugins=[Plugin()], load_entry_points=False, start_workers=False, relay=False)


def _orders(count: int, platform: str = "onebyone", shop: str = "shop-a") -> list[Order]:
    made = [make_order(platform=platform, shop=shop, lines=[("SKU-1", 1), ("SKU-2", 2)]) for _ in range(count)]
    Platform.orders.update({o.ref.external_id: o for o in made})
    return made


def _triggers(orders: list[Order], topics: Sequence[str] = ("TradeCreate", "TradeBuyerPay")) -> list[InboundMessage]:
    return [InboundMessage(message_id=f"{o.ref.external_id}-{topic}", kind=MessageKind.ORDER, topic=topic,
                           external_id=o.ref.external_id, occurred_at=RAISED_AT + timedelta(seconds=n))
            for n, o in enumerate(orders) for topic in topics]


async def _store(hub: Hub, messages: list[InboundMessage], *, platform: str = "onebyone", shop: str = "shop-a",
                 source: str = "message_channel") -> list[int]:
    async with hub.database().transaction() as session:
        return await inbox.record_messages(session, platform=platform, shop=shop, source=source, messages=messages)


async def _count(hub: Hub, model: Any, *where: Any) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_batch_of_orders_lands_with_history_lines_bindings_and_one_follow_up(database_url, mode) -> None:  # type: ignore[no-untyped-def]
    with _hub(database_url, mode) as hub:
        orders = _orders(15)
        ids = await _store(hub, _triggers(orders))
        outcome = await process_inbox_rows(hub, ids)

        assert sorted(outcome.done) == ids and not outcome.retry and not outcome.dead
        assert sorted(Platform.get_order_calls) == sorted(o.ref.external_id for o in orders), \
            "TradeCreate and TradeBuyerPay of one trade share one fetch"
        async with hub.database().session() as session:
            stored = {r.external_id: r for r in (await session.execute(select(OrderRow))).scalars()}
            events = (await session.execute(select(OrderEventRow).order_by(OrderEventRow.id))).scalars().all()
            follow_ups = (await session.execute(select(OutboxRow))).scalars().all()
            statuses = set((await session.execute(select(InboxRow.status))).scalars())
        assert set(stored) == {o.ref.external_id for o in orders}
        assert all(r.status == "paid" and r.version == 1 for r in stored.values())
        assert [e.kind for e in events] == ["created"] * 15
        by_inbox = {row_id: n for n, row_id in enumerate(ids)}
        assert all(e.inbox_id in by_inbox and e.cause == "message_channel" for e in events)
        assert await _count(hub, OrderLineRow) == 30
        assert await _count(hub, Binding, Binding.kind == "order") == 15
        assert [(f.actor, len(f.args[0])) for f in follow_ups] == [("orders_changed", 15)]
        assert sorted(tuple(c) for c in follow_ups[0].args[0]) == sorted(
            (r.id, None, "paid", "message_channel") for r in stored.values())
        assert statuses == {"done"}
        await hub.close_loop_resources()


async def test_one_unmappable_order_is_dead_lettered_alone_with_its_reason(database_url, mode) -> None:  # type: ignore[no-untyped-def]
    with _hub(database_url, mode) as hub:
        orders = _orders(6, platform="listing", shop="shop-l")
        Platform.listed.update(o.ref.external_id for o in orders)
        bad = orders[2].ref.external_id
        Platform.unmappable[bad] = "unknown trade status 'TRADE_MYSTERY' (field status)"
        ids = await _store(hub, _triggers(orders), platform="listing", shop="shop-l")
        await process_inbox_batch(ids)

        async with hub.database().session() as session:
            letters = (await session.execute(select(DeadLetterRow))).scalars().all()
            stored = set((await session.execute(select(OrderRow.external_id))).scalars())
            rows = {r.id: r for r in (await session.execute(select(InboxRow))).scalars()}
        assert stored == {o.ref.external_id for o in orders} - {bad}
        dead = sorted(i for i, r in rows.items() if r.external_id == bad)
        assert len(dead) == 2 and all(rows[i].status == "dead" for i in dead)
        assert sorted(letter.inbox_id for letter in letters) == dead
        assert all("TRADE_MYSTERY" in letter.reason and letter.args == [[letter.inbox_id]] for letter in letters)
        assert all(r.status == "done" for i, r in rows.items() if i not in dead)
        await hub.close_loop_resources()


async def test_a_batch_processed_twice_applies_its_orders_once(database_url, mode) -> None:  # type: ignore[no-untyped-def]
    with _hub(database_url, mode) as hub:
        ids = await _store(hub, _triggers(_orders(5)))
        first = await process_inbox_rows(hub, ids)
        again = await process_inbox_rows(hub, ids)  # a redelivered queue message

        assert sorted(first.done) == ids and again.done == [] and again.dead == [] and again.retry == []
        assert len(Platform.get_order_calls) == 5
        assert await _count(hub, OrderEventRow) == 5
        assert await _count(hub, OutboxRow) == 1
        await hub.close_loop_resources()


async def test_two_reports_of_one_order_in_a_batch_end_in_the_later_status_with_both_events(  # type: ignore[no-untyped-def]
    database_url, mode
) -> None:
    paid = make_order(platform="onebyone", shop="shop-a", status=OrderStatus.PAID)
    shipped = paid.model_copy(update={"status": OrderStatus.SHIPPED, "raw_status": "WAIT_BUYER_CONFIRM_GOODS",
                                      "updated_at": paid.updated_at + timedelta(minutes=5)})
    messages = [InboundMessage(message_id=f"poll-{n}", kind=MessageKind.ORDER, topic="poll",
                               external_id=paid.ref.external_id, order=o) for n, o in enumerate((paid, shipped))]
    with _hub(database_url, mode) as hub:
        ids = await _store(hub, messages, source="poll")
        outcome = await process_inbox_rows(hub, ids)

        assert sorted(outcome.done) == ids
        async with hub.database().session() as session:
            row = (await session.execute(select(OrderRow))).scalar_one()
            events = (await session.execute(select(OrderEventRow).order_by(OrderEventRow.id))).scalars().all()
            follow_up = (await session.execute(select(OutboxRow))).scalar_one()
        assert row.status == "shipped" and row.fulfilment_status == "shipped" and row.version == 2
        assert row.raw_status == "WAIT_BUYER_CONFIRM_GOODS"
        assert [(e.kind, e.old_status, e.new_status, e.inbox_id) for e in events] == [
            ("created", None, "paid", ids[0]),
            ("status_changed", "paid", "shipped", ids[1]),
            ("fulfilment_changed", None, None, None),
        ]
        assert follow_up.args == [[[row.id, None, "paid", "poll"], [row.id, "paid", "shipped", "poll"]]]
        await hub.close_loop_resources()


async def test_a_connector_with_get_orders_is_asked_once_and_get_order_only_for_what_it_missed(  # type: ignore[no-untyped-def]
    database_url, mode
) -> None:
    orders = _orders(10, platform="listing", shop="shop-l")
    missed = {orders[3].ref.external_id, orders[7].ref.external_id}
    Platform.listed.update(o.ref.external_id for o in orders if o.ref.external_id not in missed)
    with _hub(database_url, mode) as hub:
        ids = await _store(hub, _triggers(orders), platform="listing", shop="shop-l")
        outcome = await process_inbox_rows(hub, ids)

        assert sorted(outcome.done) == ids
        assert len(Platform.get_orders_calls) == 1
        asked, window = Platform.get_orders_calls[0]
        assert sorted(asked) == sorted(o.ref.external_id for o in orders)
        assert window is not None and window[0] <= RAISED_AT and window[1] >= RAISED_AT + timedelta(seconds=9)
        assert sorted(Platform.get_order_calls) == sorted(missed)
        assert await _count(hub, OrderRow) == 10
        await hub.close_loop_resources()


async def test_the_sql_a_batch_costs_does_not_grow_with_the_batch(database_url, mode) -> None:  # type: ignore[no-untyped-def]
    """A regression guard for "no per-row round trips": 128 orders cost the statements 16 do. (The
    orders insert goes in power-of-two chunks, ``hub.db.returning``: both sizes are one chunk.)"""
    with _hub(database_url, mode) as hub:
        engine = hub.database().engine.sync_engine
        counts = []
        for size in (16, 128):
            ids = await _store(hub, _triggers(_orders(size)))
            statements: list[str] = []

            def count(_conn: Any, _cursor: Any, statement: str, *_: Any, log: list[str] = statements) -> None:
                log.append(statement)

            event.listen(engine, "before_cursor_execute", count)
            try:
                outcome = await process_inbox_rows(hub, ids)
            finally:
                event.remove(engine, "before_cursor_execute", count)
            assert len(outcome.done) == 2 * size
            counts.append(len(statements))
        assert counts[0] == counts[1], f"statements for 16 and 128 orders: {counts}"
        assert counts[1] <= 16
        await hub.close_loop_resources()


async def test_an_order_the_database_refuses_is_set_aside_and_the_rest_of_the_batch_lands(  # type: ignore[no-untyped-def]
    database_url, mode
) -> None:
    """The batch's transaction fails (PostgreSQL refuses a value too long for its column): its
    orders are applied one per transaction, so only the bad one is dead-lettered."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite does not enforce column widths")
    orders = _orders(4)
    bad = orders[1]
    from contracts.orders import Buyer

    Platform.orders[bad.ref.external_id] = bad.model_copy(update={"buyer": Buyer(nick="n" * 300)})
    with _hub(database_url, mode) as hub:
        ids = await _store(hub, _triggers(orders, topics=("TradeBuyerPay",)))
        await process_inbox_batch(ids)

        async with hub.database().session() as session:
            stored = set((await session.execute(select(OrderRow.external_id))).scalars())
            letters = (await session.execute(select(DeadLetterRow))).scalars().all()
            statuses = dict((await session.execute(select(InboxRow.external_id, InboxRow.status))).all())
        assert stored == {o.ref.external_id for o in orders} - {bad.ref.external_id}
        assert [letter.inbox_id for letter in letters] == [ids[1]] and "value too long" in letters[0].reason
        assert "nnnn" not in letters[0].reason, "the refused values (buyer data) are not copied into the reason"
        assert statuses == {o.ref.external_id: "dead" if o is bad else "done" for o in orders}
        await hub.close_loop_resources()


async def test_a_stored_message_that_no_longer_validates_is_set_aside_alone(database_url, mode) -> None:  # type: ignore[no-untyped-def]
    """A payload written by an older hub (or edited by hand) that the message model refuses now."""
    from sqlalchemy import update

    with _hub(database_url, mode) as hub:
        ids = await _store(hub, _triggers(_orders(3), topics=("TradeBuyerPay",)))
        async with hub.database().transaction() as session:
            await session.execute(update(InboxRow).where(InboxRow.id == ids[0]).values(payload={"kind": "nonsense"}))
        await process_inbox_batch(ids)

        async with hub.database().session() as session:
            statuses = dict((await session.execute(select(InboxRow.id, InboxRow.status))).all())
            letter = (await session.execute(select(DeadLetterRow))).scalar_one()
        assert statuses == {ids[0]: "dead", ids[1]: "done", ids[2]: "done"}
        assert letter.inbox_id == ids[0] and "does not validate" in letter.reason
        assert await _count(hub, OrderRow) == 2
        await hub.close_loop_resources()


async def test_a_batch_whose_fetches_all_fail_opens_the_shops_breaker_and_is_retried(database_url, mode) -> None:  # type: ignore[no-untyped-def]
    """The shop's breaker sees the batch's calls as ``partner_call`` would one by one: failures in
    a row open it (the shop is paused with the reason) and the messages wait, attempts counted."""
    from hub.db import shops
    from hub.errors import RetryableError

    class Down(OneByOne):
        async def get_order(self, external_id: str) -> Order:
            Platform.get_order_calls.append(external_id)
            raise RetryableError("isp.remote-service-unavailable", code="15")

    class DownPlugin:
        @hookimpl
        def register_channels(self) -> list[type[Any]]:
            return [Down]

    config = hub_config(database_url, redis_url=mode, shops={"shop-a": {"platform": "onebyone"}})
    with running_hub(config, extra_plugins=[DownPlugin()], load_entry_points=False, start_workers=False,
                     relay=False) as hub:
        ids = await _store(hub, _triggers(_orders(8), topics=("TradeBuyerPay",)))
        outcome = await process_inbox_rows(hub, ids)

        assert sorted(outcome.retry) == ids and not outcome.dead and not outcome.done
        async with hub.database().session() as session:
            status = await shops.shop_status(session, "shop-a")
            attempts = set((await session.execute(select(InboxRow.attempts))).scalars())
        assert status is not None and status.paused and "circuit breaker open" in (status.paused_reason or "")
        assert attempts == {1}
        again = await process_inbox_rows(hub, ids)  # paused: nothing is asked, no attempt spent
        assert sorted(again.retry) == ids and len(Platform.get_order_calls) == 8
        await hub.close_loop_resources()


async def test_a_merged_ingest_batch_of_1000_ids_lands_within_the_drivers_parameter_limits(  # type: ignore[no-untyped-def]
    database_url, mode
) -> None:
    """The relays merge up to 1,000 ids into one ``process_inbox_batch`` (``INGEST_MERGED_IDS``):
    such a batch of 1,000 orders lands in one go, it and its follow-up (``orders_changed``) never
    binding more values in one statement than SQLite (32,766) or asyncpg (32,767) take."""
    from hub.db.outbox import INGEST_MERGED_IDS
    from hub.services import order_flow

    orders = _orders(INGEST_MERGED_IDS, platform="listing", shop="shop-l")
    Platform.listed.update(o.ref.external_id for o in orders)
    with _hub(database_url, mode) as hub:
        ids = await _store(hub, _triggers(orders, topics=("TradeBuyerPay",)), platform="listing", shop="shop-l")
        assert len(ids) == INGEST_MERGED_IDS
        engine = hub.database().engine.sync_engine
        bound: list[int] = []

        def count(_conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, executemany: bool,
                  log: list[int] = bound) -> None:
            # executemany: one set per row (a statement each); a flat set is one statement's
            # (SQLAlchemy's multi-row INSERT … RETURNING pages come flat, flagged executemany).
            rows = executemany and parameters and isinstance(parameters[0], (tuple, list, dict))
            log.append(len(parameters[0] if rows else parameters or ()))

        event.listen(engine, "before_cursor_execute", count)
        try:
            outcome = await process_inbox_rows(hub, ids)
            async with hub.database().session() as session:
                [follow_up] = (await session.execute(select(OutboxRow.args).where(
                    OutboxRow.actor == "orders_changed"))).scalars().all()
            await order_flow.after_orders_change(hub, follow_up[0])
        finally:
            event.remove(engine, "before_cursor_execute", count)

        assert sorted(outcome.done) == ids and not outcome.retry and not outcome.dead
        assert len(Platform.get_orders_calls) == 1 and Platform.get_order_calls == []
        assert await _count(hub, OrderRow) == INGEST_MERGED_IDS
        assert len(follow_up[0]) == INGEST_MERGED_IDS
        print(f"most values bound in one statement: {max(bound)}")
        assert max(bound) < 32_766
        await hub.close_loop_resources()
