"""The inventory API and ``hub stock import`` on SQLite and PostgreSQL: what an operator reads
(on hand per warehouse, reserved, available, per shop target / shown / lag / error) and how
adjustments and stock files are refused whole when one entry is bad."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from hub.api import create_app
from hub.api.inventory_routes import router
from hub.context import Hub
from hub.db import api_keys
from hub.errors import BadInputError
from hub.services.stock import adjustments, csv_file, effects, push
from tests.integration.inventory_support import (  # noqa: F401
    close_hub,
    database,
    database_url,
    make_hub,
    place_order,
    seed,
    stock_row,
)


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:  # noqa: F811
    h = make_hub(database_url, rules={"low_stock_threshold": 3})
    yield h
    await close_hub(h)


async def _client(hub: Hub, role: str) -> httpx.AsyncClient:
    app = create_app(hub)
    if not any(getattr(r, "path", "") == "/api/v1/inventory" for r in app.routes):
        app.include_router(router)
    async with hub.database().transaction() as session:
        key, _ = await api_keys.create_key(session, name=f"test-{role}", role=role)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub",
                             headers={"Authorization": f"Bearer {key}"})


async def test_inventory_shows_warehouses_reservations_and_each_shops_sync_state(hub: Hub) -> None:
    await seed(hub, "SKU-1", 10)
    await adjustments.adjust_stock(hub, [adjustments.Adjustment("wh1", "SKU-1", delta=2)], actor="t")
    order_id = await place_order(hub, [("SKU-1", 3)])
    await effects.reserve_order(hub, order_id)
    hub.fakes["shop-b"].refuse["SKU-1"] = ("isv.item-not-exist", False)  # type: ignore[attr-defined]
    await push.push_shop(hub, "shop-a")
    await push.push_shop(hub, "shop-b")
    async with await _client(hub, "viewer") as client:
        response = await client.get("/api/v1/inventory/SKU-1")
        listing = await client.get("/api/v1/inventory", params={"limit": 10})
        missing = await client.get("/api/v1/inventory/NOPE")
    assert response.status_code == 200, response.text
    item = response.json()
    assert (item["on_hand"], item["reserved"], item["available"], item["low"]) == ({"wh1": 12}, {"wh1": 3}, 9, False)
    shops = {s["shop"]: s for s in item["shops"]}
    assert shops["shop-a"]["target"] == 9 and shops["shop-a"]["shown"] == 9 and shops["shop-a"]["in_sync"]
    assert shops["shop-a"]["pushed_at"] is not None and shops["shop-a"]["sync_lag_s"] is not None
    assert shops["shop-b"]["shown"] is None and "isv.item-not-exist" in shops["shop-b"]["last_error"]
    assert [i["merchant_sku"] for i in listing.json()["items"]] == ["SKU-1"]
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


async def test_a_partitioned_sku_shows_each_shops_exposure_and_what_is_unallocated(
    database_url: str,  # noqa: F811
) -> None:
    hub = make_hub(database_url, stock_groups={"flash": {"mode": "partitioned", "skus": ["HOT"]}})
    try:
        await seed(hub, "HOT", 11)
        for shop in ("shop-a", "shop-b"):
            await push.push_shop(hub, shop)
        hub.fakes["shop-a"].buyer_orders("HOT", 2)  # type: ignore[attr-defined]
        await effects.reserve_order(hub, await place_order(hub, [("HOT", 2)], shop="shop-a"))
        async with await _client(hub, "viewer") as client:
            item = (await client.get("/api/v1/inventory/HOT")).json()
    finally:
        await close_hub(hub)
    shops = {s["shop"]: s for s in item["shops"]}
    assert item["allocation_mode"] == "partitioned" and item["available"] == 9
    assert (shops["shop-a"]["exposure"], shops["shop-b"]["exposure"]) == (3, 5)
    assert item["unallocated"] == 1 and not shops["shop-b"]["in_sync"] and not shops["shop-a"]["awaiting_answer"]


async def test_low_stock_is_flagged_and_filterable(hub: Hub) -> None:
    await seed(hub, "PLENTY", 50)
    await seed(hub, "SCARCE", 2)
    async with await _client(hub, "viewer") as client:
        low = (await client.get("/api/v1/inventory", params={"low": "true"})).json()
    assert [i["merchant_sku"] for i in low["items"]] == ["SCARCE"] and low["items"][0]["low"] is True


async def test_warehouse_role_adjusts_and_viewer_may_not(hub: Hub) -> None:
    await seed(hub, "SKU-1", 10)
    body = {"adjustments": [{"warehouse": "wh1", "merchant_sku": "SKU-1", "delta": -4, "note": "damaged"}],
            "reference": "ADJ-7"}
    async with await _client(hub, "viewer") as viewer:
        refused = await viewer.post("/api/v1/inventory/adjustments", json=body)
    async with await _client(hub, "warehouse") as warehouse:
        done = await warehouse.post("/api/v1/inventory/adjustments", json=body)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert done.status_code == 201, done.text
    assert done.json()["applied"] == 1 and done.json()["shops_to_push"] == []  # already dirty since listed
    assert await stock_row(hub, "SKU-1") == (6, 0)


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"warehouse": "wh1", "merchant_sku": "SKU-1", "on_hand": -1}, "on_hand"),
        ({"warehouse": "wh1", "merchant_sku": "SKU-1", "delta": 2.5}, "delta"),
        ({"warehouse": "wh9", "merchant_sku": "SKU-1", "delta": 1}, "warehouse"),
        ({"warehouse": "wh1", "merchant_sku": "SKU-9", "delta": 1}, "merchant_sku"),
    ],
)
async def test_bad_adjustment_is_refused_naming_entry_and_field_and_nothing_applies(
    hub: Hub, entry: dict[str, object], field: str
) -> None:
    await seed(hub, "SKU-1", 10)
    body = {"adjustments": [{"warehouse": "wh1", "merchant_sku": "SKU-1", "delta": 5}, entry]}
    async with await _client(hub, "admin") as client:
        response = await client.post("/api/v1/inventory/adjustments", json=body)
    assert response.status_code == 400
    assert response.json()["field"] == field and "adjustments[1]" in response.json()["detail"]
    assert await stock_row(hub, "SKU-1") == (10, 0)


def test_stock_file_with_a_bad_row_names_row_and_field() -> None:
    text = "warehouse,merchant_sku,on_hand\nwh1,SKU-1,5\nwh1,SKU-2,five\nwh1,,3\n"
    with pytest.raises(csv_file.StockImportError) as info:
        csv_file.parse_stock_csv(text)
    assert [str(p) for p in info.value.problems] == [
        "row 3, on_hand: must be a whole number, got 'five'",
        "row 4, merchant_sku: merchant_sku is required",
    ]


async def test_stock_file_with_an_unknown_sku_applies_nothing(hub: Hub, tmp_path: Path) -> None:
    await seed(hub, "SKU-1", 10)
    bad, labels = csv_file.parse_stock_csv("warehouse,merchant_sku,on_hand\nwh1,SKU-1,7\nwh1,SKU-X,1\n")
    with pytest.raises(BadInputError, match="row 3: unknown SKU 'SKU-X'"):
        await adjustments.adjust_stock(hub, bad, actor="cli", labels=labels)
    assert await stock_row(hub, "SKU-1") == (10, 0)
    good, labels = csv_file.parse_stock_csv("warehouse,merchant_sku,on_hand,delta\nwh1,SKU-1,7,\nwh1,SKU-1,,-2\n")
    report = await adjustments.adjust_stock(hub, good, actor="cli", labels=labels)
    assert report.applied == 2 and await stock_row(hub, "SKU-1") == (5, 0)
