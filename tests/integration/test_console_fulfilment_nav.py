"""The fulfilment screens' shared sub-navigation, in-process: every
fulfilment screen carries it with its own link marked current, and the numbers fragment counts
what waits on each screen (review queue, delivery orders pending or failed, own delivery orders to
pick, parcels to print, orders waiting for a merge decision, open exceptions) on a seeded database.

``seed_fulfilment`` is shared with the browser walk (tests/e2e/test_console_fulfilment_nav_browser.py).
On SQLite only: the counts come from hub.api.queries.fulfilment_counts, whose queries the
fulfilment tests run on both databases."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, update

from contracts.fulfilment import Hold
from hub.context import Hub
from hub.db.tables import FulfilmentExceptionRow, OrderRow
from hub.plugins import build_plugin_manager
from hub.services import orders
from hub.testing.api import new_key
from hub.testing.hub import hub_config
from hub.testing.merging_factories import approved_order, delivery_order, parcel
from tests.integration.test_console_auth import _app, _sign_in_with_key

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SCREENS = {
    "review": "/console/fulfilment", "delivery": "/console/fulfilment/delivery",
    "warehouse": "/console/fulfilment/warehouse", "parcels": "/console/fulfilment/parcels",
    "merges": "/console/fulfilment/merges", "exceptions": "/console/fulfilment/exceptions",
}
#: What ``seed_fulfilment`` leaves waiting on each screen.
SEEDED = {"review": 2, "delivery": 2, "warehouse": 2, "parcels": 1, "merges": 2, "exceptions": 1}


async def seed_fulfilment(hub: Hub) -> None:
    """Two orders in the review queue (one held by the review, one held by a person before its
    review), delivery orders in every state (two pending or failed, two own to pick), a parcel to
    print and one printed, two orders held for a merge proposal, one open and one resolved exception."""
    now = datetime.now(UTC)
    async with hub.database().transaction() as session:
        held = await approved_order(session, buyer="held", approved=False)
        await session.execute(update(OrderRow).where(OrderRow.id == held).values(review_status="held"))
        await orders.add_hold(session, held, Hold(code="review_amount", reason="above 5000"), cause="system")
        manual = await approved_order(session, buyer="manual", approved=False)
        await orders.add_hold(session, manual, Hold(code="manual", reason="call the buyer"), cause="api")
        routed = [await approved_order(session, buyer=f"routed-{n}", street=f"路{n}号") for n in range(6)]
        await delivery_order(session, [routed[0]], status="pending", kind="wms")
        await delivery_order(session, [routed[1]], status="failed", kind="wms")
        await delivery_order(session, [routed[2]], status="sent", kind="wms")  # at the WMS: nobody's to pick
        picking = await delivery_order(session, [routed[3]], status="picking", kind="own", warehouse="own")
        sent = await delivery_order(session, [routed[4]], status="sent", kind="own", warehouse="own")
        await delivery_order(session, [routed[5]], status="packed", kind="own", warehouse="own")
        await parcel(session, sent, routed[4], status="issued")
        await parcel(session, picking, routed[3], status="printed")
        for _ in range(2):
            waiting = await approved_order(session, buyer="twin")
            await orders.add_hold(session, waiting, Hold(code="merge_proposed", reason="merge them"), cause="system")
        await session.execute(insert(FulfilmentExceptionRow), [
            {"order_id": routed[4], "kind": "stalled", "subject": "parcel:1", "reason": "not moving", "raised_at": now},
            {"order_id": routed[3], "kind": "stalled", "subject": "parcel:2", "reason": "not moving", "raised_at": now,
             "resolved_at": now, "resolved_by": "someone"}])


def _current(page: str) -> list[str]:
    return re.findall(r'data-testid="subnav-([a-z]+)" aria-current="page"', page)


def _counts(fragment: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-testid="subnav-count-([a-z]+)">(\d+)<', fragment)}


async def test_every_fulfilment_screen_has_the_subnav_with_its_counts(database_url: str) -> None:
    hub = Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))
    await seed_fulfilment(hub)
    async with _app(hub) as client:
        assert (await _sign_in_with_key(client, await new_key(hub, "viewer"))).status_code == 303
        for key, path in SCREENS.items():
            page = await client.get(path)
            assert page.status_code == 200, (path, page.text[:300])
            assert 'data-testid="fulfilment-subnav"' in page.text
            assert _current(page.text) == [key], path
            assert f'hx-get="/console/fulfilment/subnav?current={path}"' in page.text
            fragment = await client.get("/console/fulfilment/subnav", params={"current": path})
            assert fragment.status_code == 200 and "<html" not in fragment.text
            assert _current(fragment.text) == [key] and "hx-trigger" not in fragment.text  # swapped in once
            assert _counts(fragment.text) == SEEDED
        # The main nav's "Fulfilment" is the review queue, the landing page of the screens.
        landing = await client.get("/console")
        assert 'href="/console/fulfilment"' in landing.text
        # Another site's address as "current" marks nothing.
        odd = await client.get("/console/fulfilment/subnav", params={"current": "https://evil.example/"})
        assert _current(odd.text) == [] and _counts(odd.text) == SEEDED


async def test_subnav_counts_are_words_in_chinese_too(database_url: str) -> None:
    hub = Hub(hub_config(database_url), build_plugin_manager(load_entry_points=False))
    async with _app(hub) as client:
        assert (await _sign_in_with_key(client, await new_key(hub, "viewer"))).status_code == 303
        client.cookies.set("hub_lang", "zh-CN")
        fragment = await client.get("/console/fulfilment/subnav", params={"current": "/console/fulfilment/parcels"})
        assert "包裹与面单" in fragment.text and "异常包裹" in fragment.text
        assert _counts(fragment.text) == dict.fromkeys(SEEDED, 0)
