"""Orders through the whole hub: TOP sandboxes (Taobao, Tmall) over real HTTP, TMC and polling
running together on real workers, the API under uvicorn showing the history; and the ingest
pipeline fed the same and shuffled messages in any order (hypothesis). On SQLite with the
in-process queue and on PostgreSQL with the real Redis."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from contracts import InboundMessage, MessageKind, Order
from hub.db.tables import InboxRow
from hub.services.ingest import accept_messages, poll_message_id
from tests.e2e.hub_e2e_support import (
    Backend,
    backend,
    close_test_loop,
    e2e_config,
    e2e_hub,
    eventually,
    hub_api,
    order_status,
    orders_for,
    pumping,
    served_sandboxes,
    status_events,
)

__all__ = ["backend"]  # the fixture, imported for pytest
pytestmark = pytest.mark.e2e

#: The canonical path of a TOP trade from WAIT_BUYER_PAY to TRADE_FINISHED.
TOP_PATH = ["pending_payment", "paid", "shipped", "completed"]
RANK = {status: i for i, status in enumerate(
    ["pending_payment", "paid", "partially_shipped", "shipped", "delivered", "completed"])}


def _forward_chain(events: list[tuple[str, str | None, str | None]]) -> list[str]:
    """The statuses the events set, checking that none of them is a step backwards."""
    chain = []
    for kind, old, new in events:
        assert new is not None
        if kind == "status_changed":
            assert old is not None and RANK[new] > RANK[old], f"backwards step {old} → {new}"
        chain.append(new)
    return chain


@pytest.mark.parametrize("platform", ["taobao", "tmall"])
async def test_sandbox_order_becomes_one_order_via_tmc_and_polling_and_follows_every_status(
    backend: Backend, platform: str
) -> None:
    with served_sandboxes([platform]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        item = served[platform]
        shop, box = item.shop, item.sandbox
        try:
            async with pumping(hub, consume=[shop], poll=[shop]):
                tid = box.create_order(shop, "E2E-TEE", 1, paid=False)

                async def reached(expected: str) -> bool:
                    return await order_status(hub, shop, tid) == expected

                await eventually(lambda: reached("pending_payment"), what="the new order in the hub")
                for expected in TOP_PATH[1:]:
                    raw = box.advance_order(shop, tid)
                    await eventually(lambda expected=expected: reached(expected), what=f"{raw} → {expected}")

                async def both_sources_reported() -> set[str] | None:
                    async with hub.database().session() as session:
                        found = set((await session.execute(select(InboxRow.source).where(
                            InboxRow.shop == shop, InboxRow.external_id == tid))).scalars())
                    return found if found == {"message_channel", "poll"} else None

                # Both sources keep reporting the finished trade: wait until each has, however slowly.
                await eventually(both_sources_reported, what="the trade reported by TMC and by polling")
            rows = await orders_for(hub, shop, tid)
            assert len(rows) == 1, "TMC and polling together must make exactly one order"
            async with hub.database().session() as session:
                sources = set((await session.execute(select(InboxRow.source).where(
                    InboxRow.shop == shop, InboxRow.external_id == tid))).scalars())
            assert sources == {"message_channel", "poll"}, "both sources must have reported the trade"
            async with hub_api(hub) as (client, _):
                response = await client.get(f"/api/v1/orders/{rows[0].id}")
            assert response.status_code == 200, response.text
            detail = response.json()
            assert detail["status"] == "completed" and detail["external_id"] == tid
            history = [(e["kind"], e["old_status"], e["new_status"]) for e in detail["history"]
                       if e["kind"] in ("created", "status_changed")]
            assert _forward_chain(history) == TOP_PATH, "one history entry per step, in order"
            assert [e["at"] for e in detail["history"]] == sorted(e["at"] for e in detail["history"])
        finally:
            await close_test_loop(hub)


async def test_a_status_change_within_the_same_second_is_still_seen_by_polling_alone(backend: Backend) -> None:
    """TOP modification times have whole seconds: a trade paid in the second it was created is a
    new observation all the same, or a shop whose TMC is down would never see the payment."""
    with served_sandboxes(["taobao"]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        item = served["taobao"]
        shop, box = item.shop, item.sandbox
        try:
            tid = box.create_order(shop, "E2E-TEE", 1, paid=False)
            hub.send("poll_shop", shop)
            await eventually(lambda: _is(hub, shop, tid, "pending_payment"), what="the unpaid order")
            with box.lock:  # paid in the very second it was created
                box.advance_order(shop, tid)
                box.shop(shop).trades[tid]["modified"] = box.shop(shop).trades[tid]["created"]
            hub.send("poll_shop", shop)
            await eventually(lambda: _is(hub, shop, tid, "paid"), timeout_s=60, what="the payment seen by polling")
        finally:
            await close_test_loop(hub)


async def _is(hub: Any, shop: str, tid: str, status: str) -> bool:
    return await order_status(hub, shop, tid) == status


async def test_tmc_message_redelivered_three_times_makes_one_order_and_one_history(backend: Backend) -> None:
    """The sandbox redelivers what is consumed but not confirmed; the hub keeps one order."""
    with served_sandboxes(["taobao"]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        item = served["taobao"]
        shop, box = item.shop, item.sandbox
        try:
            tid = box.create_order(shop, "E2E-TEE", 1, paid=True)  # TradeCreate + TradeBuyerPay
            connector = hub.accounts().channel(shop)
            await connector.open_message_channel()  # as consume_channel does first
            deliveries = []
            for _ in range(3):
                messages = await eventually(lambda: connector.consume_messages(10), timeout_s=60,
                                            what="a (re)delivery from TMC")
                deliveries.append(sorted(m.message_id for m in messages))
                await accept_messages(hub, platform="taobao", shop=shop, source="message_channel",
                                      messages=messages)  # never confirmed: TMC sends them again
            assert deliveries[0] == deliveries[1] == deliveries[2] and len(deliveries[0]) == 2
            await eventually(lambda: _is(hub, shop, tid, "paid"), what="the paid order")
            await eventually(lambda: _settled(hub, shop), what="the inbox settled")
            rows = await orders_for(hub, shop, tid)
            assert len(rows) == 1
            assert [k for k, _, _ in await status_events(hub, rows[0].id)] == ["created"]
            async with hub.database().session() as session:
                stored = await session.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.shop == shop))
            assert stored == 2, "each TMC message is stored once however often it is delivered"
        finally:
            await close_test_loop(hub)


async def _settled(hub: Any, shop: str) -> bool:
    async with hub.database().session() as session:
        return not await session.scalar(select(func.count()).select_from(InboxRow).where(
            InboxRow.shop == shop, InboxRow.status.in_(["pending", "failed"])))


# --------------------------------------------------------------------------- any delivery order


class LoopThread:
    """An event loop on its own thread, for hypothesis examples (which cannot be coroutines)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="e2e-hypothesis", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout_s: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    runner = LoopThread()
    yield runner
    runner.close()


