"""The delivery orders screen and the order page's warehouse panel in a real browser (Debian's
Chromium driven by Playwright) against a hub with a Qimen WMS sandbox and an own warehouse: the
operator filters delivery orders by status and warehouse, cancels one, reads why an order is held
(no warehouse covers its province) and routes an approved order from its page. Screenshot:
``console-delivery``.

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from hub.asgi_server import serve_in_thread
from hub.services.fulfilment import flow
from hub.testing.factories import make_order
from hub.testing.fulfilment_delivery import (
    COURIERS,
    approved_order,
    delivery_orders_of,
    stock,
    warehouses_config,
)
from hub.testing.hub import hub_config, running_hub
from plugins.warehouse.sandbox import QimenWmsSandbox
from tests.e2e.console_browser_support import browser_or_skip, shot, signed_in_console

pytestmark = pytest.mark.e2e


@pytest.fixture
def wms() -> Iterator[tuple[QimenWmsSandbox, str]]:
    sandbox = QimenWmsSandbox()
    with serve_in_thread(sandbox.app) as base_url:
        yield sandbox, base_url


def _order(province: str) -> Any:
    base = make_order(lines=[("SKU-1", 1)])
    assert base.shipping_address is not None
    return base.model_copy(update={"shipping_address": base.shipping_address.model_copy(
        update={"province": province})})


async def test_operator_filters_cancels_and_routes_delivery_orders_in_the_browser(
    database_url: str, wms: tuple[QimenWmsSandbox, str]
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the browser test runs once, on SQLite (the screen does not depend on the backend)")
    browser_or_skip()
    sandbox, base_url = wms
    config = hub_config(database_url, couriers=COURIERS, warehouses=warehouses_config(
        sandbox.warehouse_settings(base_url), wms_regions=["浙江"], own_regions=["北京", "上海"]))
    with running_hub(config, start_workers=False, relay=False) as hub:
        await stock(hub, {("wms-hz", "SKU-1"): 10, ("own", "SKU-1"): 10})
        to_wms = await approved_order(hub, _order("浙江省"))
        to_own = await approved_order(hub, _order("北京市"))
        nowhere = await approved_order(hub, _order("西藏自治区"))
        later = await approved_order(hub, _order("上海市"))
        await flow.fulfil_orders(hub, [to_wms, to_own, nowhere])
        [wms_do] = await delivery_orders_of(hub, to_wms)
        [own_do] = await delivery_orders_of(hub, to_own)

        async with signed_in_console(hub, name="e2e-delivery") as console:
            page = console.page
            page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))

            await console.goto("/console/fulfilment/delivery")
            table = page.locator("[data-testid=delivery-table]")
            assert wms_do.code in await table.inner_text() and own_do.code in await table.inner_text()
            assert await page.locator(f"[data-testid=do-status-{wms_do.id}]").inner_text() == "Waiting to be sent"
            assert await page.locator(f"[data-testid=do-status-{own_do.id}]").inner_text() == "At the warehouse"
            await shot(page, "console-delivery")

            await page.select_option("[data-testid=filter-warehouse]", "own")
            await page.click("[data-testid=apply-filters]")
            await page.wait_for_url("**/console/fulfilment/delivery?status=&warehouse=own")
            assert await page.locator(f"[data-testid=do-{own_do.id}]").count() == 1
            assert await page.locator(f"[data-testid=do-{wms_do.id}]").count() == 0

            await console.goto("/console/fulfilment/delivery?status=pending")
            assert await page.locator(f"[data-testid=do-{own_do.id}]").count() == 0
            await page.click(f"[data-testid=cancel-{wms_do.id}]")
            notice = page.locator("[data-testid=notice]")
            assert f"Delivery order {wms_do.code} cancelled." in await notice.inner_text()
            assert await page.locator("[data-testid=no-delivery-orders]").count() == 1
            [cancelled] = await delivery_orders_of(hub, to_wms)
            assert cancelled.status == "cancelled" and cancelled.data["history"][-1]["actor"].endswith("e2e-delivery")

            # The held order's panel says why; the approved one is routed from its page.
            await console.goto(f"/console/orders/{nowhere}")
            hold = page.locator("[data-testid=delivery-hold-no_warehouse]")
            await hold.wait_for()
            assert "no warehouse ships to 西藏自治区" in await hold.inner_text()

            await console.goto(f"/console/orders/{later}")
            await page.locator("[data-testid=route-now]").click()
            await page.wait_for_url(f"**/console/orders/{later}?routed=routed")
            [routed] = await delivery_orders_of(hub, later)
            status = page.locator(f"[data-testid=panel-do-status-{routed.id}]")
            await status.wait_for()
            assert await status.inner_text() == "At the warehouse"
            assert "own" in await page.locator(f"[data-testid=panel-do-{routed.id}]").inner_text()
            assert await page.locator("[data-testid=route-now]").count() == 0
            assert routed.created_by is not None and routed.created_by.endswith("e2e-delivery")
        await hub.close_loop_resources()
