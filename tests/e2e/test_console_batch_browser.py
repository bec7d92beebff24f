"""Batch actions in a real browser (Chromium driven by Playwright) against a real hub (PostgreSQL
and Redis): the operator ticks two orders on the orders list, chooses "Release holds" with the hold
code, and reads each order's outcome — one released, one refused because it was not held; an admin
resumes a job that failed half-way from its page. Screenshot: ``console-batch-results``.

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from contracts import Hold
from hub.api.auth import Principal
from hub.context import Hub
from hub.db.tables import BatchJobRow, OrderHoldRow
from hub.services import orders
from hub.services.batch import jobs, runner
from hub.services.batch.registry import load_actions
from hub.testing.factories import make_order
from tests.e2e.console_browser_support import shot, signed_in_console, taobao_console_hub
from tests.e2e.hub_e2e_support import Backend, backend

__all__ = ["backend"]
pytestmark = pytest.mark.e2e


async def _two_orders(hub: Hub, shop: str) -> tuple[int, int]:
    async with hub.database().transaction() as session:
        held = (await orders.apply_order(session, make_order(shop=shop), cause="poll")).order_id
        await orders.add_hold(session, held, Hold(code="manual", reason="check the address"), cause="api")
        free = (await orders.apply_order(session, make_order(shop=shop), cause="poll")).order_id
    return held, free


async def test_operator_releases_holds_on_two_ticked_orders_in_the_browser(backend: Backend) -> None:
    async with taobao_console_hub(backend) as (hub, taobao):
        held, free = await _two_orders(hub, taobao.shop)
        async with signed_in_console(hub, role="operator", name="e2e-batch") as console:
            page = console.page
            await console.goto("/console/orders")
            await page.check(f"[data-testid=select-order][value='{held}']")
            await page.check(f"[data-testid=select-order][value='{free}']")
            await page.click("[data-testid=batch-choose]")
            await page.wait_for_url("**/console/orders/batch?**")
            await page.check("input[name=action][value=release_holds]")
            await page.fill("#p-release_holds-code", "manual")
            await page.click("[data-testid=batch-run]")
            summary = page.locator("[data-testid=batch-summary]")
            assert "1 succeeded, 1 refused" in await summary.inner_text()
            refused = page.locator("[data-testid=batch-result][data-ok=no]")
            assert f"order {free} has no open hold 'manual'" in await refused.inner_text()
            assert await page.locator("[data-testid=batch-result][data-ok=yes]").count() == 1
            await shot(page, "console-batch-results")
        async with hub.database().session() as session:
            still = (await session.execute(select(OrderHoldRow.released_by).where(
                OrderHoldRow.order_id == held, OrderHoldRow.code == "manual"))).scalar_one()
        assert still is not None and still.endswith(":e2e-batch")


async def test_admin_resumes_a_job_that_failed_half_way_from_its_page(backend: Backend) -> None:
    async with taobao_console_hub(backend) as (hub, taobao):
        held, other = await _two_orders(hub, taobao.shop)
        worker = Principal(key_id=0, name="night-shift", prefix="", role="operator")
        job = await jobs.create_job(hub, worker, load_actions()["release_holds"], [held, other], {"code": "manual"})
        async with hub.database().transaction() as session:  # as the runner records a failure
            await session.execute(update(BatchJobRow).where(BatchJobRow.id == job.id).values(
                status=runner.FAILED, error="OperationalError: the database went away"))
        async with signed_in_console(hub, role="admin", name="e2e-admin") as console:
            page = console.page
            await console.goto(f"/console/jobs/{job.id}")
            assert "the database went away" in await page.locator("[data-testid=job-error]").inner_text()
            await page.click("[data-testid=job-resume]")
            await page.wait_for_url(f"**/console/jobs/{job.id}")
            state = page.locator("[data-testid=job-state]")
            assert await state.inner_text() != "Failed"
            assert await page.locator("[data-testid=job-error]").count() == 0
            assert await page.locator("[data-testid=job-resume]").count() == 0
        async with hub.database().session() as session:
            status = (await session.execute(select(BatchJobRow.status).where(BatchJobRow.id == job.id))).scalar_one()
        assert status in (runner.QUEUED, runner.RUNNING, runner.DONE)
