"""The merge screen and the order's merging panel in a real browser (Debian's Chromium driven by
Playwright) against a served hub: two approved orders of one buyer to one address are proposed,
the operator merges them and sees it on each order's page; an order a refund stopped shows its
interception (the hold, the step, the cancellation that came too late); in Chinese too.
Screenshots: ``console-merges`` and ``console-order-merging``.

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
"""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from contracts import Hold
from hub.context import Hub
from hub.db.tables import FulfilmentExceptionRow, FulfilmentPlanRow, OrderEventRow
from hub.plugins import build_plugin_manager
from hub.services import orders
from hub.testing.hub import hub_config
from hub.testing.merging_factories import approved_order, delivery_order
from tests.e2e.console_browser_support import PHONE, browser_or_skip, page_width, shot, signed_in_console

pytestmark = pytest.mark.e2e


async def test_operator_merges_a_proposal_and_reads_the_panels(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the browser test runs once, on SQLite (the screen does not depend on the backend)")
    browser_or_skip()
    hub = Hub(hub_config(database_url, fulfilment={"merge": {"mode": "propose"}}),
              build_plugin_manager(load_entry_points=False))
    async with hub.database().transaction() as session:
        a = await approved_order(session, buyer="b1")
        b = await approved_order(session, buyer="b1")
        stopped = await approved_order(session, buyer="b2")
        do_id = await delivery_order(session, [stopped], status="shipped")
        await orders.add_hold(session, stopped, Hold(code="refund_requested", reason="refund RF-9 requested "
                                                     "before shipment"), cause="aftersale")
        await session.execute(insert(OrderEventRow).values(
            order_id=stopped, kind="intercept_too_late", cause="system", detail={"delivery_order": do_id}))
        await session.execute(insert(FulfilmentExceptionRow).values(
            order_id=stopped, kind="late_cancel", subject=f"delivery_order:{do_id}",
            reason=f"delivery order {do_id} could not be cancelled (status shipped)"))

    async with signed_in_console(hub, role="operator", name="e2e-merging") as console:
        page = console.page
        await console.goto("/console/fulfilment/merges")
        proposal = page.locator(f"[data-testid=proposal-{a}]")
        assert f"#{a}" in await proposal.inner_text() and f"#{b}" in await proposal.inner_text()
        await shot(page, "console-merges")
        await page.set_viewport_size(PHONE)
        await page.reload()
        assert await page_width(page) <= PHONE["width"]
        await page.set_viewport_size({"width": 1280, "height": 900})
        await page.click(f"[data-testid=merge-{a}]")
        assert f"Orders {a} {b} merged into one delivery." in await page.locator("[data-testid=notice]").inner_text()
        await page.locator("[data-testid=no-proposals]").wait_for()
        async with hub.database().session() as session:
            plans = (await session.execute(select(FulfilmentPlanRow.order_id, FulfilmentPlanRow.created_by))).all()
        assert sorted(p[0] for p in plans) == [a, b] and all(p[1].endswith(":e2e-merging") for p in plans)

        await console.goto(f"/console/orders/{a}")
        panel = page.locator("[data-testid=panel-merging]")
        await panel.locator("[data-testid=merged-with]").wait_for()
        assert f"#{b}" in await panel.locator("[data-testid=merged-with]").inner_text()

        await console.goto(f"/console/orders/{stopped}")
        await panel.locator("[data-testid=interception]").wait_for()
        text = await panel.inner_text()
        assert "Refund requested" in text and "Cancellation came too late" in text and "Too late" in text
        await panel.scroll_into_view_if_needed()
        await shot(page, "console-order-merging")

    async with signed_in_console(hub, role="viewer", name="e2e-merging-zh", locale="zh-CN") as console:
        page = console.page
        await console.goto(f"/console/orders/{stopped}")
        panel = page.locator("[data-testid=panel-merging]")
        await panel.locator("[data-testid=interception]").wait_for()
        assert "申请退款" in await panel.inner_text() and "拦截太迟" in await panel.inner_text()
        await console.goto("/console/fulfilment/merges")
        assert await page.locator("[data-testid=no-proposals]").inner_text() == "没有可合并的订单。"
