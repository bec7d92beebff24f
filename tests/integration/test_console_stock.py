"""The console's stock screen through the app in-process: the list reads
what the API reads; a SKU's page shows each shop's target, shown value, lag and last error; the
adjust form changes stock for the roles that may, once per form, and gives bad values back named
with nothing changed; a stock file is checked whole, imported as a job whose progress the page
reads, and never applied twice by uploading it again.
On SQLite only: the stock services it calls are tested on both databases."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hub.context import Hub
from hub.db.tables import StockImportJobRow, StockLedgerRow
from hub.services.stock import import_jobs, push
from tests.integration.inventory_support import close_hub, make_hub, seed, stock_row
from tests.integration.test_api_support import bearer, new_key
from tests.integration.test_console_auth import _csrf, _sign_in_with_key

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:
    h = make_hub(database_url, warehouses=("main", "east"))
    yield h
    await close_hub(h)


async def _signed_in(hub: Hub, role: str) -> httpx.AsyncClient:
    """A browser-like client (it keeps cookies) signed in with a new key of ``role``."""
    from hub.api import create_app

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(hub)), base_url="http://hub.test")
    await _sign_in_with_key(client, await new_key(hub, role))
    return client


async def _ledger(hub: Hub) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(StockLedgerRow)) or 0)


def _cell(page: str, testid: str, scope: str | None = None) -> str:
    text = page
    if scope is not None:
        found = re.search(rf'data-testid="{scope}".*?</tr>', page, re.S)
        assert found, f"no {scope} on the page"
        text = found.group(0)
    cell = re.search(rf'data-testid="{testid}"[^>]*>(?:<strong>)?([^<]*)', text)
    assert cell, f"no {testid} in {scope or 'the page'}"
    return cell.group(1).strip()


async def _adjust(client: httpx.AsyncClient, sku: str, **fields: str) -> httpx.Response:
    page = await client.get(f"/console/stock/{sku}")
    key = re.search(r'name="form_key" value="([^"]+)"', page.text)
    assert key, "the page has no adjust form"
    data = {"csrf_token": _csrf(page.text), "form_key": key.group(1), "warehouse": "main", "mode": "set",
            "quantity": "", "note": "", **fields}
    return await client.post(f"/console/stock/{sku}/adjust", data=data)


async def test_the_list_reads_what_the_api_reads_and_searches_by_prefix(hub: Hub) -> None:
    await seed(hub, "TEE-M", 12, warehouse="main")
    await seed(hub, "TEE-L", 3, warehouse="east", low_stock_threshold=5)
    await seed(hub, "MUG", 7, warehouse="main")
    key = await new_key(hub, "viewer", name="api-viewer")
    client = await _signed_in(hub, "viewer")
    try:
        page = await client.get("/console/stock", params={"prefix": "TEE"})
        low = await client.get("/console/stock", params={"low": "1"})
        api = await client.get("/api/v1/inventory", params={"prefix": "TEE"}, headers=bearer(key))
        too_long = await client.get("/console/stock", params={"prefix": "X" * 201})
        chinese = await client.get("/console/stock/TEE-M", headers={"Accept-Language": "zh-CN"})
    finally:
        await client.aclose()
    assert page.status_code == 200
    for item in api.json()["items"]:
        row = re.search(rf'data-testid="stock-row-{item["merchant_sku"]}".*?</tr>', page.text, re.S)
        assert row, item["merchant_sku"]
        assert _cell(row.group(0), "available") == str(item["available"])
    assert "TEE-M" in page.text and 'stock-row-MUG"' not in page.text
    assert "On hand · east" in page.text and "On hand · main" in page.text
    assert 'stock-row-TEE-L"' in low.text and 'stock-row-TEE-M"' not in low.text
    assert too_long.status_code == 422 and 'data-testid="problem-prefix"' in too_long.text
    assert "TEE-M 的库存" in chinese.text and "各仓库" in chinese.text and "共享" in chinese.text


async def test_a_skus_page_shows_each_shops_target_shown_lag_and_last_error(hub: Hub) -> None:
    await seed(hub, "TEE", 10, warehouse="main")
    hub.fakes["shop-b"].refuse["TEE"] = ("isv.item-not-exist", False)  # type: ignore[attr-defined]
    await push.push_shop(hub, "shop-a")
    await push.push_shop(hub, "shop-b")
    client = await _signed_in(hub, "viewer")
    try:
        page = await client.get("/console/stock/TEE")
        live = await client.get("/console/stock/TEE", params={"part": "live"})
        missing = await client.get("/console/stock/NOPE")
    finally:
        await client.aclose()
    assert page.status_code == 200
    assert (_cell(page.text, "target", "shop-shop-a"), _cell(page.text, "shown", "shop-shop-a")) == ("10", "10")
    assert 'data-testid="in-sync"' in re.search(r'data-testid="shop-shop-a".*?</tr>', page.text, re.S).group(0)  # type: ignore[union-attr]
    assert "isv.item-not-exist for TEE" in page.text  # shop-b's refusal, as the shop said it
    assert "Adjust stock" in page.text and 'data-testid="read-only"' in page.text  # a viewer gets no form
    assert 'name="form_key"' not in page.text
    assert live.text.lstrip().startswith('<div id="sku-live"') and "<html" not in live.text
    assert 'hx-trigger="every 2s"' in live.text
    assert missing.status_code == 404


async def test_the_warehouse_role_adjusts_and_the_shops_targets_follow(hub: Hub) -> None:
    await seed(hub, "TEE", 10, warehouse="main")
    await push.push_shop(hub, "shop-a")
    client = await _signed_in(hub, "warehouse")
    try:
        done = await _adjust(client, "TEE", quantity="25", note="stocktake")
        after = await client.get(done.headers["location"])
        await push.push_shop(hub, "shop-a")
        live = await client.get("/console/stock/TEE", params={"part": "live"})
    finally:
        await client.aclose()
    assert done.status_code == 303 and done.headers["location"] == "/console/stock/TEE?adjusted=%2B15"
    assert await stock_row(hub, "TEE", "main") == (25, 0)
    assert _cell(after.text, "on-hand") == "25" and 'data-testid="adjusted"' in after.text
    assert _cell(after.text, "target", "shop-shop-a") == "25"
    assert _cell(after.text, "shown", "shop-shop-a") == "10"  # the push is still to come
    assert "stocktake" in after.text and "test-warehouse" in after.text  # the movement, who and why
    assert _cell(live.text, "shown", "shop-shop-a") == "25"


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"quantity": "12.5"}, "quantity", "Enter a whole number"),
    ({"quantity": ""}, "quantity", "Required."),
    ({"mode": "delta", "quantity": "0"}, "quantity", "A change of 0"),
    ({"mode": "set", "quantity": "-3"}, "quantity", "cannot be set below 0"),
    ({"mode": "delta", "quantity": "-11"}, "quantity", "less on hand than orders have reserved"),
    ({"warehouse": "moon", "quantity": "5"}, "warehouse", "Unknown warehouse moon"),
    ({"mode": "both", "quantity": "5"}, "mode", "Choose set-to or ±."),
])
async def test_bad_values_give_the_form_again_with_the_field_named_and_change_nothing(
    hub: Hub, fields: dict[str, str], field: str, message: str
) -> None:
    await seed(hub, "TEE", 10, warehouse="main")
    ledger = await _ledger(hub)
    client = await _signed_in(hub, "admin")
    try:
        response = await _adjust(client, "TEE", note="why not", **fields)
    finally:
        await client.aclose()
    assert response.status_code == 422
    problem = re.search(rf'data-testid="problem-{field}">([^<]*)<', response.text)
    assert problem and message in problem.group(1)
    assert 'value="why not"' in response.text  # what was typed is kept
    if fields.get("quantity"):
        assert f'value="{fields["quantity"]}"' in response.text
    assert await stock_row(hub, "TEE", "main") == (10, 0) and await _ledger(hub) == ledger


async def test_refusals_change_nothing_and_a_form_sent_twice_adjusts_once(hub: Hub) -> None:
    await seed(hub, "TEE", 10, warehouse="main")
    viewer = await _signed_in(hub, "viewer")
    worker = await _signed_in(hub, "warehouse")
    try:
        page = await viewer.get("/console/stock/TEE")
        forbidden = await viewer.post("/console/stock/TEE/adjust", data={
            "csrf_token": _csrf(page.text), "warehouse": "main", "mode": "delta", "quantity": "5"})
        mine = await worker.get("/console/stock/TEE")
        stale = await worker.post("/console/stock/TEE/adjust", data={
            "csrf_token": "not-the-token", "warehouse": "main", "mode": "delta", "quantity": "5"})
        form: dict[str, Any] = {"csrf_token": _csrf(mine.text), "warehouse": "main", "mode": "delta",
                                "quantity": "5", "form_key": re.search(r'name="form_key" value="([^"]+)"',
                                                                       mine.text).group(1)}  # type: ignore[union-attr]
        first = await worker.post("/console/stock/TEE/adjust", data=form)
        second = await worker.post("/console/stock/TEE/adjust", data=form)
        shown = await worker.get(second.headers["location"])
    finally:
        await viewer.aclose()
        await worker.aclose()
    assert forbidden.status_code == 403 and "stock.adjust" in forbidden.text
    assert stale.status_code == 403 and "Nothing was changed" in stale.text
    assert first.status_code == second.status_code == 303
    assert "repeated=1" in second.headers["location"] and "applied once" in shown.text
    assert await stock_row(hub, "TEE", "main") == (15, 0)


async def test_a_stock_file_is_checked_whole_imported_with_progress_and_not_applied_twice(hub: Hub) -> None:
    await seed(hub, "TEE", 10, warehouse="main", shops=[])
    await seed(hub, "MUG", 0, warehouse="main", shops=[])
    good = b"warehouse,merchant_sku,on_hand,note\nmain,TEE,40,count\neast,MUG,6,count\n"
    bad = b"warehouse,merchant_sku,on_hand\nmain,TEE,40\nmain,MUG,six\nmoon,MUG,1\n"
    viewer = await _signed_in(hub, "viewer")
    client = await _signed_in(hub, "warehouse")
    try:
        view_only = await viewer.get("/console/stock/imports")
        form = await client.get("/console/stock/imports")
        token = _csrf(form.text)
        refused = await viewer.post("/console/stock/imports", data={"csrf_token": _csrf(view_only.text)},
                                    files={"file": ("count.csv", good, "text/csv")})
        no_file = await client.post("/console/stock/imports", data={"csrf_token": token})
        bad_file = await client.post("/console/stock/imports", data={"csrf_token": token},
                                     files={"file": ("bad.csv", bad, "text/csv")})
        mixed = bad.replace(b"six", b"6")
        unknown = await client.post("/console/stock/imports", data={"csrf_token": token},
                                    files={"file": ("bad.csv", mixed, "text/csv")})
        started = await client.post("/console/stock/imports", data={"csrf_token": token, "reference": "INV-7"},
                                    files={"file": ("count.csv", good, "text/csv")})
        job_url = started.headers["location"].split("?")[0]
        waiting = await client.get(started.headers["location"])
        job_id = int(job_url.rsplit("/", 1)[1])
        await import_jobs.run_import(hub, job_id)
        progress = await client.get(f"{job_url}/progress")
        again = await client.post("/console/stock/imports", data={"csrf_token": token},
                                  files={"file": ("count-again.csv", good, "text/csv")})
        listing = await client.get("/console/stock/imports")
    finally:
        await viewer.aclose()
        await client.aclose()
    assert 'data-testid="import-form"' not in view_only.text and refused.status_code == 403
    assert no_file.status_code == 422 and 'data-testid="problem-file"' in no_file.text
    assert bad_file.status_code == 422 and "Row 3, column on_hand: must be a whole number" in bad_file.text
    assert unknown.status_code == 422 and "Row 4, column warehouse: unknown warehouse &#39;moon&#39;" in unknown.text
    assert started.status_code == 303 and started.headers["location"].endswith("?outcome=started")
    assert 'hx-trigger="every 1s"' in waiting.text and "0 of 2 rows" in waiting.text
    assert "counts (set-to)" in waiting.text and "INV-7" in waiting.text
    assert 'data-state="done"' in progress.text and "2 of 2 rows" in progress.text
    assert 'data-testid="import-summary"' in progress.text and "hx-trigger" not in progress.text
    assert await stock_row(hub, "TEE", "main") == (40, 0) and await stock_row(hub, "MUG", "east") == (6, 0)
    assert again.status_code == 409 and 'data-testid="already-imported"' in again.text
    assert 'name="again"' in again.text
    async with hub.database().session() as session:
        assert await session.scalar(select(func.count()).select_from(StockImportJobRow)) == 1
    assert "count.csv" in listing.text and "done" in listing.text
