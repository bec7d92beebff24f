"""Shipments end to end: an order made in a sandbox shop reaches the hub, a warehouse records its
shipment over the hub's API, the stock leaves once, and the channel is told exactly once — over
real HTTP to the Taobao gateway sandbox (``logistics.offline.send``, also when the gateway answers
an ISP error before or after it shipped) and the Douyin sandbox (``order.logisticsAdd``).
SQLite + in-process queue and PostgreSQL + the real Redis."""

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
    Served,
    backend,
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
    sku_stock,
    stock_a_sku,
)

__all__ = ["backend"]
pytestmark = pytest.mark.e2e

OFFLINE_SEND = "taobao.logistics.offline.send"


def _sku() -> str:
    return f"E2E-SHIP-{secrets.token_hex(3).upper()}"


async def _warehouse_key(hub: Hub) -> dict[str, str]:
    async with hub.database().transaction() as session:
        key, _ = await api_keys.create_key(session, name="e2e-warehouse", role="warehouse")
    return {"Authorization": f"Bearer {key}"}


async def _order_id(hub: Hub, shop: str, external_id: str) -> int | None:
    rows = await orders_for(hub, shop, external_id)
    return rows[0].id if rows else None


async def _stock_is(hub: Hub, sku: str, expected: tuple[int, int, int]) -> tuple[int, int, int] | None:
    now = await sku_stock(hub, sku)
    return now if now == expected else None


async def _shipment(client: httpx.AsyncClient, shipment_id: int, status: str) -> dict[str, Any] | None:
    body = (await client.get(f"/api/v1/shipments/{shipment_id}")).json()
    return dict(body) if body["status"] == status else None


def _trade(served: Served, tid: str) -> dict[str, Any]:
    box: TaobaoSandbox = served.sandbox
    with box.lock:
        return dict(box.shop(served.shop).trades[tid])


def _flaky_offline_send(box: TaobaoSandbox, *, ships_first: bool) -> None:
    """Make the gateway answer the first ``logistics.offline.send`` with an ISP error — after
    shipping (the answer was lost) or before (nothing happened) — and the next ones normally."""
    real, failed = box.handlers()[OFFLINE_SEND], []

    def handler(call: TopCall) -> dict[str, Any]:
        if not failed:
            failed.append(call)
            if ships_first:
                real(call)
            raise TopApiError(15, "Remote service error", "isp.top-remote-service-unavailable",
                              "remote service unavailable, retry later")
        return real(call)

    box.gateway.register(OFFLINE_SEND, handler)


async def _ingested_paid_taobao_order(hub: Hub, tb: Served, sku: str) -> tuple[str, int]:
    tid = tb.sandbox.create_order(tb.shop, sku, 2)
    order_id = await eventually(lambda: _order_id(hub, tb.shop, tid), what="the Taobao order in the hub")
    await eventually(lambda: _is(hub, tb.shop, tid, "paid"), what="the order paid")
    await eventually(lambda: _stock_is(hub, sku, (10, 2, 8)), what="the order's units reserved")
    return tid, order_id


async def _is(hub: Hub, shop: str, external_id: str, status: str) -> bool:
    return await order_status(hub, shop, external_id) == status


