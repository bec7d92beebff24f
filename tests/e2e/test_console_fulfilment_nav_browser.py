"""The fulfilment screens' sub-navigation in a real browser (Debian's Chromium driven by
Playwright) against a served hub on PostgreSQL with a seeded database: the operator follows the
main nav's "Fulfilment" to the review queue, then walks the sub-navigation through every screen;
each loads, is marked current, and shows (once htmx swapped them in) what waits on every screen.
Also in Chinese.

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
"""

from __future__ import annotations

import pytest

from hub.testing.hub import hub_config, running_hub
from tests.e2e.console_browser_support import browser_on_postgres_redis, signed_in_console
from tests.e2e.hub_e2e_support import Backend, backend
from tests.integration.test_console_fulfilment_nav import SCREENS, SEEDED, seed_fulfilment

__all__ = ["backend"]
pytestmark = pytest.mark.e2e


async def test_operator_walks_the_fulfilment_screens_in_the_browser(backend: Backend) -> None:
    browser_on_postgres_redis(backend)
    config = hub_config(backend.database_url, redis_url=backend.redis_url)
    with running_hub(config, start_workers=False, relay=False) as hub:
        try:
            await seed_fulfilment(hub)
            async with signed_in_console(hub, role="operator", name="e2e-fulfilment-nav") as console:
                page = console.page
                await page.click("nav.nav >> text=Fulfilment")
                await page.wait_for_url(f"{console.base_url}/console/fulfilment")
                for key, path in SCREENS.items():
                    await page.click(f"[data-testid=subnav-{key}]")
                    await page.wait_for_url(f"{console.base_url}{path}")
                    await page.locator("[data-testid=subnav-count-review]").wait_for()  # the numbers swapped in
                    nav = page.locator("[data-testid=fulfilment-subnav]")
                    assert await nav.locator("[aria-current=page]").get_attribute("data-testid") == f"subnav-{key}"
                    shown = {k: await nav.locator(f"[data-testid=subnav-count-{k}]").inner_text() for k in SEEDED}
                    assert shown == {k: str(n) for k, n in SEEDED.items()}, path
                    assert await page.locator("h1").count() == 1  # the screen itself loaded under the nav

                await page.click("[data-testid=switch-language]")
                await page.locator("[data-testid=subnav-count-exceptions]").wait_for()
                assert "异常包裹" in await page.locator("[data-testid=fulfilment-subnav]").inner_text()
        finally:
            await hub.close_loop_resources()
