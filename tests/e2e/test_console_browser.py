"""The operator console in a real browser (Debian's Chromium driven by Playwright) against a real
hub with a Taobao sandbox shop: sign in with a key, watch an order arrive on the overview without
reloading, find it in the orders list, open it, release its hold, switch to Chinese, and look at
the overview and the order on a phone. Screenshots of each screen go to ``docs/screenshots/`` (or
``$HUB_SCREENSHOTS``).

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
Nothing here downloads a browser (never ``playwright install``).

Run on PostgreSQL with Redis: a newcomer's first look on the embedded default is the demo
restart test's (tests/e2e/test_demo_restart.py signs in and watches the overview fill)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from contracts.fulfilment import Hold
from hub.asgi_server import BackgroundServer
from hub.db.tables import OrderHoldRow
from hub.services.orders import add_hold
from tests.e2e.console_browser_support import CHROMIUM, browser_or_skip, shot
from tests.e2e.hub_e2e_support import (
    Backend,
    backend,
    close_test_loop,
    e2e_config,
    e2e_hub,
    eventually,
    orders_for,
    pumping,
    served_sandboxes,
    stock_a_sku,
)

__all__ = ["backend"]
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]

#: The innermost elements reaching past the screen's right edge (outside scrolling tables), to name them.
WIDER_THAN_SCREEN = """() => Array.from(document.querySelectorAll("body *"))
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest(".scroll"))
  .filter(e => !Array.from(e.children).some(c => c.getBoundingClientRect().right > window.innerWidth + 1))
  .slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 60)}"`)"""
ARRIVAL_TIMEOUT_MS = 60_000  # generous: the order travels sandbox → TMC/poll → worker → SSE snapshot


async def test_operator_signs_in_watches_an_order_arrive_releases_its_hold_and_reads_it_in_chinese(
    backend: Backend,
) -> None:
    async_playwright = browser_or_skip()
    from hub.api import create_app
    from hub.db import api_keys

    with served_sandboxes(["taobao"]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        item = served["taobao"]
        shop, box = item.shop, item.sandbox
        server = None
        try:
            await stock_a_sku(hub, "E2E-TEE", 50)
            async with hub.database().transaction() as session:
                key, _ = await api_keys.create_key(session, name="e2e-console", role="admin")
            server = BackgroundServer(create_app(hub)).start()
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
                context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
                page = await context.new_page()

                # Sign in: the console sends a stranger to the sign-in page and back afterwards.
                await page.goto(f"{server.base_url}/")
                await page.wait_for_url("**/console/login**")
                await shot(page, "console-sign-in")
                await page.fill("input[name=api_key]", key)
                await page.click("button[value=key]")
                await page.wait_for_url(f"{server.base_url}/console")
                assert await page.locator("h1").inner_text() == "Overview"

                # An order placed in the shop appears on the open overview, pushed over SSE.
                async with pumping(hub, consume=[shop], poll=[shop]):
                    tid = box.create_order(shop, "E2E-TEE", 1, paid=True)
                    latest = page.locator("[data-testid=latest-orders]")
                    await latest.get_by_text(tid).wait_for(timeout=ARRIVAL_TIMEOUT_MS)
                assert int(await page.locator("[data-testid=orders-today]").inner_text()) >= 1
                assert await page.evaluate("Chart.getChart('chart-per-hour') !== undefined"), "Chart.js drew"
                await shot(page, "console-overview")

                # The order is held (as an audit rule would hold it); find it by SKU and open it.
                order_id = (await eventually(lambda: orders_for(hub, shop, tid), what="the order row"))[0].id
                async with hub.database().transaction() as session:
                    await add_hold(session, order_id, Hold(code="high_value", reason="total above the limit"),
                                   cause="system")
                await page.click("nav >> text=Orders")
                await page.fill("input[name=sku]", "E2E-TEE")
                await page.check("input[name=held]")
                await page.click("form[data-testid=order-filters] button[type=submit]")
                row_link = page.locator("[data-testid=orders-table]").get_by_role("link", name=tid)
                await row_link.wait_for()
                await shot(page, "console-orders")
                await row_link.click()
                # The order's page carries the list's filters (?back=…) for its "Back to orders" link.
                await page.wait_for_url(re.compile(rf"/console/orders/{order_id}(\?|$)"))

                # Release the hold; the page says so and the hub's history names who did it.
                await page.click("[data-testid=release-high_value]")
                await page.locator("[data-testid=released]").wait_for()
                assert "e2e-console" in await page.locator("[data-testid=holds]").inner_text()
                await shot(page, "console-order")
                async with hub.database().session() as session:
                    hold = await session.scalar(select(OrderHoldRow).where(OrderHoldRow.order_id == order_id))
                assert hold is not None and hold.released_at is not None
                assert hold.released_by is not None and "e2e-console" in hold.released_by

                # Switch to Chinese: the same page, every label translated, and it sticks.
                await page.click("[data-testid=switch-language]")
                await page.wait_for_url(f"**/console/orders/{order_id}**")
                assert "订单" in await page.locator("h1").inner_text()
                await page.click("nav >> text=概览")
                assert await page.locator("h1").inner_text() == "概览"

                # A phone: nothing wider than the screen, the latest orders still there.
                await page.set_viewport_size({"width": 390, "height": 844})
                await page.reload()
                await latest.get_by_text(tid).wait_for()
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= 390, f"the overview is {width} px wide on a 390 px phone"
                await shot(page, "console-overview-phone-zh")

                # The order on the phone, in Chinese: nothing wider than the screen, its story in words.
                await latest.get_by_text(tid).click()
                await page.wait_for_url(re.compile(rf"/console/orders/{order_id}$"))
                width = await page.evaluate("document.documentElement.scrollWidth")
                wide = await page.evaluate(WIDER_THAN_SCREEN)
                assert width <= 390, f"the order's page is {width} px wide on a 390 px phone: {wide}"
                history = await page.locator("[data-testid=history]").inner_text()
                assert "创建" in history and "解除挂起" in history, history
                await shot(page, "console-order-phone-zh")
                await context.close()
                await browser.close()
        finally:
            if server is not None:
                server.stop()
            await close_test_loop(hub)
