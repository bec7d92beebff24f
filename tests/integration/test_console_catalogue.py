"""The console's catalogue screen through the app in-process, on SQLite and PostgreSQL: an operator
searches SKUs, adds a SKU and a bundle (bad values come back named, nothing added), deactivates
and reactivates one, sees which shop listings sell a SKU and how they were bound, and the
listings the last sync could not bind; a viewer reads but has no forms and is refused a write;
the screen speaks Chinese."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from contracts.listings import ChannelListing
from hub.context import Hub
from hub.services import catalogue, listings
from tests.integration.inventory_support import close_hub, make_hub
from tests.integration.test_api_support import new_key
from tests.integration.test_console_auth import _csrf, _sign_in_with_key


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:
    h = make_hub(database_url, shops={"shop-a": {}}, warehouses=("main",))
    yield h
    await close_hub(h)


async def _signed_in(hub: Hub, role: str) -> httpx.AsyncClient:
    from hub.api import create_app

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hub)), base_url="http://hub.test")
    await _sign_in_with_key(client, await new_key(hub, role))
    return client


async def _sku(hub: Hub, sku: str) -> catalogue.SkuView | None:
    async with hub.database().session() as session:
        try:
            return await catalogue.get_sku(session, sku)
        except Exception:
            return None


def _row(page: str, testid: str) -> str:
    found = re.search(rf'data-testid="{re.escape(testid)}".*?</tr>', page, re.S)
    assert found, f"no {testid} on the page"
    return found.group(0)


async def test_an_operator_adds_searches_and_deactivates_skus_and_sees_bindings_and_unmatched(hub: Hub) -> None:
    client = await _signed_in(hub, "operator")
    try:
        page = await client.get("/console/catalogue")
        assert page.status_code == 200 and 'data-testid="add-form"' in page.text
        token = _csrf(page.text)
        added = await client.post("/console/catalogue", data={
            "csrf_token": token, "merchant_sku": "MUG", "name": "Blue mug", "product_code": "P-1",
            "safety_stock": "2", "components": ""})
        assert added.status_code == 303 and added.headers["location"] == "/console/catalogue/MUG?done=created"
        bundle = await client.post("/console/catalogue", data={
            "csrf_token": token, "merchant_sku": "MUG-PAIR", "name": "Two mugs", "product_code": "",
            "safety_stock": "", "components": "MUG*2"})
        assert bundle.status_code == 303
        # Bad values come back named on the form, and nothing is added.
        bad = await client.post("/console/catalogue", data={
            "csrf_token": token, "merchant_sku": "GIFT", "name": "", "product_code": "", "safety_stock": "two",
            "components": ""})
        ghost = await client.post("/console/catalogue", data={
            "csrf_token": token, "merchant_sku": "GIFT", "name": "", "product_code": "", "safety_stock": "",
            "components": "GHOST*1"})
        again = await client.post("/console/catalogue", data={
            "csrf_token": token, "merchant_sku": "MUG", "name": "", "product_code": "", "safety_stock": "",
            "components": ""})
        no_token = await client.post("/console/catalogue", data={"merchant_sku": "SNEAKY"})

        # A listing bound by the sync, one by hand, and two the sync could not bind.
        await listings.bind_listings(hub, "shop-a", [
            ChannelListing(channel_item_id="111", channel_sku_id="1", merchant_code="MUG", title="Mug"),
            ChannelListing(channel_item_id="222", channel_sku_id="2", merchant_code="POSTER", title="Poster"),
            ChannelListing(channel_item_id="333", channel_sku_id="", merchant_code=None, title="No code")])
        await listings.bind(hub, "shop-a", "MUG", "444", "4", actor="someone")

        search = await client.get("/console/catalogue", params={"q": "blue"})
        mug = await client.get("/console/catalogue/MUG?done=created")
        deactivated = await client.post("/console/catalogue/MUG/deactivate", data={"csrf_token": token})
        active_only = await client.get("/console/catalogue")
        with_inactive = await client.get("/console/catalogue", params={"inactive": "1"})
        after = await client.get("/console/catalogue/MUG?done=deactivated")
        reactivated = await client.post("/console/catalogue/MUG/reactivate", data={"csrf_token": token})
        missing = await client.get("/console/catalogue/NOPE")
        chinese = await client.get("/console/catalogue", headers={"Accept-Language": "zh-CN"})
    finally:
        await client.aclose()

    assert bad.status_code == 422 and 'data-testid="problem-safety_stock"' in bad.text
    assert ghost.status_code == 422 and "GHOST" in _row(ghost.text + "</tr>", "problem-components")
    assert again.status_code == 422 and "already in the catalogue" in again.text
    assert no_token.status_code == 403
    assert await _sku(hub, "GIFT") is None and await _sku(hub, "SNEAKY") is None
    pair = await _sku(hub, "MUG-PAIR")
    assert pair is not None and pair.components == {"MUG": 2}
    made = await _sku(hub, "MUG")
    assert made is not None and (made.name, made.product_code, made.safety_stock) == ("Blue mug", "P-1", 2)

    assert 'data-testid="sku-row-MUG"' in search.text and 'data-testid="sku-row-MUG-PAIR"' not in search.text
    # The unmatched listings of the last sync, with why.
    assert "code not in the catalogue" in _row(search.text, "unmatched-shop-a-222")
    assert "no merchant code" in _row(search.text, "unmatched-shop-a-333")
    assert 'data-testid="unmatched-shop-a-111"' not in search.text
    # One SKU's page: its facts and the shop listings that sell it, bound by the sync and by hand.
    assert "Added to the catalogue." in mug.text and "P-1" in mug.text
    sources = {m.group(1): m.group(2) for m in re.finditer(
        r'<td>shop-a</td><td>(\d+)</td>.*?data-testid="source">([^<]+)<', mug.text, re.S)}
    assert sources == {"111": "by the listing sync", "444": "by hand"}

    assert deactivated.status_code == 303
    assert 'data-testid="sku-row-MUG"' not in active_only.text
    assert "deactivated" in _row(with_inactive.text, "sku-row-MUG")
    assert 'data-testid="inactive"' in after.text and ">Reactivate<" in after.text
    assert reactivated.status_code == 303
    reactive = await _sku(hub, "MUG")
    assert reactive is not None and reactive.active and reactive.updated_by is not None
    assert missing.status_code == 404 and "There is no SKU NOPE" in missing.text
    assert "商品目录" in chinese.text and "编码不在商品目录中" in chinese.text


async def test_a_viewer_reads_the_catalogue_but_cannot_change_it(hub: Hub) -> None:
    await catalogue.create_sku(hub, catalogue.check_draft({"merchant_sku": "TEE"}), actor="test")
    client = await _signed_in(hub, "viewer")
    try:
        page = await client.get("/console/catalogue")
        sku = await client.get("/console/catalogue/TEE")
        token = _csrf(page.text)
        add = await client.post("/console/catalogue", data={"csrf_token": token, "merchant_sku": "NEW"})
        off = await client.post("/console/catalogue/TEE/deactivate", data={"csrf_token": token})
    finally:
        await client.aclose()
    assert page.status_code == 200 and 'data-testid="sku-row-TEE"' in page.text
    assert 'data-testid="add-form"' not in page.text and 'data-testid="active-form"' not in sku.text
    assert add.status_code == 403 and off.status_code == 403
    assert await _sku(hub, "NEW") is None
    tee = await _sku(hub, "TEE")
    assert tee is not None and tee.active
