"""Saved views on the orders screen in a real browser (Debian's Chromium driven by Playwright)
against a served hub on PostgreSQL: sign in, filter the orders, save the filters as a view, go
elsewhere, click the view and see the same list, check it on a phone, delete the view.

One backend only (PostgreSQL + Redis, as in production): the screen reads the database, nothing
here goes through the queue. Skipped only when ``/usr/bin/chromium`` is missing outside CI.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.fulfilment import Hold
from hub.context import Hub, build_hub
from hub.testing.factories import make_order
from hub.testing.hub import hub_config
from tests.e2e.console_browser_support import fits_a_phone, shot, signed_in_console
from tests.e2e.hub_e2e_support import Backend, backend, close_test_loop

__all__ = ["backend"]
pytestmark = pytest.mark.e2e


async def _orders(hub: Hub) -> dict[str, int]:
    """Held and free orders in two Tmall shops and a Taobao one; their ids by a name."""
    from hub.services.orders import add_hold, apply_order

    made: dict[str, int] = {}
    start = datetime.now(UTC) - timedelta(hours=3)
    plan = [("tmall-held-1", "tmall", "tmall-flagship", True), ("tmall-free", "tmall", "tmall-flagship", False),
            ("taobao-held", "taobao", "taobao-main", True), ("tmall-held-2", "tmall", "tmall-outlet", True)]
    for n, (label, platform, shop, held) in enumerate(plan):
        created = start + timedelta(minutes=n)
        order = make_order(platform=platform, shop=shop, created_at=created, updated_at=created)
        async with hub.database().transaction() as session:
            result = await apply_order(session, order, cause="poll")
            if held:
                await add_hold(session, result.order_id, Hold(code="high_value", reason="above the limit"),
                               cause="system")
        made[label] = result.order_id
    return made


async def _listed(page: object) -> set[int]:
    links = await page.locator("[data-testid=orders-table] [data-testid=order-id]").all_inner_texts()  # type: ignore[attr-defined]
    return {int(text.lstrip("#")) for text in links}


async def test_a_saved_view_brings_back_the_same_filtered_orders(backend: Backend) -> None:
    if backend.redis_url is None:
        pytest.skip("run on PostgreSQL + Redis only (the screen reads the database alone)")
    shops = {name: {"platform": platform, "settings": {}} for name, platform in
             (("tmall-flagship", "tmall"), ("tmall-outlet", "tmall"), ("taobao-main", "taobao"))}
    hub = build_hub(hub_config(backend.database_url, redis_url=backend.redis_url, shops=shops))
    try:
        ids = await _orders(hub)
        wanted = {ids["tmall-held-1"], ids["tmall-held-2"]}
        async with signed_in_console(hub, role="admin", name="e2e-views") as console:
            page = console.page
            await page.click("nav >> text=Orders")
            assert await page.locator("[data-testid=no-views]").is_visible()
            await page.select_option("select[name=platform]", "tmall")
            await page.check("input[name=held]")
            await page.click("form[data-testid=order-filters] button[type=submit]")
            await page.wait_for_url("**/console/orders?*platform=tmall*")
            assert await _listed(page) == wanted

            await page.click("details.save-view summary")
            await page.fill("input[name=name]", "Held Tmall orders")
            await page.click("[data-testid=save-view-button]")
            await page.locator("[data-testid=view-saved]").wait_for()
            await shot(page, "console-orders-saved-view")

            await page.click("nav >> text=Overview")
            await page.wait_for_url(f"{console.base_url}/console")
            await page.click("nav >> text=Orders")
            assert await _listed(page) == set(ids.values())  # everything again, no filter kept behind
            await page.get_by_role("link", name="Held Tmall orders").click()
            await page.wait_for_url("**/console/orders?*held=1*")
            assert await _listed(page) == wanted
            assert await page.locator("select[name=platform]").input_value() == "tmall"
            assert await page.locator("#f-held").is_checked()

            await fits_a_phone(page, "the orders screen", screenshot="console-orders-phone")

            await page.click("[data-testid=delete-view]")
            await page.locator("[data-testid=view-deleted]").wait_for()
            assert await page.locator("[data-testid=view-link]").count() == 0
            assert await _listed(page) == wanted  # deleting the view kept the list as it was
    finally:
        await close_test_loop(hub)
