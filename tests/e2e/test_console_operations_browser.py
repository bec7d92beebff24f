"""The operations screens in a real browser (Debian's Chromium driven by Playwright), walked as the
staff would, on one served hub and one browser: an operator changes a Taobao sandbox order's seller
note from the edit form (written back to the sandbox, shown in the history) and asks for a price
change (waiting for approval); a finance user approves it on ``/console/approvals`` and the order
shows the new total; the orders list's CSV export has the order; ``/console/notifications`` lists
the webhook channel, the ``order_held`` rule and the delivery that reached the notifier sandbox; and
``/console/reports`` draws both charts (Chart.js) over the figures table.
Screenshots: ``ops-approvals``, ``ops-notifications``, ``ops-reports``.

One backend only, PostgreSQL + Redis: the support module's gate (``browser_on_postgres_redis``), as
every console browser test, since the screens read the database alone. The cheapest hub it allows:
``build_hub`` without workers, relay or scheduler (the notification scan and send are called here
instead of waiting for the scheduler), the Taobao and notifier sandboxes served in this process.
Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from contracts import Hold
from hub.asgi_server import BackgroundServer
from hub.context import Hub, build_hub
from hub.plugins import build_plugin_manager
from hub.services import orders
from hub.services.notifications import deliveries, scan
from plugins.notifiers import plugin as notifiers_plugin
from plugins.notifiers.sandbox import NotifierSandbox
from tests.e2e.console_browser_support import (
    ConsoleBrowser,
    browser_on_postgres_redis,
    make_key,
    shot,
    signed_in_console,
)
from tests.e2e.hub_e2e_support import Backend, backend, close_test_loop, e2e_config, served_sandboxes

__all__ = ["backend"]
pytestmark = pytest.mark.e2e

NEW_PRICE = "9.50"


@asynccontextmanager
async def operations_hub(backend: Backend) -> AsyncIterator[tuple[Hub, Any, NotifierSandbox]]:
    """A hub (not running: no workers) on one served Taobao sandbox shop, with a webhook channel to
    the served notifier sandbox and a rule sending held orders there."""
    browser_on_postgres_redis(backend)
    notifier = NotifierSandbox()
    hook = BackgroundServer(notifier.app()).start()
    try:
        with served_sandboxes(["taobao"]) as served:
            notifications = {
                "channels": {"ops-hook": {"kind": "webhook", "settings": {
                    "url": f"{hook.base_url}/webhook", "secret": notifier.webhook_secret}}},
                "rules": [{"event": "order_held", "channels": ["ops-hook"]}]}
            # The notifiers registered by module, whether or not the installed metadata lists them.
            plugins = build_plugin_manager(disabled=["notifiers"], extra=[notifiers_plugin])
            hub = build_hub(e2e_config(backend, served, notifications=notifications), plugins=plugins)
            try:
                yield hub, served["taobao"], notifier
            finally:
                await close_test_loop(hub)
    finally:
        hook.stop()


async def _sandbox_order(hub: Hub, taobao: Any, *, paid: bool) -> tuple[int, str]:
    """A trade made in the sandbox, fetched by the connector and stored as a poll would."""
    tid = taobao.sandbox.create_order(taobao.shop, "TEE-M", 1, paid=paid)
    order = await hub.accounts().channel(taobao.shop).get_order(tid)
    async with hub.database().transaction() as session:
        return (await orders.apply_order(session, order, cause="poll")).order_id, tid


async def _sign_in_too(console: ConsoleBrowser, key: str) -> Any:
    """A second person in the same browser: a context (cookies) of their own, signed in with ``key``."""
    context = await console.page.context.browser.new_context(locale="en-US", viewport=console.page.viewport_size)
    page = await context.new_page()
    await page.goto(f"{console.base_url}/console/login")
    await page.fill("input[name=api_key]", key)
    await page.click("button[value=key]")
    await page.wait_for_url(f"{console.base_url}/console")
    return page


async def _edit_and_ask_for_a_price(console: ConsoleBrowser, order_id: int) -> None:
    page = console.page
    await console.goto(f"/console/orders/{order_id}")
    await page.click("[data-testid=panel-edits] [data-testid=edits-link]")
    await page.wait_for_url(f"**/console/orders/{order_id}/edits")
    await page.fill("[data-testid=note-seller_note]", "gift wrap, please")
    await page.fill("[data-testid=reason-seller_note]", "buyer asked in chat")
    await page.click("[data-testid=submit-seller_note]")
    await page.wait_for_url(f"**/console/orders/{order_id}/edits?*")
    notice = await page.locator("[data-testid=notice]").inner_text()
    assert "applied" in notice and "written to the platform" in notice, notice
    history = page.locator("[data-testid=edits-history]")
    assert "gift wrap, please" in await history.inner_text()
    await page.fill("[data-testid=line-price-1]", NEW_PRICE)
    await page.fill("[data-testid=reason-price]", "promised discount")
    await page.click("[data-testid=submit-price]")
    await page.locator("[data-testid=notice]", has_text="waiting for approval").wait_for()
    assert "waiting for approval" in await history.inner_text()


async def _approve(page: Any, base_url: str, order_id: int) -> None:
    await page.goto(f"{base_url}/console/approvals")
    row = page.locator("[data-testid=approvals] tbody tr", has=page.locator(f"a[href='/console/orders/{order_id}']"))
    assert "promised discount" in await row.inner_text()
    assert NEW_PRICE in await row.inner_text()
    await shot(page, "ops-approvals")
    await row.locator("button[value=approve]").click()
    await page.locator("[data-testid=notice]", has_text="approved").wait_for()
    await page.locator("[data-testid=approvals-empty]").wait_for()
    await page.goto(f"{base_url}/console/orders/{order_id}")
    total = page.locator("dt", has_text="Total").locator("xpath=following-sibling::dd[1]")
    assert NEW_PRICE in await total.inner_text()


async def _export_has(console: ConsoleBrowser, tid: str) -> None:
    page = console.page
    await console.goto("/console/orders")
    link = page.locator("[data-testid=export-buttons] [data-testid=export-csv]")
    href = await link.get_attribute("href")
    assert href and href.startswith("/console/export/orders.csv")
    got = await page.request.get(console.base_url + href)  # the page's own cookies
    assert got.ok and "text/csv" in got.headers["content-type"]
    text = (await got.body()).decode("utf-8-sig")
    assert any(tid in row for row in csv.reader(io.StringIO(text))), text[:500]


async def _notified(console: ConsoleBrowser, hub: Hub, notifier: NotifierSandbox, held: int, tid: str) -> None:
    async with hub.database().transaction() as session:
        await orders.add_hold(session, held, Hold(code="address_check", reason="check the address"), cause="api")
    # What the scheduler's notifications_scan and notifications_send would do, now.
    assert await scan.scan(hub) == 1
    assert await deliveries.send_due(hub) == {"sent": 1}
    assert [r.body["kind"] for r in notifier.received] == ["order_held"]
    page = console.page
    await console.goto("/console/notifications")
    assert "ops-hook" in await page.locator("[data-testid=channels]").inner_text()
    assert "order_held" in await page.locator("[data-testid=rules]").inner_text()
    sent = page.locator("[data-testid=deliveries] tbody tr[data-status=sent]")
    assert await sent.count() == 1
    assert tid in await sent.inner_text() and "ops-hook" in await sent.inner_text()
    await shot(page, "ops-notifications")


async def _reports(page: Any, base_url: str, count: int) -> None:
    await page.goto(f"{base_url}/console/reports")
    for canvas in ("#reports-time", "#reports-keys"):
        await page.wait_for_function("(sel) => { const c = document.querySelector(sel);"
                                     " return !!c && typeof Chart !== 'undefined' && !!Chart.getChart(c); }",
                                     arg=canvas)
    total = page.locator("[data-testid=reports-table] tr.total td.num").first
    assert (await total.inner_text()).strip() == str(count)
    await shot(page, "ops-reports")


async def test_edit_approve_export_notify_and_report_in_the_browser(backend: Backend) -> None:
    async with operations_hub(backend) as (hub, taobao, notifier):
        unpaid, tid = await _sandbox_order(hub, taobao, paid=False)
        held, held_tid = await _sandbox_order(hub, taobao, paid=True)
        async with signed_in_console(hub, role="operator", name="e2e-olga") as console:
            await _edit_and_ask_for_a_price(console, unpaid)
            assert taobao.sandbox.shop(taobao.shop).trades[tid].get("seller_memo") == "gift wrap, please"
            finance = await _sign_in_too(console, await make_key(hub, name="e2e-fei", role="finance"))
            await _approve(finance, console.base_url, unpaid)
            await _export_has(console, tid)
            await _notified(console, hub, notifier, held, held_tid)
            await _reports(finance, console.base_url, 2)
