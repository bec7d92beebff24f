"""Douyin and AliExpress through the whole hub: Douyin pushes reach the hub's real webhook under
uvicorn (normal, duplicated and shuffled), AliExpress comes over TMC with polling as the safety
net; each order becomes one canonical order, follows its status changes, reserves stock and moves
what the other shop shows; throttling and token expiry in each sandbox are ridden out. SQLite +
in-process queue and PostgreSQL + the real Redis."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from sqlalchemy import select

from hub.db.tables import InboxRow
from plugins.douyin.sandbox import DouyinSandbox
from tests.e2e.hub_e2e_support import (
    Backend,
    Served,
    backend,
    bind_listings,
    close_test_loop,
    dead_letters,
    e2e_config,
    e2e_hub,
    eventually,
    hub_api,
    order_status,
    orders_for,
    pumping,
    served_sandboxes,
    shown,
    sku_stock,
    status_events,
    stock_a_sku,
)

__all__ = ["backend"]
pytestmark = pytest.mark.e2e

RANK = {s: i for i, s in enumerate(["pending_payment", "paid", "partially_shipped", "shipped", "delivered",
                                    "completed"])}


def _sku() -> str:
    return f"E2E-{secrets.token_hex(3).upper()}"


async def _is(hub: Any, shop: str, external_id: str, status: str) -> bool:
    return await order_status(hub, shop, external_id) == status


async def _shows(served: dict[str, Served], sku: str, expected: dict[str, int]) -> dict[str, int | None] | None:
    now = shown(served, sku)
    return now if all(now[p] == q for p, q in expected.items()) else None


async def _stock_is(hub: Any, sku: str, expected: tuple[int, int, int]) -> tuple[int, int, int] | None:
    now = await sku_stock(hub, sku)
    return now if now == expected else None


async def _forward_only(hub: Any, shop: str, external_id: str) -> list[str]:
    rows = await orders_for(hub, shop, external_id)
    assert len(rows) == 1, f"{shop}/{external_id}: {len(rows)} orders"
    chain = []
    for kind, old, new in await status_events(hub, rows[0].id):
        if kind == "status_changed":
            assert RANK[new or ""] > RANK[old or ""], f"backwards step {old} → {new}"
        chain.append(new or "")
    return chain


async def test_douyin_push_and_aliexpress_tmc_orders_land_once_follow_status_and_move_the_other_shop(
    backend: Backend,
) -> None:
    sku = _sku()
    with served_sandboxes(["douyin", "aliexpress"]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        dy, ae = served["douyin"], served["aliexpress"]
        try:
            async with hub_api(hub) as (client, api_url), pumping(hub, consume=[ae.shop], poll=[ae.shop]):
                dy.sandbox.set_push_target(dy.shop, f"{api_url}/webhooks/douyin/{dy.shop}")
                await stock_a_sku(hub, sku, 20)
                await bind_listings(hub, served, sku)
                await eventually(lambda: _shows(served, sku, {"douyin": 20, "aliexpress": 20}),
                                 what="the first push to both shops")

                # Douyin: pushed to the webhook, fetched with get_order, stock reserved.
                dy_order = dy.sandbox.create_order(dy.shop, sku, 2)
                await eventually(lambda: _is(hub, dy.shop, dy_order, "paid"), what="the Douyin order")
                await eventually(lambda: _stock_is(hub, sku, (20, 2, 18)), what="the order's units reserved")
                await eventually(lambda: _shows(served, sku, {"douyin": 18, "aliexpress": 18}),
                                 what="AliExpress lowered after the Douyin sale")
                for expected in ("shipped", "completed"):
                    dy.sandbox.advance_order(dy.shop, dy_order)
                    await eventually(lambda expected=expected: _is(hub, dy.shop, dy_order, expected),
                                     what=f"Douyin order {expected}")
                assert await _forward_only(hub, dy.shop, dy_order) == ["paid", "shipped", "completed"]
                await eventually(lambda: _stock_is(hub, sku, (18, 0, 18)), what="shipping consuming the reservation")

                # AliExpress: over TMC (and the poll), same story the other way round.
                ae_order = ae.sandbox.create_order(ae.shop, sku, 1)
                await eventually(lambda: _is(hub, ae.shop, ae_order, "paid"), what="the AliExpress order")
                await eventually(lambda: _shows(served, sku, {"douyin": 17, "aliexpress": 17}),
                                 what="Douyin lowered after the AliExpress sale")
                for expected in ("shipped", "delivered", "completed"):
                    ae.sandbox.advance_order(ae.shop, ae_order)
                    await eventually(lambda expected=expected: _is(hub, ae.shop, ae_order, expected),
                                     what=f"AliExpress order {expected}")
                assert await _forward_only(hub, ae.shop, ae_order) == ["paid", "shipped", "delivered", "completed"]
                await eventually(lambda: _stock_is(hub, sku, (17, 0, 17)), what="the AliExpress units consumed")

                detail = (await client.get(f"/api/v1/orders/{(await orders_for(hub, dy.shop, dy_order))[0].id}"))
                assert detail.status_code == 200 and detail.json()["external_id"] == dy_order
            async with hub.database().session() as session:
                dy_sources = set((await session.execute(select(InboxRow.source).where(
                    InboxRow.shop == dy.shop))).scalars())
            assert dy_sources == {"push"}, "Douyin orders came in through the webhook"
            assert all(d.status == 200 for d in dy.sandbox.deliveries), dy.sandbox.deliveries
            assert await dead_letters(hub) == []
        finally:
            await close_test_loop(hub)


@pytest.mark.parametrize("mode", ["duplicate", "shuffle"])
async def test_douyin_pushes_duplicated_or_shuffled_make_no_duplicate_and_no_backwards_step(
    backend: Backend, mode: str
) -> None:
    box = DouyinSandbox(auto_deliver=False, push_batch_size=4, seed=7)
    box.set_push_mode(mode)
    with served_sandboxes(["douyin"], douyin=box) as served, e2e_hub(e2e_config(backend, served)) as hub:
        dy = served["douyin"]
        try:
            async with hub_api(hub) as (_, api_url):
                box.set_push_target(dy.shop, f"{api_url}/webhooks/douyin/{dy.shop}")
                orders = [box.create_order(dy.shop, "E2E-DY", 1, paid=i % 2 == 0) for i in range(4)]
                for step in range(3):  # every order moves on while earlier pushes are still queued
                    for order_id in orders:
                        box.advance_order(dy.shop, order_id)
                    if step == 1:
                        await box.deliver_pushes()
                await box.deliver_pushes()
                final = {o: box.book.order(dy.shop, o).status for o in orders}
                expected = {o: {"5": "completed", "3": "shipped"}[s] for o, s in final.items()}
                for order_id, status in expected.items():
                    await eventually(lambda o=order_id, s=status: _is(hub, dy.shop, o, s), timeout_s=60,
                                     what=f"order {order_id} {status}")
            for order_id in orders:
                await _forward_only(hub, dy.shop, order_id)
            assert all(d.status == 200 for d in box.deliveries), box.deliveries
            if mode == "duplicate":
                assert sum(d.messages for d in box.deliveries) > len(orders) * 4, "pushes really were doubled"
            assert await dead_letters(hub) == []
        finally:
            await close_test_loop(hub)


async def test_douyin_throttle_and_token_expiry_and_aliexpress_throttle_are_ridden_out(backend: Backend) -> None:
    sku = _sku()
    with served_sandboxes(["douyin", "aliexpress"]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        dy, ae = served["douyin"], served["aliexpress"]
        try:
            async with hub_api(hub) as (client, api_url), pumping(hub, consume=[ae.shop], poll=[ae.shop]):
                dy.sandbox.set_push_target(dy.shop, f"{api_url}/webhooks/douyin/{dy.shop}")
                await stock_a_sku(hub, sku, 30)
                await bind_listings(hub, served, sku)
                await eventually(lambda: _shows(served, sku, {"douyin": 30, "aliexpress": 30}),
                                 what="the first push to both shops")
                dy.sandbox.inject_fault("throttle", 4)  # 60000 isv.request-limited
                dy.sandbox.inject_fault("auth")  # the access token expires: refreshed, not paused
                dy.sandbox.inject_fault("throttle", 2)
                ae.sandbox.inject_fault("throttle", 3, seconds=1)  # "This ban will last for 1 more seconds"
                dy_orders = [dy.sandbox.create_order(dy.shop, sku, 1) for _ in range(3)]
                ae_orders = [ae.sandbox.create_order(ae.shop, sku, 1) for _ in range(3)]
                for shop, ids in ((dy.shop, dy_orders), (ae.shop, ae_orders)):
                    for order_id in ids:
                        await eventually(lambda s=shop, o=order_id: _is(hub, s, o, "paid"), timeout_s=60,
                                         what=f"{shop} order {order_id} through the faults")
                await eventually(lambda: _shows(served, sku, {"douyin": 24, "aliexpress": 24}), timeout_s=60,
                                 what="both shops showing the six sales")
                shops = {s["name"]: s for s in (await client.get("/api/v1/shops")).json()}
            assert not dy.sandbox._faults and not ae.sandbox._faults, "the faults were really served"
            assert "token.refresh" in dy.sandbox.calls, "an expired token is refreshed"
            for shop, ids in ((dy.shop, dy_orders), (ae.shop, ae_orders)):
                for order_id in ids:
                    assert len(await orders_for(hub, shop, order_id)) == 1
            assert shops[dy.shop]["status"] != "paused" and shops[ae.shop]["status"] != "paused"
            await eventually(lambda: _stock_is(hub, sku, (30, 6, 24)), what="six units reserved")
            assert await dead_letters(hub) == []
        finally:
            await close_test_loop(hub)
