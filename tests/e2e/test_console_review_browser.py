"""The review (审单) in a real browser (Debian's Chromium driven by Playwright) against a real hub
(PostgreSQL and Redis) with a Taobao sandbox shop: an order above ``[fulfilment.review]
amount_above`` is held by the review with its reason; the operator opens Fulfilment, finds it
with the reason named and approves it; the order's page shows it approved by them, and the flow's
actor got the order (no dead letter). Screenshot: ``console-review``.

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hub.context import Hub
from hub.db.tables import OrderRow, OutboxRow
from hub.services.fulfilment.flow import FULFIL_ACTOR
from tests.e2e.console_browser_support import shot, signed_in_console, taobao_console_hub
from tests.e2e.hub_e2e_support import (
    Backend,
    backend,
    dead_letters,
    eventually,
    orders_for,
    pumping,
    stock_a_sku,
)

__all__ = ["backend"]
pytestmark = pytest.mark.e2e

SKU = "E2E-REV-TEE"  # ¥38 in the sandbox: two are above the ¥50 review limit


async def _review_status(hub: Hub, order_id: int) -> str | None:
    async with hub.database().session() as session:
        return await session.scalar(select(OrderRow.review_status).where(OrderRow.id == order_id))


async def _handed_over(hub: Hub, order_id: int) -> bool:
    async with hub.database().session() as session:
        rows = (await session.execute(select(OutboxRow).where(OutboxRow.actor == FULFIL_ACTOR))).scalars().all()
    return any(order_id in (r.args or [[]])[0] and r.published_at is not None for r in rows)


async def test_operator_approves_an_order_the_review_held_in_the_browser(backend: Backend) -> None:
    async with taobao_console_hub(backend, fulfilment={"review": {"amount_above": "50"}}) as (hub, taobao):
        await _scenario(hub, taobao.shop, taobao.sandbox)


async def _scenario(hub: Hub, shop: str, box: Any) -> None:
    await stock_a_sku(hub, SKU, 50)
    big = box.create_order(shop, SKU, 2, paid=True)  # ¥76: the review holds it
    async with pumping(hub, consume=[shop]):
        big_id = (await eventually(lambda: orders_for(hub, shop, big), what="the big order stored"))[0].id
        await eventually(lambda: _review_status(hub, big_id), what="the big order reviewed")
    assert await _review_status(hub, big_id) == "held"

    async with signed_in_console(hub, name="e2e-review") as console:
        page = console.page
        await page.click("nav >> text=Fulfilment")
        await page.wait_for_url("**/console/fulfilment")
        row = page.locator(f"[data-testid=review-{big_id}]")
        reason = row.locator(f"[data-testid=reason-{big_id}-review_amount]")
        assert "Amount above the review limit (review_amount)" in await reason.inner_text()
        assert "76.00 CNY is above 50" in await reason.inner_text()
        assert "¥76.00" in await row.inner_text()
        await shot(page, "console-review")

        await page.click(f"[data-testid=approve-{big_id}]")
        notice = page.locator("[data-testid=notice]")
        assert f"Order {big_id} approved." in await notice.inner_text()
        assert await page.locator(f"[data-testid=review-{big_id}]").count() == 0
        assert await _review_status(hub, big_id) == "approved"

        # The order's page: its review panel says approved, and by whom.
        await console.goto(f"/console/orders/{big_id}")
        status = page.locator("[data-testid=review-status]")
        await status.wait_for()
        assert await status.inner_text() == "Approved"
        assert "e2e-review" in await page.locator("[data-testid=panel-review]").inner_text()

    await eventually(lambda: _handed_over(hub, big_id), what="the approved order sent to the flow's actor")
    assert not [d for d in await dead_letters(hub) if d.actor == FULFIL_ACTOR]
