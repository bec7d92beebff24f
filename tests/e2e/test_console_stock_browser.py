"""The stock screen in a real browser (Debian's Chromium driven by Playwright) against a real hub on
PostgreSQL + Redis with two sandbox shops (Taobao and Douyin) selling one SKU: find the SKU, set
its stock on its page, watch each shop's target change at once and what it shows follow without
reloading — and the sandboxes really show it — then import a stock file through the file input and
watch its progress reach done, the shops following again. Screenshots ``console-stock``,
``console-stock-sku`` and ``console-stock-import``.

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
Nothing here downloads a browser (never ``playwright install``).
"""

from __future__ import annotations

import secrets

import pytest

from hub.services.stock import skus
from tests.e2e.console_browser_support import PHONE, page_width, shot, signed_in_console
from tests.e2e.hub_e2e_support import (
    Backend,
    backend,
    bind_listings,
    close_test_loop,
    e2e_config,
    e2e_hub,
    eventually,
    pumping,
    served_sandboxes,
    shown,
    sku_stock,
    stock_a_sku,
)

__all__ = ["backend"]
pytestmark = pytest.mark.e2e

PUSH_TIMEOUT_MS = 60_000  # generous: a change travels commit → push job → sandbox → the page's next poll
PLATFORMS = ["taobao", "douyin"]


async def _all_show(served: dict, sku: str, quantity: int) -> bool:  # type: ignore[type-arg]
    return all(value == quantity for value in shown(served, sku).values())


async def test_operator_adjusts_a_sku_and_imports_a_file_and_the_shops_follow(backend: Backend) -> None:
    if backend.redis_url is None:
        pytest.skip("the stock screen's browser test runs on PostgreSQL + Redis only")
    sku = f"E2E-TEE-{secrets.token_hex(2).upper()}"
    mug = f"E2E-MUG-{secrets.token_hex(2).upper()}"
    with served_sandboxes(PLATFORMS) as served, e2e_hub(e2e_config(backend, served)) as hub:
        shops = {platform: item.shop for platform, item in served.items()}
        try:
            await stock_a_sku(hub, sku, 30)
            await stock_a_sku(hub, mug, 4)
            async with hub.database().transaction() as session:
                await skus.define_sku(session, mug, name="Mug", low_stock_threshold=5)
            await bind_listings(hub, served, sku)
            await eventually(lambda: _all_show(served, sku, 30), what="the first push to both sandbox shops")
            async with pumping(hub, sweep=True), signed_in_console(hub, role="warehouse") as console:
                page = console.page

                # The list: the SKU with its numbers, found by prefix.
                await page.click("nav >> text=Stock")
                await page.fill("input[name=prefix]", "E2E-")
                await page.click("form[data-testid=stock-filters] button[type=submit]")
                row = page.locator(f"[data-testid=stock-row-{sku}]")
                await row.wait_for()
                assert await row.locator("[data-testid=available]").inner_text() == "30"
                assert "2 of 2 in sync" in await row.inner_text()
                await shot(page, "console-stock")

                # The SKU's page: both shops show 30.
                await row.get_by_role("link", name=sku).click()
                await page.wait_for_url(f"**/console/stock/{sku}")
                for shop in shops.values():
                    assert await page.locator(f"[data-testid=shop-{shop}] [data-testid=shown]").inner_text() == "30"

                # Set on hand to 42: the targets move at once, the shown values follow the pushes.
                await page.select_option("select[name=warehouse]", "main")
                await page.check("input[name=mode][value=set]")
                await page.fill("input[name=quantity]", "42")
                await page.fill("input[name=note]", "stocktake after delivery")
                await page.click("[data-testid=adjust-submit]")
                await page.locator("[data-testid=adjusted]").wait_for()
                assert await page.locator("#sku-live [data-testid=on-hand]").first.inner_text() == "42"
                for shop in shops.values():
                    assert await page.locator(f"[data-testid=shop-{shop}] [data-testid=target]").inner_text() == "42"
                updated = await page.locator("#sku-live p.muted").first.inner_text()
                await page.wait_for_function(  # no reload: the live part refreshes itself
                    "before => document.querySelector('#sku-live p.muted').textContent !== before", arg=updated)
                for shop in shops.values():
                    await page.locator(f"[data-testid=shop-{shop}] [data-testid=shown]").filter(
                        has_text="42").wait_for(timeout=PUSH_TIMEOUT_MS)
                assert shown(served, sku) == dict.fromkeys(PLATFORMS, 42)  # the shops really show it
                assert "stocktake after delivery" in await page.locator("[data-testid=movements]").inner_text()
                await shot(page, "console-stock-sku")

                # A bad value: the same form, the field named, nothing changed.
                await page.check("input[name=mode][value=delta]")
                await page.fill("input[name=quantity]", "-1000")
                await page.click("[data-testid=adjust-submit]")
                await page.locator("[data-testid=problem-quantity]").wait_for()
                assert await page.input_value("input[name=quantity]") == "-1000"
                assert await sku_stock(hub, sku) == (42, 0, 42)

                # Import a stock file through the file input and watch it reach done.
                await page.goto(f"{console.base_url}/console/stock/imports")
                data = f"warehouse,merchant_sku,on_hand,note\nmain,{sku},55,count\nmain,{mug},12,count\n".encode()
                await page.set_input_files("input[name=file]", files=[
                    {"name": "count.csv", "mimeType": "text/csv", "buffer": data}])
                await page.fill("input[name=reference]", "INV-2026-12")
                await page.click("[data-testid=import-submit]")
                await page.wait_for_url("**/console/stock/imports/*")
                await page.locator("[data-testid=import-progress][data-state=done]").wait_for(timeout=PUSH_TIMEOUT_MS)
                assert await page.locator("[data-testid=import-count]").inner_text() == "2 of 2 rows"
                assert "SKUs changed: 2" in await page.locator("[data-testid=import-summary]").inner_text()
                await shot(page, "console-stock-import")
                await eventually(lambda: _all_show(served, sku, 55), what="both shops showing the imported count")
                assert await sku_stock(hub, mug) == (12, 0, 12)

                # On a phone the SKU's page still fits (its tables scroll inside their card).
                await page.set_viewport_size(PHONE)
                await page.goto(f"{console.base_url}/console/stock/{sku}")
                width = await page_width(page)
                assert width <= PHONE["width"], f"the SKU page is {width} px wide on a 390 px phone"
        finally:
            await close_test_loop(hub)
