"""The service-order screens in a real browser (Debian's Chromium driven by Playwright) against a
real hub (PostgreSQL and Redis). Two work cards and a technician are stored directly
(``hub.testing.service_orders``): one due in three hours, one two hours overdue with a platform
alert. The operator opens Service orders and finds both on the board (time left on one, the other
flagged overdue with its alert), opens the first, assigns the technician, tries a booking that ends
before it starts (the problem is shown beside the end), books it, checks in and completes it with
a rating — each step's notice names the write-back's state, the status and history follow; the
list view shows it completed. A service order for an unknown order is refused naming it. Then adds
a technician, opens the figures (the chart drawn without a script error), and reads the board in Chinese.
Screenshots: ``service-orders-board``, ``service-order-case`` and ``service-orders-figures``.

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from contracts.service_orders import ServiceOrderStatus
from hub.context import Hub
from hub.testing.service_orders import make_technician, store_service_order, store_technician
from tests.e2e.console_browser_support import shot, signed_in_console, taobao_console_hub
from tests.e2e.hub_e2e_support import Backend, backend

__all__ = ["backend"]
pytestmark = pytest.mark.e2e


async def _seed(hub: Hub) -> tuple[int, int]:
    """A technician, and two new installations: (due in 3 h, overdue by 2 h with a platform alert)."""
    now = datetime.now(UTC)

    def deadlines(due: timedelta) -> dict[str, Any]:
        contact = now + due
        return {"contact_due_at": contact, "onsite_due_at": contact + timedelta(hours=24),
                "complete_due_at": contact + timedelta(hours=48), "due_at": contact, "due_milestone": "contact"}

    async with hub.database().transaction() as db:
        await store_technician(db, make_technician("T01", name="Wang Wei"))
        due_soon = await store_service_order(db, external_id="WC-SOON", created_at=now - timedelta(hours=21),
                                             product_title="Air conditioner", **deadlines(timedelta(hours=3)))
        overdue = await store_service_order(db, external_id="WC-LATE", created_at=now - timedelta(hours=26),
                                            sla_state="overdue", alert_level=2, alerted_at=now,
                                            **deadlines(-timedelta(hours=2)))
    return due_soon, overdue


async def test_operator_works_a_service_order_through_in_the_browser(backend: Backend) -> None:
    async with taobao_console_hub(backend, service_orders={"auto_assign": False, "due_soon_hours": 4}) as (hub, _):
        due_soon, overdue = await _seed(hub)
        zone = ZoneInfo(hub.config.console.time_zone)
        day = (datetime.now(zone) + timedelta(days=1)).strftime("%Y-%m-%d")
        async with signed_in_console(hub, name="e2e-service") as console:
            page = console.page
            errors: list[Any] = []
            page.on("pageerror", lambda error: errors.append(error))

            await page.click("nav >> text=Service orders")
            await page.wait_for_url("**/console/service-orders")
            column = page.locator("[data-testid=column-new]")
            assert await column.locator(f"[data-testid=card-{due_soon}]").count() == 1
            # (a minute later on a slow machine)
            assert re.search(r"(3 h 0|2 h 59) min left", await page.inner_text(f"[data-testid=due-{due_soon}]"))
            assert "due-soon" in (await page.get_attribute(f"[data-testid=card-{due_soon}]", "class") or "")
            late = page.locator(f"[data-testid=card-{overdue}]")
            assert "due-overdue" in (await late.get_attribute("class") or "")
            assert re.search(r"overdue by 2 h [01] min", await page.inner_text(f"[data-testid=due-{overdue}]"))
            assert "alert" in await page.inner_text(f"[data-testid=alert-{overdue}]")
            await shot(page, "service-orders-board")

            await page.click(f"[data-testid=open-card-{due_soon}]")
            await page.wait_for_url(f"**/console/service-orders/{due_soon}")
            await page.select_option("[data-testid=technician-assign]", "T01")
            await page.click("[data-testid=do-assign]")
            await page.wait_for_url(f"**/console/service-orders/{due_soon}?*")
            assert await page.inner_text("[data-testid=notice]") == "Assign: taken. Write-back: recorded only."
            assert await page.inner_text("[data-testid=status]") == "Assigned"
            assert "Wang Wei" in await page.inner_text("[data-testid=technician]")

            await page.fill("[data-testid=start-book]", f"{day}T10:00")
            await page.fill("[data-testid=end-book]", f"{day}T09:00")
            await page.click("[data-testid=do-book]")
            problem = page.locator("[data-testid=problem-book-appointment_end]")
            await problem.wait_for()
            assert "end after it starts" in await problem.inner_text()
            assert await page.inner_text("[data-testid=status]") == "Assigned", "nothing was booked"

            await page.fill("[data-testid=end-book]", f"{day}T12:00")
            await page.click("[data-testid=do-book]")
            await page.wait_for_url(f"**/console/service-orders/{due_soon}?*")
            assert await page.inner_text("[data-testid=status]") == "Booked"
            assert f"{day} 10:00" in await page.inner_text("[data-testid=appointment]")
            await shot(page, "service-order-case")

            await page.click("[data-testid=do-check_in]")
            await page.wait_for_url(f"**/console/service-orders/{due_soon}?*")
            assert await page.inner_text("[data-testid=status]") == "On site"
            await page.fill("[data-testid=note-complete]", "Mounted and tested")
            await page.select_option("[data-testid=rating-complete]", "5")
            await page.click("[data-testid=do-complete]")
            await page.wait_for_url(f"**/console/service-orders/{due_soon}?*")
            assert await page.inner_text("[data-testid=notice]") == "Complete: taken. Write-back: recorded only."
            assert await page.inner_text("[data-testid=status]") == ServiceOrderStatus.COMPLETED.value.title()
            assert "5/5" in await page.inner_text("[data-testid=rating]")
            history = await page.inner_text("[data-testid=history]")
            for step in ("Assign", "Book", "Check in", "Complete"):
                assert step in history
            assert "e2e-service" in history, "each step attributed"
            assert await page.locator("[data-testid=no-steps]").count() == 1

            await console.goto("/console/service-orders?view=list")
            assert "Completed" in await page.inner_text(f"[data-testid=row-{due_soon}]"), "the list shows closed ones"

            await console.goto("/console/service-orders/new?order_id=999999")
            await page.click("[data-testid=create]")
            assert await page.locator("[data-testid=problem-order_id]").count() == 1, "an unknown order is named"

            await console.goto("/console/technicians")
            await page.fill("[data-testid=tech-code]", "T09")
            await page.fill("[data-testid=tech-name-add]", "Li Na")
            await page.fill("[data-testid=tech-regions-add]", "杭州市, 宁波市")
            await page.check("[data-testid=tech-skill-add-repair]")
            await page.click("[data-testid=tech-save-add]")
            await page.wait_for_url("**/console/technicians?*")
            assert "Technician T09 added." in await page.inner_text("[data-testid=notice]")
            row = await page.inner_text("[data-testid=tech-T09]")
            assert "Li Na" in row and "Repair" in row and "宁波市" in row

            await console.goto("/console/service-orders/figures")
            await page.locator("[data-testid=figures-chart]").wait_for()
            drawn = await page.wait_for_function(
                "() => typeof Chart !== 'undefined' && !!Chart.getChart(document.getElementById('service-chart'))")
            assert await drawn.json_value()
            assert "Installation" in await page.inner_text("[data-testid=figures-type]")
            await shot(page, "service-orders-figures")

            await console.goto("/console/service-orders")
            await page.click("[data-testid=switch-language]")
            await page.wait_for_url("**/console/service-orders**")
            text = await page.inner_text("main")
            assert "服务工单" in text and "已超时" in text and "安装" in text
            assert not errors, f"script errors: {errors}"
