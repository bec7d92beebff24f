"""Courier codes at the shipment API: any spelling of a mapped courier is accepted and stored in
its canonical form; a courier the order's shop surely cannot name to its channel is refused at
once with 422, instead of being recorded and dead-lettered when the channel is told. Real
AliExpress and Taobao connectors (nothing is sent to the platforms: workers are not started)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from sqlalchemy import func, select

from contracts import OrderStatus
from hub.context import Hub
from hub.db.tables import ShipmentRow
from hub.services import orders
from hub.testing.api import api_client, bearer, new_key
from hub.testing.factories import make_order
from hub.testing.hub import hub_config, running_hub

AE_SETTINGS = {"app_key": "k", "app_secret": "s", "session": "t", "iop_url": "http://127.0.0.1:9",
               "courier_services": {"sf": "SF_EXPRESS"}}
TB_SETTINGS = {"app_key": "k", "app_secret": "s", "session": "t", "gateway_url": "http://127.0.0.1:9"}


def _config(database_url: str) -> tuple[Any, dict[str, str]]:
    shops = {"aliexpress": f"ae-{secrets.token_hex(3)}", "taobao": f"tb-{secrets.token_hex(3)}",
             "ae_default": f"aed-{secrets.token_hex(3)}"}
    config = hub_config(database_url, shops={
        shops["aliexpress"]: {"platform": "aliexpress", "settings": AE_SETTINGS},
        shops["ae_default"]: {"platform": "aliexpress",
                              "settings": {**AE_SETTINGS, "default_service": "CAINIAO_STANDARD"}},
        shops["taobao"]: {"platform": "taobao", "settings": TB_SETTINGS},
    })
    return config, shops


async def _paid_order(hub: Hub, platform: str, shop: str) -> int:
    order = make_order(platform=platform, shop=shop, status=OrderStatus.PAID, lines=[("SKU-1", 1)])
    async with hub.database().transaction() as session:
        return (await orders.apply_order(session, order, cause="test")).order_id


async def _shipments(hub: Hub, order_id: int) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(ShipmentRow)
                                        .where(ShipmentRow.order_id == order_id)) or 0)


async def test_any_spelling_of_a_mapped_courier_is_accepted_and_stored_canonical(database_url: str) -> None:
    config, shops = _config(database_url)
    with running_hub(config, start_workers=False, relay=False) as hub:
        async with api_client(hub) as client:
            auth = bearer(await new_key(hub, "warehouse"))
            for platform, shop in (("aliexpress", shops["aliexpress"]), ("taobao", shops["taobao"])):
                for n, spelling in enumerate(["SF", "sf", " Sf "]):
                    order_id = await _paid_order(hub, platform, shop)
                    posted = await client.post(f"/api/v1/orders/{order_id}/shipments", headers=auth, json={
                        "parcels": [{"courier_code": spelling, "tracking_number": f"SF-{platform}-{n}"}]})
                    assert posted.status_code == 201, (platform, spelling, posted.text)
                    assert posted.json()["parcels"][0]["courier_code"] == "sf"
        await hub.close_loop_resources()


@pytest.mark.parametrize("shop_kind,courier", [("aliexpress", "DHL"), ("taobao", "NOPE")])
async def test_a_courier_the_shop_cannot_name_is_refused_with_422_and_nothing_recorded(
    database_url: str, shop_kind: str, courier: str
) -> None:
    config, shops = _config(database_url)
    with running_hub(config, start_workers=False, relay=False) as hub:
        order_id = await _paid_order(hub, shop_kind, shops[shop_kind])
        async with api_client(hub) as client:
            auth = bearer(await new_key(hub, "warehouse"))
            posted = await client.post(f"/api/v1/orders/{order_id}/shipments", headers=auth, json={"parcels": [
                {"courier_code": "SF", "tracking_number": "SF-OK-1"},
                {"courier_code": courier, "tracking_number": "X-1"}]})
        assert posted.status_code == 422, posted.text
        body = posted.json()
        assert body["error"] == "unknown_courier" and body["field"] == "body.parcels.1.courier_code"
        assert courier.lower() in body["detail"] and shops[shop_kind] in body["detail"]
        assert await _shipments(hub, order_id) == 0
        await hub.close_loop_resources()


async def test_a_shop_with_a_default_service_takes_any_courier(database_url: str) -> None:
    config, shops = _config(database_url)
    with running_hub(config, start_workers=False, relay=False) as hub:
        order_id = await _paid_order(hub, "aliexpress", shops["ae_default"])
        async with api_client(hub) as client:
            posted = await client.post(f"/api/v1/orders/{order_id}/shipments",
                                       headers=bearer(await new_key(hub, "warehouse")),
                                       json={"parcels": [{"courier_code": "DHL", "tracking_number": "DHL-1"}]})
        assert posted.status_code == 201, posted.text
        await hub.close_loop_resources()


async def test_a_blank_courier_code_is_an_invalid_request(database_url: str) -> None:
    config, shops = _config(database_url)
    with running_hub(config, start_workers=False, relay=False) as hub:
        order_id = await _paid_order(hub, "taobao", shops["taobao"])
        async with api_client(hub) as client:
            posted = await client.post(f"/api/v1/orders/{order_id}/shipments",
                                       headers=bearer(await new_key(hub, "warehouse")),
                                       json={"parcels": [{"courier_code": "  ", "tracking_number": "T-1"}]})
        assert posted.status_code == 422 and posted.json()["error"] == "invalid_request"
        await hub.close_loop_resources()
