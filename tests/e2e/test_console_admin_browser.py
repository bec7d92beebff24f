"""The console's admin screens in a real browser (Debian's Chromium driven by Playwright) against a
real hub with a Taobao sandbox shop: the shop shows healthy with its message channel open; the
seller's session goes invalid and the shop shows paused with the reason; once re-authorised, the
admin resumes it from the screen and sees it healthy again; the plugins screen lists the Taobao
connector with its capabilities; an API key made in the console works on the API, is limited to
a shop from its shops page, and stops working once revoked there; a user added in the console is
limited to the shop on their page and signs in with their password.

PostgreSQL + Redis only (the admin screens do not depend on the queue backend). Skipped only when
``/usr/bin/chromium`` is missing outside CI. Screenshots: console-shops, console-plugins,
console-api-keys (``docs/screenshots/`` or ``$HUB_SCREENSHOTS``).
"""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.console_browser_support import PHONE, page_width, shot, signed_in_console
from tests.e2e.hub_e2e_support import (
    Backend,
    backend,
    close_test_loop,
    e2e_config,
    e2e_hub,
    pumping,
    served_sandboxes,
)

__all__ = ["backend"]
pytestmark = pytest.mark.e2e

SHOWN_WITHIN_MS = 60_000  # generous: TMC permit, polls and the screen's 5 s refresh, on a busy machine
PASSWORD = "a long enough password"


async def test_admin_resumes_a_paused_shop_reads_plugins_and_manages_keys_and_users(backend: Backend) -> None:
    if backend.redis_url is None:
        pytest.skip("the admin screens are browser-tested once, on PostgreSQL + Redis")
    with served_sandboxes(["taobao"]) as served, e2e_hub(e2e_config(backend, served)) as hub:
        item = served["taobao"]
        shop, box = item.shop, item.sandbox
        try:
            async with pumping(hub, consume=[shop], poll=[shop]), \
                    signed_in_console(hub, name="e2e-admin") as console:
                page = console.page
                card = f'[data-testid="shop-{shop}"]'

                # The shop is healthy, its message channel open (the list refreshes by itself).
                await page.click("nav >> text=Shops")
                await page.locator(f'{card}[data-status="active"]').wait_for(timeout=SHOWN_WITHIN_MS)
                assert await page.locator(f"{card} [data-testid=channel-open]").is_visible()
                assert "taobao" in await page.locator(card).inner_text()
                await shot(page, "console-shops")

                # The seller's session goes invalid: the shop pauses, and the screen says why.
                box.inject_fault("auth", 10_000)
                await page.locator(f'{card}[data-status="paused"]').wait_for(timeout=SHOWN_WITHIN_MS)
                assert "re-authorise" in await page.locator(f"{card} [data-testid=shop-reason]").inner_text()

                # The merchant re-authorised the app; the admin resumes the shop from the screen.
                with box.lock:
                    box.gateway.faults.clear()
                await page.click(f'[data-testid="resume-{shop}"]')
                await page.locator("[data-testid=resumed]").wait_for()
                await page.locator(f'{card}[data-status="active"]').wait_for(timeout=SHOWN_WITHIN_MS)
                assert await page.locator(f"{card} [data-testid=channel-open]").is_visible()

                # On a phone the cards fit the screen.
                await page.set_viewport_size(PHONE)
                await page.reload()
                assert await page_width(page) <= PHONE["width"], "the shops screen is wider than a phone"
                await page.set_viewport_size({"width": 1280, "height": 900})

                # Plugins: the Taobao connector with its capabilities, and the shop that uses it.
                await page.click("nav >> text=Plugins")
                row = page.locator('[data-testid="connector-channel-taobao"]')
                text = await row.inner_text()
                assert "message_channel" in text and "poll_orders" in text and shop in text
                await shot(page, "console-plugins")

                # An API key made in the console works on the API, once revoked no more.
                await page.click("nav >> text=API keys")
                await page.fill("form[data-testid=new-key] input[name=name]", "erp-e2e")
                await page.select_option("form[data-testid=new-key] select[name=role]", "viewer")
                await page.click("[data-testid=create-key]")
                key = (await page.locator("[data-testid=new-key-value]").inner_text()).strip()
                prefix = key.split("_")[1]
                async with httpx.AsyncClient(base_url=console.base_url, timeout=10.0,
                                             headers={"Authorization": f"Bearer {key}"}) as api:
                    assert (await api.get("/api/v1/orders")).status_code == 200
                    await page.click("text=Back to API keys")
                    assert "erp-e2e" in await page.locator(f'[data-testid="key-{prefix}"]').inner_text()
                    assert key not in await page.content()
                    # Limited to one shop from its shops page: the list says so at once.
                    await page.click(f'[data-testid="shops-link-{prefix}"]')
                    await page.check(f"form[data-testid=change-key-shops] input[name=shops][value='{shop}']")
                    await page.click("[data-testid=set-key-shops]")
                    await page.locator("[data-testid=shops-changed]").wait_for()
                    assert (await page.locator(f'[data-testid="shops-{prefix}"]').inner_text()).strip() == shop
                    await page.click(f'[data-testid="revoke-{prefix}"]')
                    await page.click("[data-testid=confirm-revoke]")
                    await page.locator("[data-testid=revoked]").wait_for()
                    assert (await api.get("/api/v1/orders")).status_code == 401
                await shot(page, "console-api-keys")

                # A user added in the console signs in with their password.
                await page.click("nav >> text=Users")
                form = "form[data-testid=new-user]"
                await page.fill(f"{form} input[name=name]", "li.wei")
                await page.select_option(f"{form} select[name=role]", "operator")
                await page.fill(f"{form} input[name=password]", PASSWORD)
                await page.fill(f"{form} input[name=password_again]", PASSWORD)
                await page.click("[data-testid=add-user]")
                await page.locator("[data-testid=done]").wait_for()
                # Later limited to the shop: the user's page sets it and shows it.
                await page.goto(f"{console.base_url}/console/users/li.wei")
                await page.check(f"form[data-testid=change-shops] input[name=shops][value='{shop}']")
                await page.click("[data-testid=set-shops]")
                await page.wait_for_url(f"{console.base_url}/console/users/li.wei**")
                assert (await page.locator("dd[data-testid=user-shops]").inner_text()).strip() == shop
                await page.click("text=Sign out")
                await page.wait_for_url("**/console/login**")
                await page.fill("input[name=user]", "li.wei")
                await page.fill("input[name=password]", PASSWORD)
                await page.click("button[value=password]")
                await page.wait_for_url(f"{console.base_url}/console")
                assert "li.wei (operator)" in await page.locator("header").inner_text()
                nav = await page.locator("nav").inner_text()
                assert "Shops" in nav and "API keys" not in nav and "Users" not in nav
        finally:
            await close_test_loop(hub)
