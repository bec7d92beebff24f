"""The own warehouse's screen in a real browser (Debian's Chromium driven by Playwright) against a
hub served over real HTTP: the pick list shows each delivery order's lines, parcels and waybills
and the units per SKU; the operator picks, weighs and packs, then ships, and the shipment is
recorded once; a delivery order whose parcel has no waybill yet is refused with its state named.
Screenshot: ``console-warehouse``. On SQLite: the pick, pack and ship services it drives are tested on
both databases (tests/integration/test_fulfilment_warehouse.py).

Skipped only when ``/usr/bin/chromium`` is missing outside CI; in CI (``$CI`` set) it must run.
"""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from hub.context import Hub
from hub.db.tables import DeliveryOrderRow, ParcelRow, ShipmentRow
from hub.testing import fulfilment_factories as ff
from hub.testing.hub import hub_config, running_hub
from tests.e2e.console_browser_support import browser_or_skip, fits_a_phone, shot, signed_in_console
from tests.integration.test_fulfilment_flow import Plugin

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)]


async def _shipments(hub: Hub, order_id: int) -> list[ShipmentRow]:
    async with hub.database().session() as session:
        return list((await session.execute(select(ShipmentRow).where(ShipmentRow.order_id == order_id))).scalars())


async def test_operator_picks_packs_and_ships_in_the_browser(database_url: str) -> None:
    browser_or_skip()
    shop = f"whb-{secrets.token_hex(3)}"
    config = hub_config(database_url, shops={shop: {"platform": "shipshop"}},
                        warehouses={"main": {"platform": "manual"}})
    with running_hub(config, extra_plugins=[Plugin()], load_entry_points=False, start_workers=False,
                     relay=False) as hub:
        ready_id, ready = await ff.paid_order(hub, platform="shipshop", shop=shop, lines=[("WH-TEE", 2)])
        ready_do = await ff.delivery_order(hub, ready_id, ready, code="OWN-B-1", warehouse="main")
        await ff.parcel(hub, ready_do, ready_id, waybill_number="SF7700000001")
        waiting_id, waiting = await ff.paid_order(hub, platform="shipshop", shop=shop, lines=[("WH-TEE", 1)])
        waiting_do = await ff.delivery_order(hub, waiting_id, waiting, code="OWN-B-2", warehouse="main")
        await ff.parcel(hub, waiting_do, waiting_id)  # its waybill is not issued yet

        async with signed_in_console(hub, name="e2e-warehouse") as console:
            page = console.page
            await console.goto("/console/fulfilment/warehouse")
            row = page.locator(f"[data-testid=delivery-{ready_do}]")
            assert "OWN-B-1" in await row.inner_text() and "SF7700000001" in await row.inner_text()
            assert "waiting for its waybill" in await page.locator(f"[data-testid=delivery-{waiting_do}]").inner_text()
            assert "3" in await page.locator("[data-testid=total-WH-TEE]").inner_text()
            await shot(page, "console-warehouse")

            await fits_a_phone(page, "the warehouse screen", slack=40)

            await page.click(f"[data-testid=pick-{ready_do}]")
            assert f"Delivery order {ready_do} is being picked." in await page.locator(
                "[data-testid=notice]").inner_text()
            await page.fill(f"[data-testid=weight-{ready_do}]", "640")
            await page.click(f"[data-testid=pack-{ready_do}]")
            assert f"Delivery order {ready_do} is packed." in await page.locator("[data-testid=notice]").inner_text()
            await page.click(f"[data-testid=ship-{ready_do}]")
            assert f"Delivery order {ready_do} is shipped" in await page.locator("[data-testid=notice]").inner_text()
            assert await page.locator(f"[data-testid=delivery-{ready_do}]").count() == 0

            # The other one: picked and packed, but its parcel has no waybill: refused, state named.
            await page.click(f"[data-testid=pick-{waiting_do}]")
            await page.fill(f"[data-testid=weight-{waiting_do}]", "300")
            await page.click(f"[data-testid=pack-{waiting_do}]")
            response = await page.request.post(f"{console.base_url}/console/fulfilment/warehouse/{waiting_do}/ship")
            assert response.status in (400, 403)  # no form token: refused before anything
            await page.click(f"[data-testid=ship-{waiting_do}]")
            body = await page.locator("main").inner_text()
            assert "without a waybill" in body and "pending" in body

        shipped = await _shipments(hub, ready_id)
        assert len(shipped) == 1 and shipped[0].created_by is not None
        assert shipped[0].created_by.endswith(":e2e-warehouse")
        assert await _shipments(hub, waiting_id) == []
        async with hub.database().session() as session:
            states = {row.id: row.status for row in (await session.execute(select(DeliveryOrderRow))).scalars()}
            weight = await session.scalar(select(ParcelRow.weight_grams).where(ParcelRow.delivery_order_id == ready_do))
        assert states == {ready_do: "shipped", waiting_do: "packed"}
        assert weight == 640
        await hub.close_loop_resources()