async def _walk_trade(hub: Any, shop: str, box: Any) -> tuple[str, list[Order]]:
    """A fresh trade walked to TRADE_FINISHED, with what ``get_order`` said at every step."""
    connector = hub.accounts().channel(shop)
    tid = box.create_order(shop, "E2E-TEE", 1, paid=False)
    snapshots = [await connector.get_order(tid)]
    for _ in TOP_PATH[1:]:
        box.advance_order(shop, tid)
        snapshots.append(await connector.get_order(tid))
    assert [s.status.value for s in snapshots] == TOP_PATH
    return tid, snapshots


async def _deliver(hub: Any, shop: str, batches: list[list[InboundMessage]]) -> None:
    for batch in batches:
        poll = [m for m in batch if m.order is not None]
        tmc = [m for m in batch if m.order is None]
        if poll:
            await accept_messages(hub, platform="taobao", shop=shop, source="poll", messages=poll)
        if tmc:
            await accept_messages(hub, platform="taobao", shop=shop, source="message_channel", messages=tmc)


async def _outcome(hub: Any, shop: str, tid: str) -> tuple[int, list[str], int]:
    await eventually(lambda: _settled(hub, shop), timeout_s=60, what="the inbox settled")
    rows = await orders_for(hub, shop, tid)
    chain = _forward_chain(await status_events(hub, rows[0].id)) if rows else []
    async with hub.database().session() as session:
        stored = int(await session.scalar(select(func.count()).select_from(InboxRow).where(
            InboxRow.shop == shop, InboxRow.external_id == tid)) or 0)
    return len(rows), chain, stored


def test_any_delivery_order_and_repetition_makes_one_order_that_never_steps_back(
    backend: Backend, loop_thread: LoopThread
) -> None:
    """Poll observations (each a snapshot the sandbox gave at one step) and TMC triggers (answered
    with ``get_order`` from the sandbox when processed), each delivered 1–3 times, shuffled and
    batched at random, processed by concurrent workers: one order, ending completed, whose
    history only ever moves forward."""
    with served_sandboxes(["taobao"]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        item = served["taobao"]
        shop, box = item.shop, item.sandbox

        @settings(max_examples=10, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
        @given(repeats=st.lists(st.integers(1, 3), min_size=8, max_size=8), seed=st.integers(0, 2**32 - 1),
               batch=st.integers(1, 5))
        def example(repeats: list[int], seed: int, batch: int) -> None:
            tid, snapshots = loop_thread.run(_walk_trade(hub, shop, box))
            messages = [InboundMessage(message_id=poll_message_id(shop, tid, s.updated_at, s.raw_status),
                                       kind=MessageKind.ORDER, topic="poll", external_id=tid,
                                       occurred_at=s.updated_at, order=s) for s in snapshots]
            messages += [InboundMessage(message_id=f"tmc-{tid}-{i}", kind=MessageKind.ORDER,
                                        topic="taobao_trade_TradeChanged", external_id=tid, payload={"tid": tid})
                         for i in range(4)]
            deliveries = [m for m, times in zip(messages, repeats, strict=True) for _ in range(times)]
            random.Random(seed).shuffle(deliveries)
            batches = [deliveries[i:i + batch] for i in range(0, len(deliveries), batch)]
            loop_thread.run(_deliver(hub, shop, batches))
            orders, chain, stored = loop_thread.run(_outcome(hub, shop, tid))
            assert orders == 1
            assert chain[-1] == "completed" and chain[0] in TOP_PATH
            assert stored == len(messages), "every repeat is dropped by the inbox, every distinct message kept"

        try:
            example()
        finally:
            loop_thread.run(close_test_loop(hub))
