"""Tracking in a real browser (Debian's Chromium driven by Playwright) against a real hub
(PostgreSQL and Redis) whose tracking courier is the Kuaidi100 sandbox: a shipped parcel is
subscribed, the sandbox's signed callbacks reach the served hub, and the order page's tracking
panel shows the scans oldest first; once the parcel stops moving the rules put it in the
fulfilment exceptions queue, where the operator resolves it with a note and sees it resolved in
their name. Also on a phone. Screenshots: ``console-tracking`` and ``console-fulfilment-exceptions``.

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from hub.db.tables import FulfilmentExceptionRow
from hub.services.fulfilment import tracking
from hub.testing.hub import running_hub
from hub.testing.tracking import shipped_order, tracking_config
from plugins.logistics.sandbox import Kuaidi100Sandbox
from tests.e2e.console_browser_support import browser_on_postgres_redis, fits_a_phone, shot, signed_in_console
from tests.e2e.hub_e2e_support import Backend, backend
from tests.e2e.kuaidi100_support import kuaidi100

__all__ = ["backend", "kuaidi100"]
pytestmark = pytest.mark.e2e

NUMBER = "78000000000000000777"


async def test_operator_follows_a_parcel_and_resolves_its_stall_in_the_browser(
    backend: Backend, kuaidi100: tuple[Kuaidi100Sandbox, str]
) -> None:
    browser_on_postgres_redis(backend)
    box, sandbox_url = kuaidi100
    config = tracking_config(backend.database_url, redis_url=backend.redis_url,
                             sandbox_settings=box.courier_settings(sandbox_url))
    with running_hub(config, start_workers=False, relay=False) as hub:
        try:
            async with signed_in_console(hub, role="operator", name="e2e-tracking") as console:
                hub.config.fulfilment.tracking.callback_base_url = console.base_url
                page = console.page
                shipped = await shipped_order(hub, [NUMBER], courier_code="ZTO")
                assert await tracking.subscribe_parcels(hub, shipped.parcel_ids) == 1
                for _ in range(2):
                    box.advance("zhongtong", NUMBER)
                assert (await box.send_callback("zhongtong", NUMBER)).status_code == 200

                # The order page's tracking panel: the parcel, its state, its scans oldest first.
                await console.goto(f"/console/orders/{shipped.order_id}")
                [pid] = shipped.parcel_ids
                timeline = page.locator(f"[data-testid=tracking-timeline-{pid}]")
                await timeline.wait_for()
                scans = await timeline.locator("[data-testid=tracking-event]").all_inner_texts()
                assert len(scans) == 2 and "已揽收" in scans[0] and "发往 上海转运中心" in scans[1]
                assert await page.locator(f"[data-testid=tracking-state-{pid}]").inner_text() == "In transit"
                await page.locator("[data-testid=panel-tracking]").scroll_into_view_if_needed()
                await shot(page, "console-tracking")

                # It stops moving: the rules flag it, the panel links to the queue.
                await tracking.check_parcels(hub, now=datetime.now(UTC) + timedelta(days=30))
                async with hub.database().session() as session:
                    stalled = (await session.execute(select(FulfilmentExceptionRow))).scalar_one()
                assert stalled.kind == "stalled"
                await page.reload()
                await page.click("[data-testid=tracking-exceptions]")
                await page.wait_for_url(f"**/console/fulfilment/exceptions?order_id={shipped.order_id}")
                row = page.locator(f"[data-testid=fexc-{stalled.id}]")
                assert NUMBER in await row.inner_text() and "Not moving" in await row.inner_text()
                await shot(page, "console-fulfilment-exceptions")

                # A phone: nothing wider than the screen, the resolve still there.
                await fits_a_phone(page, "the queue", ready=row.locator(f"[data-testid=resolve-{stalled.id}]"))

                await page.fill(f"[data-testid=note-{stalled.id}]", "courier found it at the depot")
                await page.click(f"[data-testid=resolve-{stalled.id}]")
                assert f"Exception {stalled.id} resolved." in await page.locator("[data-testid=notice]").inner_text()
                await page.locator("[data-testid=no-exceptions]").wait_for()
                await page.click("[data-testid=show-resolved]")
                assert "e2e-tracking" in await page.locator(f"[data-testid=fexc-{stalled.id}]").inner_text()
        finally:
            await hub.close_loop_resources()
