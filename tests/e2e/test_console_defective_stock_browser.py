"""The defective stock page in a real browser (Debian's Chromium driven by Playwright) against a real
hub on PostgreSQL + Redis: from the stock screen to the damaged returns, pick a line, repair two
units back on hand, see the notice and the line shrink; too many units gives the form back with the
field named. Screenshot ``console-stock-defective``.

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest

from hub.db.tables import DefectiveStockRow
from tests.e2e.console_browser_support import PHONE, browser_on_postgres_redis, page_width, shot, signed_in_console
from tests.e2e.hub_e2e_support import Backend, backend, close_test_loop, e2e_config, e2e_hub, sku_stock, stock_a_sku

__all__ = ["backend"]
pytestmark = pytest.mark.e2e


async def test_operator_repairs_defective_units_back_on_hand(backend: Backend) -> None:
    browser_on_postgres_redis(backend)
    sku = f"E2E-MUG-{secrets.token_hex(2).upper()}"
    with e2e_hub(e2e_config(backend, {})) as hub:
        try:
            await stock_a_sku(hub, sku, 4)
            async with hub.database().transaction() as session:
                session.add(DefectiveStockRow(location="defective", merchant_sku=sku, quantity=3,
                                              updated_at=datetime.now(UTC)))
            async with signed_in_console(hub, role="warehouse") as console:
                page = console.page
                await page.click("nav >> text=Stock")
                await page.click("[data-testid=defective-link]")
                await page.wait_for_url("**/console/stock/defective")
                row = page.locator(f"[data-testid=defective-row-defective-{sku}]")
                assert await row.locator("[data-testid=units]").inner_text() == "3"
                await row.get_by_role("link", name="Dispose…").click()
                assert await page.input_value("input[name=merchant_sku]") == sku

                # Too many: the form comes back with the field named, nothing changed.
                await page.fill("input[name=quantity]", "5")
                await page.check("input[name=action][value=scrap]")
                await page.click("[data-testid=dispose-submit]")
                await page.locator("[data-testid=problem-quantity]").wait_for()
                assert "holds 3" in await page.locator("[data-testid=problem-quantity]").inner_text()

                await page.fill("input[name=quantity]", "2")
                await page.check("input[name=action][value=repaired]")
                await page.select_option("select[name=warehouse]", "main")
                await page.fill("input[name=note]", "new handle glued")
                await page.click("[data-testid=dispose-submit]")
                await page.locator("[data-testid=disposed]").wait_for()
                assert "Repaired: back on hand" in await page.locator("[data-testid=disposed]").inner_text()
                assert await row.locator("[data-testid=units]").inner_text() == "1"
                assert (await sku_stock(hub, sku))[0] == 6
                await shot(page, "console-stock-defective")

                await page.set_viewport_size(PHONE)
                await page.reload()
                width = await page_width(page)
                assert width <= PHONE["width"], f"the defective page is {width} px wide on a 390 px phone"
        finally:
            await close_test_loop(hub)
