"""The delivery orders screen and the order's warehouse panel through the app in-process: roles
limit what is offered and done (a viewer sees no cancel and no route, and is refused them), words
in both languages, a stale form changes nothing, a bad page link is named. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from hub.context import Hub
from hub.services.fulfilment import flow
from hub.testing.factories import make_order
from hub.testing.fulfilment_delivery import COURIERS, approved_order, delivery_orders_of, stock, warehouses_config
from hub.testing.hub import hub_config, running_hub
from tests.integration.test_api_support import new_key
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key


def _order(province: str) -> Any:
    base = make_order(lines=[("SKU-1", 1)])
    assert base.shipping_address is not None
    return base.model_copy(update={"shipping_address": base.shipping_address.model_copy(
        update={"province": province})})


async def _signed_in(client: httpx.AsyncClient, hub: Hub, role: str) -> None:
    assert (await _sign_in_with_key(client, await new_key(hub, role, f"console-{role}"))).status_code == 303


async def test_roles_words_forms_and_the_panel(database_url: str) -> None:
    config = hub_config(database_url, couriers=COURIERS, warehouses=warehouses_config(None, own_regions=["北京"]))
    with running_hub(config, start_workers=False, relay=False) as hub:
        await stock(hub, {("own", "SKU-1"): 10})
        routed = await approved_order(hub, _order("北京"))
        held = await approved_order(hub, _order("西藏"))
        waiting = await approved_order(hub, _order("北京"))
        await flow.fulfil_orders(hub, [routed, held])
        [do] = await delivery_orders_of(hub, routed)

        async with _app(hub) as client:
            assert (await client.get("/console/fulfilment/delivery")).status_code in (303, 307)
            await _signed_in(client, hub, "viewer")
            page = await client.get("/console/fulfilment/delivery")
            assert page.status_code == 200 and do.code in page.text
            assert f'data-testid="cancel-{do.id}"' not in page.text
            panel = await client.get(f"/console/orders/{waiting}/panel/delivery")
            assert "Not routed to a warehouse yet." in panel.text and "route-now" not in panel.text
            refused = await client.post(f"/console/orders/{waiting}/route",
                                        data={"csrf_token": _csrf(page.text)})
            assert refused.status_code == 403
            zh = await client.get("/console/fulfilment/delivery", headers={"accept-language": "zh-CN"})
            assert "发货单" in zh.text and "已下发仓库" in zh.text
            bad = await client.get("/console/fulfilment/delivery?cursor=zzz")
            assert bad.status_code == 422 and "no longer valid" in bad.text
            filtered = await client.get("/console/fulfilment/delivery?status=cancelled&warehouse=own")
            assert do.code not in filtered.text and "No delivery orders." in filtered.text

            held_panel = await client.get(f"/console/orders/{held}/panel/delivery")
            assert 'data-testid="delivery-hold-no_warehouse"' in held_panel.text
            assert "no warehouse ships to 西藏" in held_panel.text
            routed_panel = await client.get(f"/console/orders/{routed}/panel/delivery")
            assert do.code in routed_panel.text and "At the warehouse" in routed_panel.text
            assert "Routed because" in routed_panel.text
            assert (await client.get("/console/orders/999999/panel/delivery")).status_code == 200

        async with _app(hub) as client:
            await _signed_in(client, hub, "warehouse")
            page = await client.get("/console/fulfilment/delivery")
            assert f'data-testid="cancel-{do.id}"' in page.text
            stale = await client.post(f"/console/fulfilment/delivery/{do.id}/cancel", data={"csrf_token": "stale"})
            assert stale.status_code in (400, 403)
            assert (await delivery_orders_of(hub, routed))[0].status == "sent"
            token = _csrf(page.text)
            done = await client.post(f"/console/fulfilment/delivery/{do.id}/cancel",
                                     data={"csrf_token": token, "next": "/console/fulfilment/delivery?warehouse=own"})
            assert done.status_code == 303 and done.headers["location"].endswith(f"warehouse=own&cancelled={do.code}")
            assert (await delivery_orders_of(hub, routed))[0].status == "cancelled"
            panel = await client.get(f"/console/orders/{waiting}/panel/delivery")
            assert 'data-testid="route-now"' in panel.text
            route = await client.post(f"/console/orders/{waiting}/route", data={"csrf_token": token})
            assert route.status_code == 303 and route.headers["location"] == f"/console/orders/{waiting}?routed=routed"
            again = await client.post(f"/console/orders/{waiting}/route", data={"csrf_token": token})
            assert again.status_code == 409 and "open delivery order" in again.text
            [made] = await delivery_orders_of(hub, waiting)
            assert made.created_by is not None and made.created_by.startswith("apikey:")
            assert made.created_by.endswith(":console-warehouse")
        await hub.close_loop_resources()