@pytest.mark.parametrize("fault", ["none", "isp_error_after_shipping", "isp_error_before_shipping"])
async def test_taobao_shipment_recorded_in_the_hub_ships_the_trade_once_and_consumes_the_stock(
    backend: Backend, fault: str
) -> None:
    sku = _sku()
    with served_sandboxes(["taobao"]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        tb = served["taobao"]
        try:
            async with hub_api(hub) as (client, _), pumping(hub, consume=[tb.shop]):
                await stock_a_sku(hub, sku, 10)
                tid, order_id = await _ingested_paid_taobao_order(hub, tb, sku)
                if fault != "none":
                    _flaky_offline_send(tb.sandbox, ships_first=fault == "isp_error_after_shipping")

                body = {"warehouse": "main", "parcels": [{"courier_code": "SF", "tracking_number": "SF7001"}]}
                auth = await _warehouse_key(hub)
                posted = await client.post(f"/api/v1/orders/{order_id}/shipments", json=body, headers=auth)
                assert posted.status_code == 201, posted.text
                again = await client.post(f"/api/v1/orders/{order_id}/shipments", json=body, headers=auth)
                assert again.status_code == 200 and again.json()["id"] == posted.json()["id"]

                shipment = await eventually(lambda: _shipment(client, posted.json()["id"], "confirmed"),
                                            timeout_s=30, what="the shipment confirmed to Taobao")
                assert shipment["confirmed_to_channel_at"] is not None
                trade = _trade(tb, tid)
                assert trade["status"] == "WAIT_BUYER_CONFIRM_GOODS"
                assert [line["invoice_no"] for line in trade["orders"]["order"]] == ["SF7001"]
                assert [line["logistics_company"] for line in trade["orders"]["order"]] == ["SF"]
                await eventually(lambda: _stock_is(hub, sku, (8, 0, 8)), what="the shipped units consumed")
                # The channel's own report (TMC TradeSellerShip) brings the canonical status along.
                await eventually(lambda: _is(hub, tb.shop, tid, "shipped"), what="the order shipped in the hub")

                sends = tb.sandbox.gateway.calls.count(OFFLINE_SEND)
                expected_sends, expected_attempts = {"none": (1, 1), "isp_error_after_shipping": (1, 1),
                                                     "isp_error_before_shipping": (2, 2)}[fault]
                assert sends == expected_sends, tb.sandbox.gateway.calls
                assert shipment["attempts"] == expected_attempts
                hub.send("confirm_shipment", posted.json()["id"])  # a redelivered message
                detail = (await client.get(f"/api/v1/orders/{order_id}")).json()
                assert detail["fulfilment_status"] == "shipped" and detail["shipments"][0]["status"] == "confirmed"
            hub.runtime.join(60_000)  # type: ignore[union-attr]
            assert tb.sandbox.gateway.calls.count(OFFLINE_SEND) == expected_sends
            assert await sku_stock(hub, sku) == (8, 0, 8)
            assert await dead_letters(hub) == []
        finally:
            await close_test_loop(hub)


async def test_douyin_shipment_recorded_in_the_hub_is_sent_with_logistics_add_once(backend: Backend) -> None:
    sku = _sku()
    with served_sandboxes(["douyin"]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        dy = served["douyin"]
        try:
            async with hub_api(hub) as (client, api_url):
                dy.sandbox.set_push_target(dy.shop, f"{api_url}/webhooks/douyin/{dy.shop}")
                await stock_a_sku(hub, sku, 10)
                dy_order = dy.sandbox.create_order(dy.shop, sku, 2)
                order_id = await eventually(lambda: _order_id(hub, dy.shop, dy_order), what="the Douyin order")
                await eventually(lambda: _is(hub, dy.shop, dy_order, "paid"), what="the order paid")
                await eventually(lambda: _stock_is(hub, sku, (10, 2, 8)), what="the order's units reserved")

                body = {"parcels": [{"courier_code": "ZTO", "tracking_number": "ZT9001"}]}
                posted = await client.post(f"/api/v1/orders/{order_id}/shipments", json=body,
                                           headers=await _warehouse_key(hub))
                assert posted.status_code == 201, posted.text
                shipment = await eventually(lambda: _shipment(client, posted.json()["id"], "confirmed"),
                                            what="the shipment confirmed to Douyin")
                assert shipment["confirmed_to_channel_at"] is not None

                emulated = dy.sandbox.book.order(dy.shop, dy_order)
                assert emulated.status == "3"  # shipped
                assert [(p["tracking_no"], p["company"]) for p in emulated.logistics] == [("ZT9001", "zhongtong")]
                await eventually(lambda: _stock_is(hub, sku, (8, 0, 8)), what="the shipped units consumed")
                await eventually(lambda: _is(hub, dy.shop, dy_order, "shipped"), what="Douyin's push: shipped")
                hub.send("confirm_shipment", posted.json()["id"])  # a redelivered message
                detail = (await client.get(f"/api/v1/orders/{order_id}")).json()
                assert detail["fulfilment_status"] == "shipped" and detail["shipments"][0]["status"] == "confirmed"
            hub.runtime.join(60_000)  # type: ignore[union-attr]
            assert dy.sandbox.calls.count("order.logisticsAdd") == 1
            assert await dead_letters(hub) == []
        finally:
            await close_test_loop(hub)
