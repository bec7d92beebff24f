"""Adjustments made once, on SQLite and PostgreSQL: sent twice with one idempotency key (a
console form sent twice, an API client retrying) they apply once, and a refused one leaves its
key free; a SKU's movements read back newest first."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from hub.api import create_app
from hub.context import Hub
from hub.db import api_keys
from hub.errors import BadInputError
from hub.services.stock import adjustments
from tests.integration.inventory_support import close_hub, make_hub, seed, stock_row


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:
    h = make_hub(database_url, shops={}, warehouses=("main",))
    yield h
    await close_hub(h)


async def test_an_adjustment_with_an_idempotency_key_applies_once(hub: Hub) -> None:
    await seed(hub, "TEE", 10, warehouse="main", shops=[])
    with pytest.raises(BadInputError):  # refused (below reserved is impossible: -20 < 0): the key stays free
        await adjustments.adjust_stock(hub, [adjustments.Adjustment("main", "TEE", delta=-20)], actor="t",
                                       idempotency_key="form-1")
    first = await adjustments.adjust_stock(hub, [adjustments.Adjustment("main", "TEE", delta=5)], actor="t",
                                           idempotency_key="form-1")
    second = await adjustments.adjust_stock(hub, [adjustments.Adjustment("main", "TEE", delta=5)], actor="t",
                                            idempotency_key="form-1")
    assert (first.repeated, second.repeated) == (False, True)
    assert (second.applied, second.on_hand_delta, second.skus) == (1, 5, {"TEE"})
    assert await stock_row(hub, "TEE", "main") == (15, 0)


async def _client(hub: Hub, role: str) -> httpx.AsyncClient:
    async with hub.database().transaction() as session:
        key, _ = await api_keys.create_key(session, name=f"test-{role}", role=role)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hub)), base_url="http://hub",
                             headers={"Authorization": f"Bearer {key}"})


async def test_the_api_applies_a_retried_adjustment_once_and_lists_movements(hub: Hub) -> None:
    await seed(hub, "TEE", 10, warehouse="main", shops=[])
    body = {"adjustments": [{"warehouse": "main", "merchant_sku": "TEE", "delta": 4, "note": "found a box"}]}
    async with await _client(hub, "warehouse") as client:
        first = await client.post("/api/v1/inventory/adjustments", json=body, headers={"Idempotency-Key": "k-1"})
        retry = await client.post("/api/v1/inventory/adjustments", json=body, headers={"Idempotency-Key": "k-1"})
        other = await client.post("/api/v1/inventory/adjustments", json=body)
        movements = await client.get("/api/v1/inventory/TEE/movements", params={"limit": 2})
        older = await client.get("/api/v1/inventory/TEE/movements",
                                 params={"before": movements.json()["next_before"]})
        missing = await client.get("/api/v1/inventory/NOPE/movements")
    assert first.status_code == 201 and first.json()["repeated"] is False
    assert retry.status_code == 200 and retry.json() == {**first.json(), "repeated": True}
    assert other.status_code == 201
    assert await stock_row(hub, "TEE", "main") == (18, 0)
    assert movements.status_code == 200
    page = movements.json()["movements"]
    assert [(m["on_hand_delta"], m["note"]) for m in page] == [(4, "found a box"), (4, "found a box")]
    assert page[0]["actor"].startswith("apikey:") and page[0]["id"] > page[1]["id"]
    assert [m["on_hand_delta"] for m in older.json()["movements"]] == [10]
    assert missing.status_code == 404
