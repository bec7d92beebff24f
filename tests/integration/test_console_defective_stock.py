"""The console's defective stock page through the app in-process, on SQLite and PostgreSQL: linked
from the stock screen, it lists what returns put apart with totals; the dispose form repairs units
back on hand once per form, gives too many units back named with nothing changed, and is not
offered to a role that may only read stock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from hub.context import Hub
from hub.db.tables import DefectiveStockRow
from tests.integration.inventory_support import close_hub, make_hub, seed, stock_row
from tests.integration.test_api_support import new_key
from tests.integration.test_console_auth import _csrf, _sign_in_with_key
from tests.integration.test_defective_stock import held


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:
    h = make_hub(database_url, warehouses=("main", "east"))
    yield h
    await close_hub(h)


async def _signed_in(hub: Hub, role: str) -> httpx.AsyncClient:
    from hub.api import create_app

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hub)), base_url="http://hub.test")
    await _sign_in_with_key(client, await new_key(hub, role))
    return client


async def _dispose(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    page = await client.get("/console/stock/defective")
    key = re.search(r'name="form_key" value="([^"]+)"', page.text)
    assert key, "the page has no dispose form"
    data = {"csrf_token": _csrf(page.text), "form_key": key.group(1), "location": "defective",
            "merchant_sku": "MUG", "quantity": "", "action": "", "warehouse": "", "note": "", **fields}
    return await client.post("/console/stock/defective", data=data)


async def test_the_page_lists_defective_stock_and_repairs_units_back_on_hand_once(hub: Hub) -> None:
    await seed(hub, "MUG", 2, warehouse="main", name="Blue mug")
    async with hub.database().transaction() as session:
        session.add(DefectiveStockRow(location="defective", merchant_sku="MUG", quantity=3,
                                      updated_at=datetime.now(UTC)))
    client = await _signed_in(hub, "warehouse")
    try:
        stock = await client.get("/console/stock")
        page = await client.get("/console/stock/defective")
        too_many = await _dispose(client, quantity="4", action="scrap")
        form = await client.get("/console/stock/defective")
        key = re.search(r'name="form_key" value="([^"]+)"', form.text)
        assert key
        data = {"csrf_token": _csrf(form.text), "form_key": key.group(1), "location": "defective",
                "merchant_sku": "MUG", "quantity": "2", "action": "repaired", "warehouse": "east", "note": "glued"}
        done = await client.post("/console/stock/defective", data=data)
        again = await client.post("/console/stock/defective", data=data)
        after = await client.get(done.headers["location"])
        chinese = await client.get("/console/stock/defective", headers={"Accept-Language": "zh-CN"})
    finally:
        await client.aclose()
    assert 'href="/console/stock/defective"' in stock.text
    assert page.status_code == 200, page.text
    assert 'data-testid="defective-row-defective-MUG"' in page.text and "Blue mug" in page.text
    assert re.search(r'data-testid="total-defective">3<', page.text)
    assert too_many.status_code == 422 and 'data-testid="problem-quantity"' in too_many.text
    assert "holds 3 defective unit(s)" in too_many.text
    assert done.status_code == 303 and again.status_code == 303
    assert "repeated=1" in again.headers["location"] and "repeated" not in done.headers["location"]
    assert "2 unit(s) of MUG from defective: Repaired: back on hand." in after.text
    assert await held(hub, "MUG") == 1
    assert await stock_row(hub, "MUG", "east") == (2, 0) and await stock_row(hub, "MUG", "main") == (2, 0)
    assert "残次品库存" in chinese.text and "报废" in chinese.text


async def test_a_reader_sees_the_list_without_the_form(hub: Hub) -> None:
    client = await _signed_in(hub, "viewer")
    try:
        page = await client.get("/console/stock/defective")
    finally:
        await client.aclose()
    assert page.status_code == 200
    assert 'data-testid="read-only"' in page.text and 'data-testid="dispose-form"' not in page.text
    assert 'data-testid="no-defective"' in page.text
