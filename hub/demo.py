"""``hub run --demo``: the embedded hub wired to in-process partner sandboxes.

Starts every channel sandbox the plugins register on a local port, configures a demo shop
against each (Taobao, Tmall, Douyin, AliExpress when installed), seeds a small catalogue with
stock, creates an admin API key and prints it, and keeps the sandboxes busy creating orders and
moving them along — so a newcomer sees orders and stock moving in the API within seconds.
Never used in production mode.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any

import structlog

from hub.asgi_server import BackgroundServer
from hub.config import ShopConfig, WarehouseConfig
from hub.context import Hub

log = structlog.get_logger(__name__)

DEMO_PLATFORMS = ("taobao", "tmall", "douyin", "aliexpress")
DEMO_SKUS = {"DEMO-TEE-M": 300, "DEMO-TEE-L": 200, "DEMO-MUG": 120}
STEP_INTERVAL_S = 0.5


@dataclass
class DemoEnvironment:
    hub: Hub
    servers: list[BackgroundServer] = field(default_factory=list)
    sandboxes: dict[str, Any] = field(default_factory=dict)  # shop -> sandbox

    async def drive(self, stop: asyncio.Event) -> None:
        """Create and advance orders in the sandboxes until stopped."""
        await asyncio.sleep(2.0)
        rng = random.Random()
        while not stop.is_set():
            shop = rng.choice(list(self.sandboxes))
            try:
                await self.sandboxes[shop].demo_step(shop)
            except Exception as exc:  # keep the demo going: a sold-out SKU is part of the show
                log.info("demo.step_skipped", shop=shop, reason=f"{type(exc).__name__}: {exc}")
            try:
                await asyncio.wait_for(stop.wait(), STEP_INTERVAL_S)
            except TimeoutError:
                pass

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def start_demo(hub: Hub) -> DemoEnvironment:
    """Start the sandboxes and add a demo shop for each to the hub's configuration."""
    env = DemoEnvironment(hub)
    sandboxes = hub.plugins.sandboxes()
    api = f"http://{hub.config.hub.api_host}:{hub.config.hub.api_port}"
    for platform in DEMO_PLATFORMS:
        cls = sandboxes.get(platform)
        if cls is None:
            log.warning("demo.sandbox_missing", platform=platform)
            continue
        sandbox = cls()
        server = BackgroundServer(sandbox.app).start()
        env.servers.append(server)
        shop = f"demo-{platform}"
        settings = sandbox.shop_settings(shop, server.base_url)
        hub.config.shops[shop] = ShopConfig(platform=platform, settings=settings, poll_interval_s=20,
                                            poll_overlap_s=60)
        sandbox.set_push_target(shop, f"{api}/webhooks/{platform}/{shop}")
        sandbox.demo_skus = list(DEMO_SKUS)
        env.sandboxes[shop] = sandbox
        log.info("demo.sandbox_started", platform=platform, shop=shop, url=server.base_url)
    if "main" not in hub.config.warehouses:
        hub.config.warehouses["main"] = WarehouseConfig(platform="manual")
    return env


async def seed_demo(hub: Hub) -> str:
    """Create the demo API key (printed once) and the demo catalogue with stock; returns the key."""
    from hub.db import api_keys
    from hub.services import inventory

    async with hub.database().transaction() as session:
        key, _ = await api_keys.create_key(session, name="demo", role="admin")
        for sku in DEMO_SKUS:
            await inventory.define_sku(session, sku, name=sku.replace("-", " ").title(), low_stock_threshold=20)
    await inventory.adjust_stock(
        hub,
        [inventory.Adjustment(warehouse="main", merchant_sku=sku, on_hand=qty) for sku, qty in DEMO_SKUS.items()],
        actor="demo",
        reference="demo-seed",
    )
    await hub.close_loop_resources()
    return key
