"""The listing sync against the four real sandbox shops (Taobao, Tmall, Douyin, AliExpress) over
HTTP, through the hub's API: a listing whose merchant code is a catalogue SKU is bound and its
stock pushed before any sale, listings without a code or with an unknown one are reported (in the
sync's answer and in ``/api/v1/listings/unmatched``), a listing bound by hand is left alone, and a
first order for a bound listing finds its binding (nothing to learn). SQLite + in-process queue
and PostgreSQL + the real Redis."""

from __future__ import annotations

import secrets

import pytest

from hub.services.stock import channel_listings
from tests.e2e.hub_e2e_support import (
    Backend,
    Served,
    backend,
    close_test_loop,
    e2e_config,
    e2e_hub,
    eventually,
    hub_api,
    list_in_sandbox,
    served_sandboxes,
    stock_a_sku,
)

__all__ = ["backend"]
pytestmark = pytest.mark.e2e

PLATFORMS = ["taobao", "tmall", "douyin", "aliexpress"]


def _list_without_code(served: Served) -> None:
    list_in_sandbox(served, "", 5)


async def test_sync_binds_by_merchant_code_pushes_stock_and_reports_unmatched(backend: Backend) -> None:
    sku, stranger, kept = (f"LS-{secrets.token_hex(3)}" for _ in range(3))
    with served_sandboxes(PLATFORMS) as served, e2e_hub(e2e_config(backend, served)) as hub:
        try:
            await stock_a_sku(hub, sku, 9)
            await stock_a_sku(hub, kept, 4)
            ids = {p: list_in_sandbox(s, sku, 0) for p, s in served.items()}
            for s in served.values():
                list_in_sandbox(s, stranger, 3)  # a code the catalogue does not know
                _list_without_code(s)
            async with hub_api(hub) as (client, _):
                # Taobao's listing of ``sku`` was bound by hand to another SKU: the sync leaves it.
                taobao_item, taobao_sku = ids["taobao"]
                manual = await client.post("/api/v1/listings", json={
                    "shop": served["taobao"].shop, "merchant_sku": kept, "channel_item_id": taobao_item,
                    "channel_sku_id": taobao_sku})
                assert manual.status_code == 201, manual.text
                reports = {}
                for platform, item in served.items():
                    response = await client.post(f"/api/v1/shops/{item.shop}/listings/sync")
                    assert response.status_code == 200, response.text
                    reports[platform] = response.json()
                unmatched = (await client.get("/api/v1/listings/unmatched", params={"limit": 100})).json()["items"]
                bindings = (await client.get("/api/v1/listings", params={"merchant_sku": sku})).json()["items"]

            for platform, report in reports.items():
                why = sorted((u["outcome"], u["merchant_code"] or "") for u in report["unmatched"])
                assert why == [("no_code", ""), ("unknown_code", stranger)], (platform, report)
                if platform == "taobao":
                    assert (report["bound"], report["kept_manual"]) == (0, 1), report
                else:
                    assert (report["bound"], report["kept_manual"]) == (1, 0), (platform, report)
            assert len(unmatched) == 2 * len(PLATFORMS)
            assert sorted(b["shop"] for b in bindings) == sorted(served[p].shop for p in PLATFORMS if p != "taobao")
            assert all(b["source"] == "sync" for b in bindings)

            # Bound before the first sale: the hub pushes what it has, the shops show it.
            async def pushed() -> bool:
                return all(served[p].sandbox.shown_stock(served[p].shop, sku) == 9
                           for p in PLATFORMS if p != "taobao")

            assert await eventually(pushed, timeout_s=20.0)

            # A first order for a bound listing names the binding the sync made: nothing to learn.
            for platform in ("tmall", "douyin", "aliexpress"):
                item = served[platform]
                connector = hub.accounts().channel(item.shop)
                order = await connector.get_order(item.sandbox.create_order(item.shop, sku, 1))
                line = next(line for line in order.lines if line.merchant_sku == sku)
                async with hub.database().session() as session:
                    found = await channel_listings.find_listing(session, item.shop, line.merchant_sku,
                                                                line.channel_item_id, line.channel_sku_id)
                bound_id = next(b["id"] for b in bindings if b["shop"] == item.shop)
                assert found == bound_id, platform
        finally:
            await close_test_loop(hub)
