"""The edit screens through the app in-process, on SQLite and PostgreSQL: the order page's panel
links to the forms; an operator changes the seller's note from the form (recorded, history
shown) and asks for a price change; a form from an old page is refused with the problem shown;
finance approves it on /console/approvals, where an operator gets no buttons; a price change the
buyer paid before leaves the approvals page, withdrawn with the reason on the order's edits."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from contracts.orders import OrderStatus
from hub.context import Hub
from hub.services import orders
from hub.testing.api import new_key
from hub.testing.factories import make_order
from tests.integration.inventory_support import close_hub, database, database_url, make_hub  # noqa: F401
from tests.integration.test_console_auth import _app, _sign_in_with_key

#: The console forms call the edits service the API uses (tests/integration/test_order_edits.py runs it
#: on both databases): SQLite only.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:  # noqa: F811
    h = make_hub(database_url)
    yield h
    await close_hub(h)


async def _signed_in(client: httpx.AsyncClient, hub: Hub, role: str, name: str) -> None:
    assert (await _sign_in_with_key(client, await new_key(hub, role, name))).status_code == 303


def _hidden(page: str, form: str) -> dict[str, str]:
    found = re.search(rf'data-testid="form-{form}".*?</form>', page, re.S)
    assert found, f"no {form} form on the page"
    return dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', found.group(0)))


async def test_an_operator_edits_and_finance_approves_the_price_change(hub: Hub) -> None:
    order = make_order(platform="fake", shop="shop-a", status=OrderStatus.PENDING_PAYMENT)
    async with hub.database().transaction() as db:
        order_id = int((await orders.apply_order(db, order, cause="test")).order_id)
    line = order.lines[0].external_id
    async with _app(hub) as client:
        await _signed_in(client, hub, "operator", "olga")
        panel = await client.get(f"/console/orders/{order_id}/panel/edits")
        assert f'href="/console/orders/{order_id}/edits"' in panel.text
        page = (await client.get(f"/console/orders/{order_id}/edits")).text
        noted = await client.post(f"/console/orders/{order_id}/edits",
                                  data={**_hidden(page, "seller_note"), "note": "gift wrap", "reason": "asked"})
        assert noted.status_code == 303
        stale = await client.post(f"/console/orders/{order_id}/edits",
                                  data={**_hidden(page, "price"), f"line:{line}": "9.50"})
        assert stale.status_code == 409 and "changed since version" in stale.text
        page = (await client.get(noted.headers["location"])).text
        assert 'data-testid="notice"' in page and "gift wrap" in page and "hub only" in page
        asked = await client.post(f"/console/orders/{order_id}/edits",
                                  data={**_hidden(page, "price"), f"line:{line}": "9.50", "reason": "promo"})
        assert asked.status_code == 303
        queue = await client.get("/console/approvals")
        assert "promo" in queue.text and 'data-testid="approve-' not in queue.text
    async with _app(hub) as client:
        await _signed_in(client, hub, "finance", "fei")
        queue = (await client.get("/console/approvals")).text
        [edit_id] = re.findall(r'data-testid="approve-(\d+)"', queue)
        form = re.search(rf'action="/console/approvals/{edit_id}".*?</form>', queue, re.S)
        assert form is not None
        token = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)))
        done = await client.post(f"/console/approvals/{edit_id}", data={**token, "decision": "approve"})
        assert done.status_code == 303
        after = (await client.get(done.headers["location"])).text
        assert 'data-testid="approvals-empty"' in after
    async with hub.database().session() as db:
        from sqlalchemy import select

        from hub.db.tables import OrderRow

        row = (await db.execute(select(OrderRow).where(OrderRow.id == order_id))).scalar_one()
    assert str(row.total_amount).startswith("9.5") and row.data["seller_note"] == "gift wrap"


async def test_a_price_change_the_buyer_paid_before_is_withdrawn_from_the_approvals_page(hub: Hub) -> None:
    from hub.services.order_edits import stale

    order = make_order(platform="fake", shop="shop-a", status=OrderStatus.PENDING_PAYMENT)
    async with hub.database().transaction() as db:
        order_id = int((await orders.apply_order(db, order, cause="test")).order_id)
    async with _app(hub) as client:
        await _signed_in(client, hub, "operator", "olga")
        page = (await client.get(f"/console/orders/{order_id}/edits")).text
        asked = await client.post(f"/console/orders/{order_id}/edits", data={
            **_hidden(page, "price"), f"line:{order.lines[0].external_id}": "9.50", "reason": "promo"})
        assert asked.status_code == 303
    async with hub.database().transaction() as db:  # the buyer pays: the platform reports the order paid
        await orders.apply_order(db, order.model_copy(update={
            "status": OrderStatus.PAID, "updated_at": order.updated_at + timedelta(minutes=5)}), cause="poll")
    assert await stale.withdraw_stale_edits(hub) == 1
    async with _app(hub) as client:
        await _signed_in(client, hub, "finance", "fei")
        assert 'data-testid="approvals-empty"' in (await client.get("/console/approvals")).text
        edits = (await client.get(f"/console/orders/{order_id}/edits")).text
        assert "withdrawn · system" in edits and "the order was paid before approval" in edits
        chinese = (await client.get(f"/console/orders/{order_id}/edits", headers={"accept-language": "zh-CN"})).text
        assert "系统已撤回：订单在审批前已付款" in chinese and "paid before approval" not in chinese
        history = (await client.get(f"/console/orders/{order_id}")).text
        assert "Edit withdrawn: the order no longer waits for payment" in history
