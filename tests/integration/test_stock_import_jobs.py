"""Stock files imported as jobs, and adjustments made once, on SQLite and PostgreSQL: a file of
thousands of rows applied in batches whose progress can be watched; a job stopped half-way by a
bad row continues from that row once the cause is gone, never applying a row twice; the same file
uploaded again is never applied again unless asked."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, insert, select, update

from hub.context import Hub
from hub.db.tables import OutboxRow, SkuRow, StockImportJobRow, StockLedgerRow, StockRow
from hub.services.stock import adjustments, import_jobs
from hub.services.stock.csv_file import StockImportError
from hub.services.stock.import_jobs import Outcome
from tests.integration.inventory_support import close_hub, make_hub, seed, stock_row


@pytest.fixture
async def hub(database_url: str) -> AsyncIterator[Hub]:
    h = make_hub(database_url, shops={}, warehouses=("main", "east"))
    yield h
    await close_hub(h)


def _csv(rows: list[dict[str, object]], columns: tuple[str, ...]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


async def _catalogue(hub: Hub, count: int) -> list[str]:
    skus = [f"SKU-{i:05d}" for i in range(count)]
    async with hub.database().transaction() as session:
        await session.execute(insert(SkuRow), [{"merchant_sku": s, "name": s} for s in skus])
    return skus


async def _ledger_rows(hub: Hub) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.count()).select_from(StockLedgerRow)) or 0)


async def _on_hand_total(hub: Hub) -> int:
    async with hub.database().session() as session:
        return int(await session.scalar(select(func.coalesce(func.sum(StockRow.on_hand), 0))) or 0)


async def test_a_file_of_three_thousand_rows_applies_in_batches_with_progress(hub: Hub) -> None:
    skus = await _catalogue(hub, 1500)
    rows = [{"warehouse": wh, "merchant_sku": sku, "on_hand": 1 + i % 7, "note": "count"}
            for i, sku in enumerate(skus) for wh in ("main", "east")]
    received = await import_jobs.receive_file(hub, _csv(rows, ("warehouse", "merchant_sku", "on_hand", "note")),
                                              filename="count.csv", reference="INV-1", actor="user:li",
                                              batch_size=500)
    assert received.outcome is Outcome.STARTED
    assert (received.job.state, received.job.total_rows, received.job.done_rows) == ("queued", 3000, 0)
    async with hub.database().session() as session:  # the job starts after commit, through the outbox
        assert await session.scalar(select(func.count()).select_from(OutboxRow).where(
            OutboxRow.actor == import_jobs.IMPORT_ACTOR)) == 1

    seen: list[int] = []
    job = await import_jobs.run_import(hub, received.job.id, on_batch=seen.append)

    assert seen == [500, 1000, 1500, 2000, 2500, 3000]
    assert job is not None and job.state == "done" and job.done_rows == 3000 and job.skus == 1500
    expected = sum(int(r["on_hand"]) for r in rows)  # type: ignore[call-overload]
    assert job.on_hand_delta == expected == await _on_hand_total(hub)
    assert await stock_row(hub, "SKU-00003", "east") == (4, 0)
    assert await _ledger_rows(hub) == 3000
    async with hub.database().session() as session:
        causes = set((await session.execute(select(StockLedgerRow.cause, StockLedgerRow.reference,
                                                   StockLedgerRow.actor))).all())
    assert causes == {("import", "INV-1", "user:li")}
    assert await import_jobs.run_import(hub, received.job.id) == job  # a second run of the job does nothing


async def test_a_bad_file_names_every_bad_row_and_starts_nothing(hub: Hub) -> None:
    await seed(hub, "TEE", 5, warehouse="main", shops=[])
    await seed(hub, "BOX", 0, warehouse="main", shops=[], components={"TEE": 2})
    data = (b"warehouse,merchant_sku,on_hand,delta\n"
            b"main,TEE,12,\n"
            b"main,TEE,,1.5\n"
            b"moon,TEE,3,\n"
            b"main,NOPE,3,\n"
            b"main,BOX,1,\n")
    with pytest.raises(StockImportError) as parse_refusal:
        await import_jobs.receive_file(hub, data, filename="bad.csv", reference=None, actor="t")
    assert [(p.row, p.field) for p in parse_refusal.value.problems] == [(3, "delta")]  # the parser's own check

    fixed = data.replace(b"main,TEE,,1.5\n", b"main,TEE,,-20\n")
    with pytest.raises(StockImportError) as refusal:
        await import_jobs.receive_file(hub, fixed, filename="bad.csv", reference=None, actor="t")
    assert [(p.row, p.field) for p in refusal.value.problems] == [
        (3, "delta"), (4, "warehouse"), (5, "merchant_sku"), (6, "merchant_sku")]
    assert str(refusal.value.problems[0]) == (
        "row 3, delta: 'TEE' in 'main' would have -8 on hand, below 0 (on hand then 12)")
    async with hub.database().session() as session:
        assert await session.scalar(select(func.count()).select_from(StockImportJobRow)) == 0
    assert await stock_row(hub, "TEE", "main") == (5, 0)


async def test_a_job_stopped_by_a_row_continues_from_it_and_applies_every_row_once(hub: Hub) -> None:
    skus = await _catalogue(hub, 300)
    await adjustments.adjust_stock(hub, [adjustments.Adjustment("main", s, on_hand=10) for s in skus], actor="seed")
    rows = [{"warehouse": "main", "merchant_sku": s, "delta": -1 if i == 650 % 300 else 2}
            for i, s in enumerate(skus)] * 3  # each SKU three times: 900 rows
    data = _csv(rows, ("warehouse", "merchant_sku", "delta"))
    received = await import_jobs.receive_file(hub, data, filename="moves.csv", reference=None, actor="t",
                                              batch_size=250)
    assert received.job.kind == "delta"
    # Orders take stock after the file was checked: row 652 (the SKU's third -1) cannot be applied.
    blocked = skus[650 % 300]
    async with hub.database().transaction() as session:
        await session.execute(update(StockRow).where(StockRow.merchant_sku == blocked).values(reserved=8))
    stopped = await import_jobs.run_import(hub, received.job.id)
    assert stopped is not None and stopped.state == "failed"
    assert stopped.done_rows == 500 and stopped.error_row == 652 and "row 652, delta" in (stopped.error or "")
    assert await stock_row(hub, blocked, "main") == (8, 8)  # two of its three -1 applied, the third not

    # Uploading it again continues the job, once the rest of the file passes the checks: not yet.
    with pytest.raises(StockImportError) as still:
        await import_jobs.receive_file(hub, data, filename="moves.csv", reference=None, actor="t")
    assert [p.row for p in still.value.problems] == [652]
    with pytest.raises(StockImportError):
        await import_jobs.resume(hub, received.job.id, actor="t")
    assert (await import_jobs.get_job(hub, received.job.id)).state == "failed"  # type: ignore[union-attr]

    async with hub.database().transaction() as session:
        await session.execute(update(StockRow).where(StockRow.merchant_sku == blocked).values(reserved=0))
    resumed = await import_jobs.receive_file(hub, data, filename="moves.csv", reference=None, actor="t")
    assert resumed.outcome is Outcome.RESUMED and resumed.job.id == received.job.id
    done = await import_jobs.run_import(hub, received.job.id)
    assert done is not None and done.state == "done" and done.done_rows == 900 and done.error is None
    assert await stock_row(hub, blocked, "main") == (7, 0)
    assert await stock_row(hub, skus[0], "main") == (16, 0)
    assert await _on_hand_total(hub) == 300 * 10 + 299 * 6 - 3


async def test_the_same_count_file_uploaded_again_is_not_applied_again(hub: Hub) -> None:
    await seed(hub, "TEE", 0, warehouse="main", shops=[])
    data = b"warehouse,merchant_sku,on_hand\nmain,TEE,40\n"
    first = await import_jobs.receive_file(hub, data, filename="count.csv", reference=None, actor="t")
    await import_jobs.run_import(hub, first.job.id)
    await adjustments.adjust_stock(hub, [adjustments.Adjustment("main", "TEE", delta=-3)], actor="sale")
    ledger = await _ledger_rows(hub)

    repeat = await import_jobs.receive_file(hub, data, filename="count-copy.csv", reference=None, actor="t")

    assert repeat.outcome is Outcome.ALREADY_DONE and repeat.job.id == first.job.id
    assert await stock_row(hub, "TEE", "main") == (37, 0)  # the sale since the count stands
    assert await _ledger_rows(hub) == ledger
    asked = await import_jobs.receive_file(hub, data, filename="count.csv", reference=None, actor="t", again=True)
    assert asked.outcome is Outcome.STARTED and asked.job.attempt == 1
    await import_jobs.run_import(hub, asked.job.id)
    assert await stock_row(hub, "TEE", "main") == (40, 0)
