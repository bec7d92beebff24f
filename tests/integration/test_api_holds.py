"""Operators release holds over the API: attributed, written to history, and the order proceeds —
a stock-short order reserves again once a person releases the hold after stock arrived."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from contracts import Hold
from hub.db.tables import OrderEventRow, OrderRow
from hub.services import orders
from hub.services.stock import adjustments, skus
from hub.testing.api import api_client, bearer, new_key
from hub.testing.factories import make_order
from hub.testing.hub import hub_config, running_hub


async def test_operator_releases_a_hold_and_the_release_is_attributed(database, database_url) -> None:  # type: ignore[no-untyped-def]
    config = hub_config(database_url, shops={"shop-a": {"platform": "taobao"}},
                        warehouses={"main": {"platform": "manual"}})
    with running_hub(config) as hub:
        async with database.transaction() as session:
            await skus.define_sku(session, "SKU-1")
        await adjustments.adjust_stock(hub, [adjustments.Adjustment(warehouse="main", merchant_sku="SKU-1", on_hand=5)],
                                       actor="test")
        async with database.transaction() as session:
            result = await orders.apply_order(session, make_order(shop="shop-a"), cause="poll")
            await orders.add_hold(session, result.order_id, Hold(code="high_value", reason="over 5,000"), cause="audit")
        operator, viewer = await new_key(hub, "operator", "alice"), await new_key(hub, "viewer")
        async with api_client(hub) as client:
            path = f"/api/v1/orders/{result.order_id}/holds/high_value/release"
            denied = await client.post(path, headers=bearer(viewer))
            assert denied.status_code == 403
            released = await client.post(path, headers=bearer(operator))
            assert released.status_code == 200, released.text
            assert released.json()["released_by"].endswith(":alice")
            again = await client.post(path, headers=bearer(operator))
            assert again.status_code == 409 and "already released" in again.json()["detail"]
            missing = await client.post(f"/api/v1/orders/{result.order_id}/holds/nope/release",
                                        headers=bearer(operator))
            assert missing.status_code == 404
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the follow-up actor runs after commit
            async with database.session() as session:
                row = (await session.execute(select(OrderRow).where(OrderRow.id == result.order_id))).scalar_one()
                kinds = [e.kind for e in (await session.execute(select(OrderEventRow).where(
                    OrderEventRow.order_id == result.order_id))).scalars()]
            if "hold_released" in kinds:
                break
            await asyncio.sleep(0.05)
    assert not row.on_hold and "hold_released" in kinds
