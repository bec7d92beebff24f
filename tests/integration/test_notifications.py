"""Extension and notification hooks as a merchant's plugin sees them: ``order_changed`` after an
order lands, ``stock_changed`` (flagged low at the threshold) after stock moves, and
``allocate_stock`` overriding a shop's share — clamped in partitioned mode."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from contracts import AllocationMode, AllocationRequest, InboundMessage, MessageKind, Order, StockPolicy
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager
from hub.services.ingest import accept_messages
from hub.services.stock import adjustments, skus
from hub.services.stock.allocation import ShopShare, allocate
from hub.testing.factories import make_order
from hub.testing.hub import hub_config, running_hub


class Recorder:
    def __init__(self) -> None:
        self.orders: list[tuple[int, str | None, str, str]] = []
        self.stock: list[tuple[str, int, bool]] = []

    @hookimpl
    def order_changed(self, order_id: int, order: Order, old_status: str | None, new_status: str, cause: str) -> None:
        assert order.ref.external_id  # plugins get the canonical model, not a row
        self.orders.append((order_id, old_status, new_status, cause))

    @hookimpl
    def stock_changed(self, merchant_sku: str, available: int, low: bool) -> None:
        self.stock.append((merchant_sku, available, low))


async def _until(check: Any, limit_s: float = 60.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def test_plugins_hear_about_new_orders_and_stock_changes(database, database_url) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    config = hub_config(database_url, shops={"shop-a": {"platform": "taobao"}},
                        warehouses={"main": {"platform": "manual"}})
    with running_hub(config, extra_plugins=[recorder]) as hub:
        async with hub.database().transaction() as session:
            await skus.define_sku(session, "SKU-1", low_stock_threshold=5)
        await adjustments.adjust_stock(hub, [adjustments.Adjustment(warehouse="main", merchant_sku="SKU-1", on_hand=6)],
                                       actor="test")
        order = make_order(platform="taobao", shop="shop-a", lines=[("SKU-1", 2)])
        await accept_messages(hub, platform="taobao", shop="shop-a", source="poll", messages=[
            InboundMessage(message_id="poll-1", kind=MessageKind.ORDER, topic="poll",
                           external_id=order.ref.external_id, order=order)])
        await _until(lambda: recorder.orders and any(s == ("SKU-1", 4, True) for s in recorder.stock))
    assert recorder.orders[0][1:] == (None, "paid", "poll")
    assert ("SKU-1", 6, False) in recorder.stock  # after the adjustment: above the threshold
    assert recorder.stock[-1] == ("SKU-1", 4, True)  # the reservation took it to the threshold


def test_allocate_stock_plugin_overrides_a_share_but_cannot_oversell_in_partitioned_mode() -> None:
    class Greedy:
        @hookimpl
        def allocate_stock(self, request: AllocationRequest) -> int | None:
            return request.available * 10 if request.shop == "tb" else None

    plugins = build_plugin_manager(extra=[Greedy()], load_entry_points=False)
    shares = [ShopShare("tb", "taobao", StockPolicy()), ShopShare("dy", "douyin", StockPolicy(share_percent=50))]

    def hook(request: AllocationRequest) -> Any:
        return plugins.hook.allocate_stock(request=request)

    assert allocate("SKU-1", 100, shares, AllocationMode.SHARED, hook) == {"tb": 1000, "dy": 50}
    partitioned = allocate("SKU-1", 100, shares, AllocationMode.PARTITIONED, hook)
    assert sum(partitioned.values()) <= 100 and partitioned["tb"] > partitioned["dy"]
