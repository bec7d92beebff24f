"""Backpressure: while the inbox backlog is over ``[queue] inbox_backlog_limit``, the hub takes no
more from a shop's message channel (the TMC messages wait at the platform), shows since when in
``/api/v1/shops``, and takes them in again once processing has caught up. The workers here consume
only the ``channels`` queue, so what is taken in stays pending: the backlog a stuck or slow
processing side would leave. On SQLite with the in-process queue and on PostgreSQL with Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select, update

from hub.config import HubConfig
from hub.context import Hub
from hub.db.tables import InboxRow
from hub.runner import WORKER_POLL_MS
from hub.services import backlog, message_channel
from hub.testing.hub import running_hub
from tests.e2e.hub_e2e_support import Backend, backend, close_test_loop, e2e_config, eventually, served_sandboxes

__all__ = ["backend"]  # the fixture, imported for pytest
pytestmark = pytest.mark.e2e

LIMIT = 5
APP_KEY = "12345678"  # the Taobao sandbox's app: its TMC queue


@contextmanager
def intake_only_hub(config: HubConfig) -> Iterator[Hub]:
    with running_hub(config, start_workers=False, relay=False, schedule=False) as hub:
        assert hub.runtime is not None
        hub.runtime.start_workers(["channels"], worker_timeout_ms=WORKER_POLL_MS)
        yield hub


async def _inbox(hub: Hub, shop: str) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.shop == shop)) or 0)


async def _consume(hub: Hub, shop: str, times: int = 3) -> None:
    assert hub.runtime is not None
    for _ in range(times):
        hub.send("consume_channel", shop)
        await asyncio.to_thread(hub.runtime.join, 60_000, queues=["channels"])


async def test_a_backlog_over_the_limit_leaves_tmc_messages_at_the_platform_until_it_shrinks(
    backend: Backend,
) -> None:
    with served_sandboxes(["taobao"]) as served:
        config = e2e_config(backend, served)
        config.queue.inbox_backlog_limit = LIMIT
        item = served["taobao"]
        shop, box, tmc = item.shop, item.sandbox, item.sandbox.gateway.tmc
        with intake_only_hub(config) as hub:
            try:
                for _ in range(4):  # 8 TMC messages: taken in while the backlog is under the limit
                    box.create_order(shop, "E2E-BP", 1, paid=True)
                await _consume(hub, shop, times=1)

                async def held() -> str | None:
                    await _consume(hub, shop, times=1)
                    return (await message_channel.read(hub, shop)).held_since

                await eventually(held, what="intake held back, and shown, once the backlog is over the limit")
                stored, waiting = await _inbox(hub, shop), tmc.pending(APP_KEY)
                assert stored > LIMIT

                for _ in range(3):
                    box.create_order(shop, "E2E-BP", 1, paid=True)
                await _consume(hub, shop)
                assert await _inbox(hub, shop) == stored, "nothing taken in while over the limit"
                assert tmc.pending(APP_KEY) == waiting + 6, "the new messages wait at the platform"

                async with hub.database().transaction() as session:  # processing catches up
                    await session.execute(update(InboxRow).where(InboxRow.status == "pending").values(status="done"))
                backlog.forget(hub)

                async def taken_in() -> bool:
                    await _consume(hub, shop, times=1)
                    return await _inbox(hub, shop) == stored + 6 and tmc.pending(APP_KEY) == 0

                await eventually(taken_in, what="the waiting messages taken in once the backlog shrank")
                assert (await message_channel.read(hub, shop)).held_since is None, "no longer shown as held"
            finally:
                await close_test_loop(hub)


async def test_over_limit_answers_from_a_bounded_count_and_never_with_limit_zero(backend: Backend) -> None:
    with served_sandboxes(["taobao"]) as served:
        config = e2e_config(backend, served)
        config.queue.inbox_backlog_limit = 2
        with intake_only_hub(config) as hub:
            try:
                assert not await backlog.over_limit(hub)
                async with hub.database().transaction() as session:
                    session.add_all([InboxRow(platform="taobao", shop="bp-count", message_id=f"m{n}", topic="t",
                                              kind="order", source="push", payload={}) for n in range(5)])
                backlog.forget(hub)
                assert await backlog.over_limit(hub)
                assert await backlog.backlog(hub) == 3, "counted up to limit + 1, not every waiting row"
                hub.config.queue.inbox_backlog_limit = 0
                backlog.forget(hub)
                assert not await backlog.over_limit(hub), "0 switches backpressure off"
            finally:
                await close_test_loop(hub)


async def test_a_hub_that_starts_over_the_limit_still_permits_tmc_but_takes_nothing_in(backend: Backend) -> None:
    """The permit is not intake: a hub that starts with the backlog over the limit (an earlier run
    left it) still opens each shop's TMC at once, so TOP keeps the seller's messages from then on,
    while nothing is taken in until the backlog shrinks."""
    with served_sandboxes(["taobao"]) as served:
        config = e2e_config(backend, served)
        config.queue.inbox_backlog_limit = LIMIT
        item = served["taobao"]
        shop, box, tmc = item.shop, item.sandbox, item.sandbox.gateway.tmc
        with intake_only_hub(config) as hub:
            try:
                async with hub.database().transaction() as session:  # left by an earlier run
                    session.add_all([InboxRow(platform="taobao", shop="tb-earlier", message_id=f"old-{n}",
                                              source="message_channel", kind="order", topic="t", payload={},
                                              status="pending", attempts=0) for n in range(LIMIT + 2)])
                backlog.forget(hub)
                box.create_order(shop, "E2E-BP", 1, paid=True)
                await _consume(hub, shop, times=1)
                assert box.tmc_permitted(shop) is not None, "permitted at start, though the backlog is over the limit"
                state = await message_channel.read(hub, shop)
                assert state.is_open and state.held_since, state
                assert await _inbox(hub, shop) == 0 and tmc.pending(APP_KEY) > 0, "nothing taken in"
            finally:
                await close_test_loop(hub)
