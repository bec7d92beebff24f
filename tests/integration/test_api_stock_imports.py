"""Stock files imported over the API, on SQLite and PostgreSQL: a warehouse key uploads a CSV (as the
body or a multipart file) and follows its job to done; a bad file is 422 naming every row and
column and starts nothing; the same file is 409 while it runs and once done (``again=true``
imports it once more); a job stopped by a row continues once its cause is gone; roles, sizes
and content types are refused clearly. The job is the console's (``import_stock_file``): here the
test runs it where a worker would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select, update

from hub.context import Hub
from hub.db.tables import StockImportJobRow, StockRow
from hub.services.stock import adjustments
from hub.services.stock import import_jobs as stock_import
from hub.testing.api import api_client, bearer, new_key
from tests.integration.inventory_support import close_hub, make_hub, seed, stock_row

IMPORTS = "/api/v1/inventory/imports"
CSV = {"Content-Type": "text/csv"}


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:
    h = make_hub(database_url, shops={}, warehouses=("main",), limits={"import_body_bytes": 4096})
    await seed(h, "TEE", 5, warehouse="main", shops=[])
    await seed(h, "MUG", 0, warehouse="main", shops=[])
    yield h
    await close_hub(h)


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(hub) as c:
        yield c


async def _jobs(hub: Hub) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(StockImportJobRow)) or 0)


async def test_a_warehouse_key_imports_a_file_and_follows_its_job_to_done(hub: Hub, client: httpx.AsyncClient) -> None:
    warehouse, viewer = await new_key(hub, "warehouse", "picker"), await new_key(hub, "viewer")
    data = b"warehouse,merchant_sku,on_hand,note\nmain,TEE,40,count\nmain,MUG,12,count\n"

    refused = await client.post(IMPORTS, content=data, headers={**CSV, **bearer(viewer)})
    assert refused.status_code == 403 and "stock.adjust" in refused.json()["detail"]
    assert await _jobs(hub) == 0

    sent = await client.post(IMPORTS, content=data, params={"reference": "INV-7", "filename": "../counts.csv"},
                             headers={**CSV, **bearer(warehouse)})
    assert sent.status_code == 202, sent.text
    job = sent.json()
    assert (job["outcome"], job["state"], job["total_rows"], job["done_rows"]) == ("started", "queued", 2, 0)
    assert (job["filename"], job["reference"], job["kind"]) == ("counts.csv", "INV-7", "absolute")
    assert job["actor"].startswith("apikey:") and job["actor"].endswith(":picker")
    assert sent.headers["location"] == f"{IMPORTS}/{job['id']}"
    assert await stock_row(hub, "TEE", "main") == (5, 0), "nothing applied until the job runs"

    await stock_import.run_import(hub, job["id"])  # what the bulk worker does with the job's message

    progress = await client.get(sent.headers["location"], headers=bearer(viewer))
    listed = await client.get(IMPORTS, params={"limit": 5}, headers=bearer(viewer))
    one_sku = await client.get("/api/v1/inventory/TEE", headers=bearer(viewer))
    assert progress.status_code == 200
    done = progress.json()
    assert (done["state"], done["done_rows"], done["percent"], done["error"]) == ("done", 2, 100, None)
    assert (done["on_hand_delta"], done["skus"], done["finished_at"] is not None) == (47, 2, True)
    assert [j["id"] for j in listed.json()["items"]] == [job["id"]] and listed.json()["next_before"] is None
    assert one_sku.status_code == 200 and one_sku.json()["on_hand"] == {"main": 40}, "SKUs are still SKUs"
    assert (await stock_row(hub, "TEE", "main"), await stock_row(hub, "MUG", "main")) == ((40, 0), (12, 0))


async def test_a_multipart_upload_keeps_its_file_name(hub: Hub, client: httpx.AsyncClient) -> None:
    key = await new_key(hub, "admin")
    sent = await client.post(IMPORTS, files={"file": ("cycle count.csv", b"warehouse,merchant_sku,delta\n"
                                                      b"main,TEE,-2\n", "text/csv")}, headers=bearer(key))
    assert sent.status_code == 202, sent.text
    assert (sent.json()["filename"], sent.json()["reference"], sent.json()["kind"]) == (
        "cycle count.csv", "cycle count.csv", "delta")
    no_part = await client.post(IMPORTS, files={"other": ("x.csv", b"warehouse\n", "text/csv")}, headers=bearer(key))
    assert no_part.status_code == 422 and no_part.json()["field"] == "body.file"


async def test_a_bad_file_is_422_naming_each_row_and_column_and_starts_nothing(
        hub: Hub, client: httpx.AsyncClient) -> None:
    key = await new_key(hub, "warehouse")
    data = (b"warehouse,merchant_sku,on_hand,delta\n"
            b"main,TEE,12,\n"
            b"main,TEE,,-20\n"
            b"moon,TEE,3,\n"
            b"main,NOPE,3,\n")
    refused = await client.post(IMPORTS, content=data, headers={**CSV, **bearer(key)})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["error"] == "invalid_file" and body["detail"]["problems_total"] == 3
    assert [(p["row"], p["field"]) for p in body["detail"]["problems"]] == [
        (3, "delta"), (4, "warehouse"), (5, "merchant_sku")]
    assert "would have -8 on hand" in body["detail"]["problems"][0]["message"]
    assert body["detail"]["summary"].startswith("nothing imported: row 3, delta")

    no_columns = await client.post(IMPORTS, content=b"sku,qty\nTEE,1\n", headers={**CSV, **bearer(key)})
    with_nul = await client.post(IMPORTS, content=b"warehouse,merchant_sku,on_hand\nmain,TE\x00E,1\n",
                                 headers={**CSV, **bearer(key)})
    huge = await client.post(IMPORTS, content=b"warehouse,merchant_sku,on_hand\nmain,TEE,99999999999\n",
                             headers={**CSV, **bearer(key)})
    empty = await client.post(IMPORTS, content=b"", headers={**CSV, **bearer(key)})
    as_json = await client.post(IMPORTS, json={"rows": []}, headers=bearer(key))
    too_big = await client.post(IMPORTS, content=b"warehouse,merchant_sku,on_hand\n" + b"main,TEE,1\n" * 500,
                                headers={**CSV, **bearer(key)})
    assert no_columns.status_code == 422 and no_columns.json()["detail"]["problems"][0]["row"] == 1
    assert with_nul.status_code == 422 and with_nul.json()["detail"]["problems"][0] == {
        "row": 2, "field": "file", "message": "contains a NUL character: is it really a CSV file?"}
    assert huge.status_code == 422 and huge.json()["detail"]["problems"][0]["field"] == "on_hand"
    assert empty.status_code == 422 and empty.json()["field"] == "body"
    assert as_json.status_code == 415 and "text/csv" in as_json.json()["detail"]
    assert too_big.status_code == 413 and "4096 bytes" in too_big.json()["detail"]
    assert await _jobs(hub) == 0 and await stock_row(hub, "TEE", "main") == (5, 0)


async def test_the_same_file_is_409_while_it_runs_and_once_done_unless_asked_again(
        hub: Hub, client: httpx.AsyncClient) -> None:
    key = await new_key(hub, "warehouse")
    data = b"warehouse,merchant_sku,on_hand\nmain,TEE,40\n"
    first = await client.post(IMPORTS, content=data, headers={**CSV, **bearer(key)})
    running = await client.post(IMPORTS, content=data, headers={**CSV, **bearer(key)})
    assert first.status_code == 202 and running.status_code == 409
    assert "being imported now" in running.json()["detail"]
    assert running.headers["location"] == first.headers["location"]

    await stock_import.run_import(hub, first.json()["id"])
    await adjustments.adjust_stock(hub, [adjustments.Adjustment("main", "TEE", delta=-3)], actor="sale")
    done = await client.post(IMPORTS, content=data, headers={**CSV, **bearer(key)})
    assert done.status_code == 409 and "imported before" in done.json()["detail"]
    assert "again=true" in done.json()["detail"]
    assert await stock_row(hub, "TEE", "main") == (37, 0), "the sale since the count stands"

    again = await client.post(IMPORTS, content=data, params={"again": "true"}, headers={**CSV, **bearer(key)})
    assert again.status_code == 202, again.text
    assert (again.json()["attempt"], again.json()["outcome"]) == (1, "started")
    assert again.json()["id"] != first.json()["id"] and await _jobs(hub) == 2


async def test_a_job_stopped_by_a_row_continues_once_the_cause_is_gone(hub: Hub, client: httpx.AsyncClient) -> None:
    key, viewer = await new_key(hub, "warehouse"), await new_key(hub, "viewer")
    data = b"warehouse,merchant_sku,delta\nmain,MUG,4\nmain,TEE,-5\n"
    job_id = (await client.post(IMPORTS, content=data, headers={**CSV, **bearer(key)})).json()["id"]
    async with hub.database().transaction() as session:  # orders reserve TEE after the file was checked
        await session.execute(update(StockRow).where(StockRow.merchant_sku == "TEE").values(reserved=2))
    await stock_import.run_import(hub, job_id)
    stopped = (await client.get(f"{IMPORTS}/{job_id}", headers=bearer(viewer))).json()
    assert (stopped["state"], stopped["error_row"]) == ("failed", 3) and "row 3, delta" in stopped["error"]

    not_yet = await client.post(f"{IMPORTS}/{job_id}/resume", headers=bearer(key))
    by_viewer = await client.post(f"{IMPORTS}/{job_id}/resume", headers=bearer(viewer))
    assert not_yet.status_code == 422 and not_yet.json()["detail"]["problems"][0]["row"] == 3
    assert by_viewer.status_code == 403
    async with hub.database().transaction() as session:
        await session.execute(update(StockRow).where(StockRow.merchant_sku == "TEE").values(reserved=0))
    resumed = await client.post(IMPORTS, content=data, headers={**CSV, **bearer(key)})  # the same file again
    assert resumed.status_code == 202 and (resumed.json()["outcome"], resumed.json()["id"]) == ("resumed", job_id)
    await stock_import.run_import(hub, job_id)
    assert (await client.get(f"{IMPORTS}/{job_id}", headers=bearer(viewer))).json()["state"] == "done"
    assert (await stock_row(hub, "MUG", "main"), await stock_row(hub, "TEE", "main")) == ((4, 0), (0, 0))


async def test_unknown_imports_are_404_and_bad_ids_422(hub: Hub, client: httpx.AsyncClient) -> None:
    key = await new_key(hub, "viewer")
    assert (await client.get(f"{IMPORTS}/424242", headers=bearer(key))).status_code == 404
    assert (await client.get(f"{IMPORTS}/0", headers=bearer(key))).status_code == 422
    assert (await client.get(IMPORTS, params={"limit": 0}, headers=bearer(key))).status_code == 422
    assert (await client.post(f"{IMPORTS}/424242/resume", headers=bearer(await new_key(hub, "admin")))
            ).status_code == 404
    assert (await client.get(IMPORTS)).status_code == 401
