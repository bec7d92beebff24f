"""The catalogue screen in a real browser (Debian's Chromium driven by Playwright) against a real hub
with a Taobao sandbox shop that lists two items before any sale, one with a merchant code the
catalogue does not have yet: an operator adds that SKU on the catalogue screen, runs the shop's
listing sync from the shops screen, and sees on the SKU's page the listing bound by the sync, and
under the catalogue the listing the sync could not bind (no code); then deactivates the SKU.
Screenshot ``console-catalogue``.

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
"""

from __future__ import annotations

import secrets

import pytest

from tests.e2e.console_browser_support import shot, signed_in_console
from tests.e2e.hub_e2e_support import (
    Backend,
    backend,
    close_test_loop,
    e2e_config,
    e2e_hub,
    list_in_sandbox,
    served_sandboxes,
)

__all__ = ["backend"]
pytestmark = pytest.mark.e2e


async def test_operator_adds_a_sku_syncs_listings_and_sees_what_was_bound_and_what_was_not(
    backend: Backend,
) -> None:
    if backend.redis_url is not None:
        pytest.skip("one backend is enough for the screen; the sync itself is tested on both")
    sku = f"E2E-CAT-{secrets.token_hex(2).upper()}"
    with served_sandboxes(["taobao"]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        shop = served["taobao"].shop
        item_id, _ = list_in_sandbox(served["taobao"], sku, 3)
        stray_id, _ = list_in_sandbox(served["taobao"], "", 1)
        try:
            async with signed_in_console(hub, role="operator") as console:
                page = console.page
                await page.click("nav >> text=Catalogue")
                await page.fill("form[data-testid=add-form] input[name=merchant_sku]", sku)
                await page.fill("form[data-testid=add-form] input[name=name]", "Catalogue tee")
                await page.click("form[data-testid=add-form] button[type=submit]")
                await page.wait_for_url(f"**/console/catalogue/{sku}?done=created")
                assert "No shop listing" in await page.inner_text("[data-testid=bindings]")

                await page.click("nav >> text=Shops")
                await page.click(f"[data-testid=sync-{shop}]")
                assert "1 newly bound" in await page.inner_text("[data-testid=synced]")

                await page.click("nav >> text=Catalogue")
                await page.fill("input[name=q]", sku)
                await page.click("form[data-testid=catalogue-filters] button[type=submit]")
                unmatched = page.locator(f"[data-testid=unmatched-{shop}-{stray_id}]")
                assert "no merchant code" in await unmatched.inner_text()
                await shot(page, "console-catalogue")
                await page.locator(f"[data-testid=sku-row-{sku}]").get_by_role("link", name=sku).click()
                binding = page.locator(f"[data-testid=binding-{shop}]")
                assert item_id in await binding.inner_text()
                assert await binding.locator("[data-testid=source]").inner_text() == "by the listing sync"

                await page.click("form[data-testid=active-form] button")
                await page.wait_for_url(f"**/console/catalogue/{sku}?done=deactivated")
                assert await page.locator("[data-testid=inactive]").is_visible()
        finally:
            await close_test_loop(hub)
