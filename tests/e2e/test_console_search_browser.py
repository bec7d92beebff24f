"""Search and user tags on the orders screens in a real browser (Debian's Chromium driven by
Playwright) against a served hub on PostgreSQL: sign in, find an order by its phone's last four,
put a user tag on it from its page, and see the list filtered by that tag's chip.

One backend only (PostgreSQL + Redis, as in production): the screens read the database alone.
"""

from __future__ import annotations

import pytest

from hub.context import build_hub
from hub.testing.factories import make_order
from hub.testing.hub import hub_config
from tests.e2e.console_browser_support import signed_in_console
from tests.e2e.hub_e2e_support import Backend, backend, close_test_loop

__all__ = ["backend"]
pytestmark = pytest.mark.e2e


async def test_find_by_phone_last_four_tag_it_and_filter_by_the_tag(backend: Backend) -> None:
    if backend.redis_url is None:
        pytest.skip("run on PostgreSQL + Redis only (the screen reads the database alone)")
    from hub.services.orders import apply_order
    from hub.services.search.tags import create_tag

    hub = build_hub(hub_config(backend.database_url, redis_url=backend.redis_url,
                               shops={"tb-main": {"platform": "taobao", "settings": {}}}))
    try:
        async with hub.database().transaction() as session:
            wanted = (await apply_order(session, make_order(shop="tb-main"), cause="poll")).order_id  # …5678
            other = make_order(shop="tb-main")
            other = other.model_copy(update={"shipping_address": other.shipping_address.model_copy(  # type: ignore[union-attr]
                update={"phone": "13900001111"})})
            await apply_order(session, other, cause="poll")
            await create_tag(session, "VIP", colour="#d97706", actor="test")
        async with signed_in_console(hub, role="operator", name="e2e-search") as console:
            page = console.page
            await console.goto("/console/orders")
            await page.fill("[data-testid=search-q]", "5678")
            await page.click("form[data-testid=order-filters] button[type=submit]")
            await page.wait_for_url("**/console/orders?*q=5678*")
            rows = page.locator("[data-testid=orders-table] tbody tr")
            assert await rows.count() == 1
            await page.click(f"a[href^='/console/orders/{wanted}']")
            await page.select_option("#t-tag", "VIP")
            await page.click("[data-testid=attach-tag-button]")
            await page.locator("[data-testid=order-tag]", has_text="VIP").wait_for()
            await console.goto("/console/orders")
            await page.click("[data-testid=tag-chip] >> text=VIP")
            await page.wait_for_url("**/console/orders?user_tag=VIP")
            assert await rows.count() == 1
            assert await page.locator(f"a[href^='/console/orders/{wanted}']").count() > 0
    finally:
        await close_test_loop(hub)
