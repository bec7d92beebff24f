"""A shipment the platform did ship is never left ``failed``: the Taobao gateway sandbox ships the
trade but answers ``logistics.offline.send`` with a business refusal (an ``isv.*`` error, which
is final), and the hub, reading the trade before it gives up, sees it shipped and marks the
shipment confirmed — no dead letter. SQLite + in-process queue and PostgreSQL + the real Redis."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from hub.context import Hub
from hub.db import api_keys
from plugins.taobao.sandbox import TaobaoSandbox
from plugins.taobao.top_gateway import TopApiError, TopCall
from tests.e2e.hub_e2e_support import (
    Backend,
    backend,
    close_test_loop,
    dead_letters,
    e2e_config,
    e2e_hub,
    eventually,
    hub_api,
    orders_for,
    pumping,
    served_sandboxes,
    stock_a_sku,
)

__all__ = ["backend"]
pytestmark = pytest.mark.e2e

OFFLINE_SEND = "taobao.logistics.offline.send"


def _ships_then_refuses(box: TaobaoSandbox) -> None:
    """The send lands, but the answer is a final-looking refusal (as when two systems ship at once)."""
    real = box.handlers()[OFFLINE_SEND]

    def handler(call: TopCall) -> dict[str, Any]:
        real(call)
        raise TopApiError(15, "Remote service error", "isv.logistics-offline-service-error:B04",
                          "the trade's status does not allow this operation")

    box.gateway.register(OFFLINE_SEND, handler)


async def _order_id(hub: Hub, shop: str, external_id: str) -> int | None:
    rows = await orders_for(hub, shop, external_id)
    return rows[0].id if rows else None


async def _settled(client: httpx.AsyncClient, shipment_id: int) -> dict[str, Any] | None:
    body = (await client.get(f"/api/v1/shipments/{shipment_id}")).json()
    return dict(body) if body["status"] in ("confirmed", "failed") else None


async def test_a_refused_confirmation_of_a_trade_that_did_ship_is_confirmed_not_failed(backend: Backend) -> None:
    sku = f"E2E-SEEN-{secrets.token_hex(3).upper()}"
    with served_sandboxes(["taobao"]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        tb = served["taobao"]
        try:
            async with hub_api(hub) as (client, _), pumping(hub, consume=[tb.shop]):
                await stock_a_sku(hub, sku, 10)
                tid = tb.sandbox.create_order(tb.shop, sku, 1)
                order_id = await eventually(lambda: _order_id(hub, tb.shop, tid), what="the Taobao order")
                _ships_then_refuses(tb.sandbox)
                async with hub.database().transaction() as session:
                    key, _ = await api_keys.create_key(session, name="e2e-warehouse", role="warehouse")
                posted = await client.post(
                    f"/api/v1/orders/{order_id}/shipments", headers={"Authorization": f"Bearer {key}"},
                    json={"warehouse": "main", "parcels": [{"courier_code": "SF", "tracking_number": "SF8001"}]})
                assert posted.status_code == 201, posted.text
                shipment = await eventually(lambda: _settled(client, posted.json()["id"]), timeout_s=30,
                                            what="the shipment settled")
            assert shipment["status"] == "confirmed", shipment
            assert tb.sandbox.gateway.calls.count(OFFLINE_SEND) == 1
            assert await dead_letters(hub) == []
        finally:
            await close_test_loop(hub)
