"""The test fixtures' cap on PostgreSQL connections: the server is shared, so the hub's test
plugin counts every pooled connection this process holds and fails a test that held too many."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from hub.db.engine import Database
from hub.testing import db as testing_db


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_every_pooled_postgres_connection_counts_until_it_is_closed(database_url: str) -> None:
    counter = testing_db._postgres_connections
    before = counter.open_now()
    db = Database.connect(database_url, pool_size=2)
    release, all_holding = asyncio.Event(), asyncio.Event()
    holding = 0

    async def hold_a_connection() -> None:
        nonlocal holding
        async with db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            holding += 1
            if holding == 3:
                all_holding.set()
            await release.wait()

    tasks = [asyncio.create_task(hold_a_connection()) for _ in range(3)]
    await all_holding.wait()  # three connections checked out at once, whatever the machine's speed
    assert counter.open_now() == before + 3
    assert counter.peak >= 3
    release.set()
    await asyncio.gather(*tasks)
    await db.dispose()
    assert counter.open_now() == before

