"""Stock pushes through the real queue (in-process broker, and Redis) on SQLite and PostgreSQL:
a burst of sales reaches the other shops as one coalesced push per shop, not one per sale.

The coalescing window is a delay, and a test racing a delay fails on a slow machine: here the push
job waits for the test to say the burst is over (as if the window closed only then), so eight
sales always fall inside one window however long they take."""

from __future__ import annotations

import asyncio
import secrets
import threading
from typing import Any

import pytest
import redis

from hub.services.stock import effects, push, scheduling
from hub.testing.hub import running_hub
from tests.integration.inventory_support import (  # noqa: F401
    FakeAccounts,
    FakeShop,
    database,
    database_url,
    make_hub,
    place_order,
    seed,
)

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize("broker", ["embedded", "redis"])
async def test_burst_of_sales_is_pushed_to_each_shop_in_one_coalesced_call(
    database_url: str, broker: str, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    prefix = f"hubtest-{secrets.token_hex(4)}:stockpush:"
    monkeypatch.setattr(scheduling, "FLAG_PREFIX", prefix)
    config = make_hub(database_url, rules={"stock_push_window_ms": 50},
                      hub={"database_url": database_url, "redis_url": REDIS_URL if broker == "redis" else None,
                           "worker_threads": 2}).config
    fakes = {name: FakeShop(name) for name in config.shops}
    push_now = push.push_shop
    burst_over = threading.Event()
    jobs: list[str] = []

    async def push_when_the_window_closes(hub: Any, shop: str) -> push.PushReport:
        jobs.append(shop)
        await asyncio.to_thread(burst_over.wait, 60)
        return await push_now(hub, shop)

    try:
        with running_hub(config, load_entry_points=False, queues=["stock"]) as hub:
            hub.accounts = lambda: FakeAccounts(fakes)  # type: ignore[method-assign]
            await seed(hub, "SKU-1", 20)
            for shop in ("shop-a", "shop-b"):
                await push_now(hub, shop)
            monkeypatch.setattr(push, "push_shop", push_when_the_window_closes)
            order_ids = [await place_order(hub, [("SKU-1", 1)], shop="shop-a") for _ in range(8)]
            for order_id in order_ids:
                fakes["shop-a"].buyer_orders("SKU-1", 1)
                await effects.reserve_order(hub, order_id)
            burst_over.set()
            await asyncio.to_thread(hub.runtime.join, 60_000, queues=["stock"])  # type: ignore[union-attr]
            assert fakes["shop-b"].shows["SKU-1"] == 12 and fakes["shop-a"].shows["SKU-1"] == 12
            assert jobs.count("shop-b") == 1, f"one pending push per shop, however many sales: {jobs}"
            assert len(fakes["shop-b"].calls) == 2  # the first push, then one for all eight sales
            assert len(fakes["shop-a"].calls) == 1  # its own sales were never pushed back to it
    finally:
        burst_over.set()  # never leave a worker waiting on a test that failed early
        if broker == "redis":
            client: Any = redis.Redis.from_url(REDIS_URL)
            for key in client.scan_iter(match=f"{prefix}*"):
                client.delete(key)
            client.close()
