"""The engine layer on SQLite and the real PostgreSQL: one Database per event loop, transactions
that commit or roll back as a whole, timezone-aware timestamps, a readiness ping."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select, text

from hub.db.engine import Database, database_for_loop, dispose_all_for_loop
from hub.db.tables import DeadLetterRow, Shop, utcnow


async def test_same_loop_gets_the_same_database(database_url: str) -> None:
    first = database_for_loop(database_url)
    try:
        assert database_for_loop(database_url) is first
        assert first.dialect in ("sqlite", "postgresql")
    finally:
        await dispose_all_for_loop()


async def test_each_loop_gets_its_own_database_and_both_work(database_url: str) -> None:
    mine = database_for_loop(database_url)
    theirs: dict[str, Any] = {}

    def other_thread() -> None:
        async def main() -> None:
            db = database_for_loop(database_url)
            theirs["db"] = db
            theirs["ping"] = await db.ping()
            theirs["same_twice"] = database_for_loop(database_url) is db
            await dispose_all_for_loop()

        asyncio.run(main())

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(30)
    try:
        assert theirs["db"] is not mine
        assert theirs["ping"] is True and theirs["same_twice"] is True
        assert await mine.ping() is True  # this loop's engine still works after the other one closed
    finally:
        await dispose_all_for_loop()


async def test_dispose_all_for_loop_forgets_the_loops_databases(database_url: str) -> None:
    first = database_for_loop(database_url)
    await dispose_all_for_loop()
    second = database_for_loop(database_url)
    try:
        assert second is not first
    finally:
        await dispose_all_for_loop()


async def test_transaction_commits_on_success_and_rolls_back_on_error(database: Database) -> None:
    async with database.transaction() as session:
        session.add(Shop(name="kept", platform="taobao"))
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            session.add(Shop(name="lost", platform="taobao"))
            await session.flush()
            raise RuntimeError("boom")
    async with database.session() as session:
        names = (await session.execute(select(Shop.name))).scalars().all()
    assert names == ["kept"]


async def test_concurrent_read_then_write_transactions_do_not_lose_updates(database: Database) -> None:
    """Twenty writers each read a counter and write it back +1: all twenty increments survive.

    On SQLite ``transaction()`` takes the write lock up front; on PostgreSQL the row lock does it.
    """
    async with database.transaction() as session:
        session.add(DeadLetterRow(actor="counter", queue="q", reason="", error_class="", attempts=0))

    async def increment() -> None:
        async with database.transaction() as session:
            stmt = select(DeadLetterRow).where(DeadLetterRow.actor == "counter")
            if database.dialect == "postgresql":
                stmt = stmt.with_for_update()
            row = (await session.execute(stmt)).scalar_one()
            await asyncio.sleep(0.001)
            row.attempts = row.attempts + 1

    await asyncio.gather(*(increment() for _ in range(20)))
    async with database.session() as session:
        assert await session.scalar(select(DeadLetterRow.attempts)) == 20


async def test_timestamps_come_back_timezone_aware_in_utc(database: Database) -> None:
    shanghai = timezone(timedelta(hours=8))
    until = datetime(2026, 11, 11, 20, 0, 0, 123456, tzinfo=shanghai)
    async with database.transaction() as session:
        session.add(Shop(name="tz", platform="taobao", paused_until=until))
    async with database.session() as session:
        row = (await session.execute(select(Shop).where(Shop.name == "tz"))).scalar_one()
    assert row.paused_until == until  # same instant
    assert row.paused_until is not None and row.paused_until.utcoffset() == timedelta(0)
    assert row.created_at.tzinfo is not None
    assert abs(row.created_at - utcnow()) < timedelta(minutes=1)


async def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with database.transaction() as session:
            session.add(Shop(name="naive", platform="taobao", paused_until=datetime(2026, 1, 1)))


async def test_timestamp_comparisons_in_sql_respect_time_zones(database: Database) -> None:
    noon_utc = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    async with database.transaction() as session:
        session.add(Shop(name="a", platform="p", paused_until=noon_utc))
    async with database.session() as session:
        later_in_shanghai = datetime(2026, 6, 1, 20, 30, tzinfo=timezone(timedelta(hours=8)))  # 12:30 UTC
        earlier = select(func.count()).select_from(Shop).where(Shop.paused_until < later_in_shanghai)
        count = await session.scalar(earlier)
    assert count == 1


async def test_ping_answers_true_when_reachable(database: Database) -> None:
    assert await database.ping() is True


async def test_ping_answers_false_for_an_unreachable_server() -> None:
    db = Database.connect("postgresql://nobody@127.0.0.1:1/none")
    try:
        assert await db.ping(within_s=3) is False
    finally:
        await db.dispose()


async def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Any) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        async with db.session() as session:
            assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await session.execute(text("PRAGMA busy_timeout"))).scalar() >= 5000
            assert (await session.execute(text("PRAGMA synchronous"))).scalar() == 1  # NORMAL
    finally:
        await db.dispose()


def test_repr_hides_the_password() -> None:
    db = Database.connect("postgresql://hub:s3cret@db.example/hub")
    assert "s3cret" not in repr(db)


async def test_a_pooled_connection_the_server_closed_is_replaced_without_an_error(database_url: str) -> None:
    """No pre-ping round trip on each checkout, yet a connection the server ended (a restart, an
    idle kill) is not handed out: the next transaction runs on a fresh one."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to close connections")
    import asyncpg
    from sqlalchemy import make_url

    from hub.db.engine import normalise_url

    db = Database.connect(database_url, pool_size=1)
    side = await asyncpg.connect(make_url(normalise_url(database_url)).set(drivername="postgresql")
                                 .render_as_string(hide_password=False))
    try:
        async with db.session() as session:
            connection = await session.connection()
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
            pooled = (await connection.get_raw_connection()).driver_connection
        await side.execute("SELECT pg_terminate_backend($1)", pid)
        for _ in range(1000):  # bounded: until asyncpg has seen the server close the pooled connection
            if pooled.is_closed():
                break
            await asyncio.sleep(0.01)
        assert pooled.is_closed()
        async with db.transaction() as session:
            assert await session.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await side.close()
        await db.dispose()
