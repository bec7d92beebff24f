"""Shared harness for the whole-hub end-to-end tests (``tests/e2e/test_hub_*.py``): no tests here.

What it gives: the backend pairing (SQLite + in-process queue, PostgreSQL + the real Redis), the
channel sandboxes under real uvicorn with a hub shop configured against each, a running hub (real
workers, the outbox relay; the leader scheduler is *not* relied on: tests drive the periodic
actors themselves with ``pumping``), the hub's API under uvicorn with an admin key, and small
read helpers over the hub's database and the sandboxes. Not a conftest (the lead owns those), and
not for asserting anything: the tests do that.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import func, select

from hub.asgi_server import BackgroundServer
from hub.config import HubConfig, ShopConfig, WarehouseConfig
from hub.context import Hub
from hub.db.tables import DeadLetterRow, InboxRow, OrderEventRow, OrderRow
from hub.runner import WORKER_POLL_MS
from hub.testing.hub import QUEUE_MODES, hub_config, redis_url_for_mode, running_hub
from plugins.aliexpress.sandbox import AliExpressSandbox
from plugins.douyin.sandbox import DouyinSandbox
from plugins.taobao.sandbox import TaobaoSandbox
from plugins.tmall.sandbox import TmallSandbox

T = TypeVar("T")

SANDBOXES: dict[str, Callable[[], Any]] = {
    # Short TMC redelivery so "consumed but never confirmed" comes back within a test.
    "taobao": lambda: TaobaoSandbox(redelivery_seconds=1.0),
    "tmall": lambda: TmallSandbox(redelivery_seconds=1.0),
    "douyin": lambda: DouyinSandbox(push_interval_s=0.05),
    "aliexpress": lambda: AliExpressSandbox(redeliver_after=1.0),
}


# --------------------------------------------------------------------------- backends


@dataclass(frozen=True)
class Backend:
    """Where the hub under test keeps its data and its queue."""

    database_url: str
    redis_url: str | None

    @property
    def label(self) -> str:
        return "postgresql+redis" if self.redis_url else "sqlite+embedded"


@pytest.fixture(params=QUEUE_MODES)
def backend(request: pytest.FixtureRequest, database_url: str) -> Backend:
    """SQLite with the in-process queue, and PostgreSQL with the real Redis (as in production)."""
    return Backend(database_url, redis_url_for_mode(request.param, database_url))


def shop_name(platform: str) -> str:
    """A shop name of its own per test: Redis keys outside the queue namespace (stock-push flags,
    breakers, rate buckets) are per shop, and other test sessions share the server."""
    return f"{platform[:6]}-{secrets.token_hex(3)}"


# --------------------------------------------------------------------------- sandboxes


@dataclass
class Served:
    """One sandbox under uvicorn and the hub shop configured against it."""

    platform: str
    shop: str
    sandbox: Any
    server: BackgroundServer

    @property
    def base_url(self) -> str:
        return self.server.base_url


@contextmanager
def served_sandboxes(platforms: list[str], **options: Any) -> Iterator[dict[str, Served]]:
    """One sandbox per platform (its own instance: TMC groups are per app, so two shops of one
    app would read each other's messages) with one shop each; stopped afterwards. ``options``
    maps a platform to a ready sandbox instance to serve instead of the default one."""
    started: dict[str, Served] = {}
    try:
        for platform in platforms:
            sandbox = options.get(platform) or SANDBOXES[platform]()
            server = BackgroundServer(sandbox.app).start()
            started[platform] = Served(platform, shop_name(platform), sandbox, server)
        yield started
    finally:
        for served in started.values():
            served.server.stop()


def shop_configs(served: dict[str, Served], **overrides: Any) -> dict[str, ShopConfig]:
    """A hub shop per sandbox; the per-shop rate limit is raised so tests that drive the
    periodic actors hard are not slowed by the hub's own token bucket."""
    out = {}
    for item in served.values():
        values: dict[str, Any] = {"platform": item.platform,
                                  "settings": item.sandbox.shop_settings(item.shop, item.base_url),
                                  "poll_interval_s": 1.0, "poll_overlap_s": 120.0,
                                  "rate_limit_per_s": 200.0, "rate_limit_burst": 200}
        values.update(overrides)
        out[item.shop] = ShopConfig(**values)
    return out


def e2e_config(backend: Backend, served: dict[str, Served], **sections: Any) -> HubConfig:
    config = hub_config(backend.database_url, redis_url=backend.redis_url, shops=shop_configs(served), **sections)
    config.warehouses.setdefault("main", WarehouseConfig(platform="manual"))
    if "stock_unanswered_wait_s" not in dict(sections.get("rules") or {}):
        # A sandbox applies a call before it answers, so a push whose answer was lost (a timeout on
        # a loaded machine) can no longer land late once it is a few seconds old; the platforms'
        # default (60 s) would outlast the tests' deadlines before the listing is pushed again.
        config.rules.stock_unanswered_wait_s = 3
    return config


# --------------------------------------------------------------------------- the running hub


@contextmanager
def e2e_hub(config: HubConfig) -> Iterator[Hub]:
    """``running_hub`` with the outbox relay (order follow-ups, stock effects) and workers polling
    as often as ``hub run``/``hub worker`` make them (``hub.runner.WORKER_POLL_MS``). The leader
    scheduler is left out: tests send the periodic actors themselves (``pumping``)."""
    with running_hub(config, start_workers=False, relay=True, schedule=False) as hub:
        assert hub.runtime is not None
        hub.runtime.start_workers(worker_timeout_ms=WORKER_POLL_MS)
        yield hub


@dataclass
class Pump:
    """Sends ``consume_channel`` and ``poll_shop`` for shops (and ``sweep_dirty_stock`` when
    ``sweep``), as the leader scheduler would, but faster; they run concurrently on the workers.
    Every 0.4 s (the poll every other round): often enough that a test waits little, seldom enough
    that the suite's parallel hubs do not spend the machine polling sandboxes that have nothing new."""

    hub: Hub
    consume: list[str] = field(default_factory=list)
    poll: list[str] = field(default_factory=list)
    every_s: float = 0.4
    sweep: bool = False
    rounds: int = 0

    async def run(self) -> None:
        while True:
            for shop in self.consume:
                self.hub.send("consume_channel", shop)
            if self.rounds % 2 == 0:
                for shop in self.poll:
                    self.hub.send("poll_shop", shop)
            if self.sweep and self.rounds % 5 == 0:
                self.hub.send("sweep_dirty_stock")
            self.rounds += 1
            await asyncio.sleep(self.every_s)


@asynccontextmanager
async def pumping(hub: Hub, *, consume: list[str] = (), poll: list[str] = (),  # type: ignore[assignment]
                  every_s: float = 0.4, sweep: bool = False) -> AsyncIterator[Pump]:
    pump = Pump(hub, list(consume), list(poll), every_s, sweep)
    task = asyncio.create_task(pump.run())
    try:
        yield pump
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def eventually(check: Callable[[], Awaitable[T]], *, timeout_s: float = 60.0, every_s: float = 0.05,
                     what: str = "condition") -> T:
    """Await ``check()`` until it returns something truthy; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        last = await check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s:g} s (last seen: {last!r})")
        await asyncio.sleep(every_s)


# --------------------------------------------------------------------------- reading the hub


async def orders_for(hub: Hub, shop: str, external_id: str) -> list[OrderRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(OrderRow).where(
            OrderRow.shop == shop, OrderRow.external_id == external_id))).scalars())


async def order_status(hub: Hub, shop: str, external_id: str) -> str | None:
    rows = await orders_for(hub, shop, external_id)
    return rows[0].status if rows else None


async def status_events(hub: Hub, order_id: int) -> list[tuple[str, str | None, str | None]]:
    """(kind, old, new) of the events that set the status (created, status_changed), in order."""
    async with hub.database().session() as session:
        rows = (await session.execute(select(OrderEventRow).where(
            OrderEventRow.order_id == order_id, OrderEventRow.kind.in_(["created", "status_changed"]))
            .order_by(OrderEventRow.id))).scalars()
        return [(r.kind, r.old_status, r.new_status) for r in rows]


async def count_orders(hub: Hub, shop: str) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(OrderRow).where(OrderRow.shop == shop))
                   or 0)


async def dead_letters(hub: Hub) -> list[DeadLetterRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(DeadLetterRow))).scalars())


async def inbox_unsettled(hub: Hub) -> int:
    """Inbox rows not yet done (pending or failed-and-retrying)."""
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxRow).where(
            InboxRow.status.in_(["pending", "failed"]))) or 0)


# --------------------------------------------------------------------------- stock


async def stock_a_sku(hub: Hub, merchant_sku: str, on_hand: int) -> None:
    """Put ``merchant_sku`` in the catalogue with ``on_hand`` units in the manual "main" warehouse."""
    from hub.services.stock import adjustments, skus

    async with hub.database().transaction() as session:
        await skus.define_sku(session, merchant_sku, name=merchant_sku)
    await adjustments.adjust_stock(hub, [adjustments.Adjustment(warehouse="main", merchant_sku=merchant_sku,
                                                                on_hand=on_hand)], actor="e2e", reference="e2e-seed")


def list_in_sandbox(served: Served, merchant_sku: str, shown: int) -> tuple[str, str]:
    """Create the listing in the emulated shop; returns its (channel_item_id, channel_sku_id)."""
    box = served.sandbox
    if isinstance(box, TaobaoSandbox):  # Tmall too
        item = box.add_listing(served.shop, [merchant_sku], stock=shown)
        return item.num_iid, next(iter(item.skus))
    if isinstance(box, DouyinSandbox):
        product_id, sku_id = box.listing(served.shop, merchant_sku, shown)
        return product_id, sku_id
    if isinstance(box, AliExpressSandbox):
        product_id = box.ensure_listing(served.shop, merchant_sku)
        box.shops[served.shop].listings[product_id][merchant_sku] = shown
        return product_id, ""
    raise TypeError(f"no listing helper for {type(box).__name__}")


async def bind_listings(hub: Hub, served: dict[str, Served], merchant_sku: str, shown: int = 0) -> None:
    """List ``merchant_sku`` in every sandbox shop (showing ``shown``), tell the hub about each
    listing, and ask for the first push of every shop."""
    from hub.services.stock import channel_listings, scheduling

    async with hub.database().transaction() as session:
        for item in served.values():
            item_id, sku_id = list_in_sandbox(item, merchant_sku, shown)
            await channel_listings.add_listing(session, item.shop, merchant_sku, item_id, sku_id)
    await scheduling.schedule_push(hub, [item.shop for item in served.values()], delay_ms=0)


def shown(served: dict[str, Served], merchant_sku: str) -> dict[str, int | None]:
    """What every emulated shop shows for ``merchant_sku`` now, by platform."""
    return {platform: item.sandbox.shown_stock(item.shop, merchant_sku) for platform, item in served.items()}


# --------------------------------------------------------------------------- the API


@asynccontextmanager
async def hub_api(hub: Hub) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The hub's API under real uvicorn; yields an admin client and the base URL."""
    from hub.api import create_app
    from hub.db import api_keys

    async with hub.database().transaction() as session:
        key, _ = await api_keys.create_key(session, name="e2e", role="admin")
    server = BackgroundServer(create_app(hub)).start()
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10.0,
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            yield client, server.base_url
    finally:
        server.stop()


async def sku_stock(hub: Hub, merchant_sku: str) -> tuple[int, int, int]:
    """(on hand, reserved, available) of ``merchant_sku`` across warehouses, as the hub sees it."""
    from hub.services.stock import levels

    async with hub.database().session() as session:
        level = (await levels.stock_of(session, [merchant_sku]))[merchant_sku]
    return sum(level.on_hand.values()), sum(level.reserved.values()), level.available


async def close_test_loop(hub: Hub) -> None:
    """Dispose what the test's own loop opened (engine, Redis client, connectors)."""
    await hub.close_loop_resources()
