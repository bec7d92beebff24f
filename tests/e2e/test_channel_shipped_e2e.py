"""Orders shipped outside the hub: the merchant marks a sandbox order shipped on the platform side
(the seller centre), the hub only polls, and the stored order's ``fulfilment_status`` follows to
``shipped`` though no shipment was recorded in the hub. Polled orders arrive complete, address
included. SQLite + in-process queue and PostgreSQL + the real Redis."""

from __future__ import annotations

import pytest

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
)

__all__ = ["backend"]
pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("platform", ["taobao", "aliexpress", "douyin"])
async def test_an_order_shipped_on_the_platform_is_shipped_in_the_hub(backend: Backend, platform: str) -> None:
    with served_sandboxes([platform]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        item = served[platform]
        shop, box = item.shop, item.sandbox
        try:
            async with pumping(hub, poll=[shop]):
                external_id = box.create_order(shop, "E2E-SHIPPED-ELSEWHERE", 1)

                async def is_(status: str) -> bool:
                    return await order_status(hub, shop, external_id) == status

                await eventually(lambda: is_("paid"), what="the paid order, polled")
                [row] = await orders_for(hub, shop, external_id)
                assert row.fulfilment_status == "unfulfilled"
                box.advance_order(shop, external_id)  # the merchant ships it in the seller centre
                await eventually(lambda: is_("shipped"), what="the platform's shipped status, polled")
            async with hub_api(hub) as (client, _):
                detail = (await client.get(f"/api/v1/orders/{row.id}")).json()
            assert detail["fulfilment_status"] == "shipped" and detail["shipments"] == []
            moves = [e for e in detail["history"] if e["kind"] == "fulfilment_changed"]
            assert [(m["detail"]["from"], m["detail"]["to"]) for m in moves] == [("unfulfilled", "shipped")]
            [stored] = await orders_for(hub, shop, external_id)
            assert stored.data["shipping_address"] is not None, "a polled order must carry its address"
        finally:
            await close_test_loop(hub)
