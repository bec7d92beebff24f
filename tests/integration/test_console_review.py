"""The review screens through the app in-process, on SQLite and PostgreSQL: the queue at
/console/fulfilment lists held orders with every reason (filters, a bad cursor named), approve and
release are forms with the session's token that act under the signed-in person's name; the order
page's review panel shows the status and reasons and holds with a reason; a viewer is offered no
button and refused the action; words in English and Chinese."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.context import Hub
from hub.db.tables import OrderHoldRow, OrderRow
from hub.testing.api import new_key
from tests.integration.inventory_support import (  # noqa: F401
    close_hub,
    database,
    database_url,
    make_hub,
    place_order,
    seed,
)
from tests.integration.review_support import handed_to_flow, paid_orders
from tests.integration.test_console_auth import _app, _csrf, _sign_in_with_key


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:  # noqa: F811
    h = make_hub(database_url, fulfilment={"review": {"amount_above": "50", "hold_on_buyer_remark": True}})
    await seed(h, "MUG", 100)
    yield h
    await close_hub(h)


async def _paid(hub: Hub, qty: int) -> int:
    [order_id] = await paid_orders(hub, [("MUG", qty)])
    return order_id


async def _signed_in(client: httpx.AsyncClient, hub: Hub, role: str, name: str | None = None) -> None:
    assert (await _sign_in_with_key(client, await new_key(hub, role, name))).status_code == 303


async def _post(client: httpx.AsyncClient, path: str, data: dict[str, Any], page: str) -> httpx.Response:
    token = _csrf((await client.get(page)).text)
    return await client.post(path, data={"csrf_token": token, **data})


async def _review(hub: Hub, order_id: int) -> tuple[str | None, dict[str, str | None]]:
    async with hub.database().session() as session:
        status = await session.scalar(select(OrderRow.review_status).where(OrderRow.id == order_id))
        holds = dict((await session.execute(select(OrderHoldRow.code, OrderHoldRow.released_by).where(
            OrderHoldRow.order_id == order_id))).all())
    return status, holds


async def test_the_queue_shows_every_reason_and_approves_and_releases(hub: Hub) -> None:
    big, small = await _paid(hub, 3), await _paid(hub, 1)
    async with _app(hub) as client:
        await _signed_in(client, hub, "operator", "alice")
        page = await client.get("/console/fulfilment")
        assert page.status_code == 200
        assert f'data-testid="review-{big}"' in page.text and f'data-testid="review-{small}"' not in page.text
        assert "Amount above the review limit (review_amount)" in page.text and "59.70 CNY is above 50" in page.text
        filtered = await client.get("/console/fulfilment?code=review_remark")
        assert f'data-testid="review-{big}"' not in filtered.text and 'data-testid="no-reviews"' in filtered.text
        bad = await client.get("/console/fulfilment?cursor=not-ours")
        assert bad.status_code == 422 and "out of date" in bad.text
        stale = await client.post(f"/console/fulfilment/{big}/approve", data={"csrf_token": "stale"})
        assert stale.status_code == 403 and (await _review(hub, big))[0] == "held"
        approved = await _post(client, f"/console/fulfilment/{big}/approve", {"next": "/console/fulfilment"},
                               "/console/fulfilment")
        assert approved.status_code == 303 and approved.headers["location"].startswith("/console/fulfilment?")
        after = await client.get(approved.headers["location"])
    assert f"Order {big} approved." in after.text and 'data-testid="no-reviews"' in after.text
    status, holds = await _review(hub, big)
    assert status == "approved" and holds["review_amount"] is not None and holds["review_amount"].endswith(":alice")


async def test_the_order_panel_holds_with_a_reason_and_releases(hub: Hub) -> None:
    order_id = await _paid(hub, 1)
    async with _app(hub) as client:
        await _signed_in(client, hub, "operator", "bob")
        panel = await client.get(f"/console/orders/{order_id}/panel/review")
        assert panel.status_code == 200 and 'data-testid="review-status">Approved' in panel.text
        here = f"/console/orders/{order_id}"
        blank = await _post(client, f"/console/fulfilment/{order_id}/hold", {"reason": "  ", "next": here}, here)
        assert blank.status_code == 422 and "Say why the order is held" in blank.text
        held = await _post(client, f"/console/fulfilment/{order_id}/hold", {"reason": "buyer called", "next": here},
                           here)
        assert held.status_code == 303 and held.headers["location"].startswith(here + "?")
        panel = await client.get(f"/console/orders/{order_id}/panel/review")
        assert "Held by a person (manual)" in panel.text and "buyer called" in panel.text
        released = await _post(client, f"/console/fulfilment/{order_id}/holds/manual/release", {"next": here}, here)
        assert released.status_code == 303
        panel = await client.get(f"/console/orders/{order_id}/panel/review", headers={"accept-language": "zh-CN"})
        missing = await client.get("/console/orders/999999/panel/review")
    assert "已通过" in panel.text and "bob" in panel.text
    assert missing.status_code == 404
    assert await _review(hub, order_id) == ("approved", {"manual": (await _review(hub, order_id))[1]["manual"]})
    assert await handed_to_flow(hub) == [[order_id], [order_id]], "approved by review, then again after release"


async def test_a_viewer_sees_the_queue_without_buttons_and_is_refused(hub: Hub) -> None:
    big = await _paid(hub, 3)
    async with _app(hub) as client:
        await _signed_in(client, hub, "viewer")
        page = await client.get("/console/fulfilment")
        panel = await client.get(f"/console/orders/{big}/panel/review")
        refused = await _post(client, f"/console/fulfilment/{big}/approve", {}, "/console/fulfilment")
    assert f'data-testid="review-{big}"' in page.text and f'data-testid="approve-{big}"' not in page.text
    assert 'data-testid="review-hold-form"' not in panel.text
    assert refused.status_code == 403 and (await _review(hub, big))[0] == "held"
