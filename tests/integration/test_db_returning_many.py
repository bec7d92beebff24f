"""Multi-row inserts with RETURNING go in power-of-two chunks (``hub.db.returning``), on SQLite
and the real PostgreSQL.

What an operator would notice: a worker's memory no longer grows with every new batch size. Each
distinct row count of an ``INSERT … RETURNING`` used to be its own statement text, prepared and
kept by the driver on every pooled connection; batches of 1 to 40 orders now leave at most six
shapes of the orders insert (1, 2, 4, 8, 16, 32 rows), and every order of every batch is stored.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from hub.db.returning import power_of_two_chunks
from hub.db.tables import OrderRow
from hub.services.orders import OrderReport, apply_orders
from hub.testing.factories import make_order


@pytest.mark.parametrize(("rows", "largest", "sizes"), [
    (0, 512, []),
    (1, 512, [1]),
    (3, 512, [2, 1]),
    (512, 512, [512]),
    (1000, 512, [512, 256, 128, 64, 32, 8]),
    (1023, 512, [512, 256, 128, 64, 32, 16, 8, 4, 2, 1]),
    (1300, 512, [512, 512, 256, 16, 4]),
    (7, 4, [4, 2, 1]),
])
def test_rows_are_cut_into_consecutive_power_of_two_chunks(rows: int, largest: int, sizes: list[int]) -> None:
    chunks = power_of_two_chunks(list(range(rows)), largest)
    assert [len(chunk) for chunk in chunks] == sizes
    assert [row for chunk in chunks for row in chunk] == list(range(rows)), "every row once, in order"


def test_the_largest_chunk_must_be_a_power_of_two() -> None:
    with pytest.raises(ValueError, match="power of two"):
        power_of_two_chunks([1, 2, 3], largest=6)


async def test_batches_of_every_size_store_every_order_in_a_few_statement_shapes(database) -> None:
    stored = 0
    async with database.transaction() as session:
        for size in range(1, 41):
            reports = [OrderReport(make_order(shop="returning-shop"), "message_channel") for _ in range(size)]
            results = await apply_orders(session, reports)
            assert len(results) == size and len({r.order_id for r in results}) == size
            stored += size
        count = await session.scalar(select(func.count()).select_from(OrderRow)
                                     .where(OrderRow.shop == "returning-shop"))
        assert count == stored == 820
        if database.dialect == "postgresql":
            # The statements this connection's driver prepared and keeps (the server's own view).
            shapes = await session.scalar(text(
                "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO orders %'"))
            assert 1 <= shapes <= 6, f"{shapes} shapes of the orders insert kept for batches of 1..40"
