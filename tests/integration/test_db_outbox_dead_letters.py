"""Outbox and dead letters on SQLite and the real PostgreSQL: an event leaves only with the
transaction that caused it; failed work is kept with its reason and can be marked replayed."""

from __future__ import annotations

import asyncio

import pytest

from hub.db import dead_letters, outbox
from hub.db.engine import Database
from hub.db.tables import Shop

BIG = 9_007_199_254_740_993


async def test_outbox_rows_roll_back_with_their_transaction(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            session.add(Shop(name="s", platform="p"))
            outbox.add(session, "order_changed", 1, None, "paid", "push")
            raise RuntimeError("the change failed")
    async with database.transaction() as session:
        assert await outbox.take_unpublished(session) == []


async def test_take_and_mark_published(database: Database) -> None:
    async with database.transaction() as session:
        outbox.add(session, "order_changed", BIG, None, "paid", cause="push")
        outbox.add(session, "stock_changed", ["SKU-1", "SKU-2"], shop="tb-1")
    async with database.transaction() as session:
        rows = await outbox.take_unpublished(session)
        assert [(r.actor, r.args, r.kwargs) for r in rows] == [
            ("order_changed", [BIG, None, "paid"], {"cause": "push"}),
            ("stock_changed", [["SKU-1", "SKU-2"]], {"shop": "tb-1"}),
        ]
        await outbox.mark_published(session, [rows[0].id])
    async with database.transaction() as session:
        assert [r.actor for r in await outbox.take_unpublished(session)] == ["stock_changed"]


async def test_take_unpublished_respects_the_limit_oldest_first(database: Database) -> None:
    async with database.transaction() as session:
        for i in range(5):
            outbox.add(session, "tick", i)
    async with database.transaction() as session:
        assert [r.args for r in await outbox.take_unpublished(session, limit=2)] == [[0], [1]]


async def test_two_relays_never_take_the_same_rows_at_once(database: Database) -> None:
    async with database.transaction() as session:
        for i in range(10):
            outbox.add(session, "tick", i)
    taken: list[list[int]] = []

    async def relay() -> None:
        async with database.transaction() as session:
            rows = await outbox.take_unpublished(session, limit=10)
            await asyncio.sleep(0.05)  # hold the rows (locks on PostgreSQL, write lock on SQLite)
            await outbox.mark_published(session, [r.id for r in rows])
            taken.append([r.id for r in rows])

    await asyncio.gather(relay(), relay())
    every = [i for ids in taken for i in ids]
    assert len(every) == len(set(every)) == 10


async def test_outbox_refuses_arguments_that_are_not_json(database: Database) -> None:
    async with database.transaction() as session:
        with pytest.raises(TypeError, match="order_changed"):
            outbox.add(session, "order_changed", object())


async def test_dead_letters_record_list_and_mark_replayed(database: Database) -> None:
    async with database.transaction() as session:
        first = await dead_letters.record(
            session, actor="process_inbox_batch", queue="ingest", args=[[BIG]], kwargs={"force": True},
            reason="PermanentError: order has no lines", error_class="PermanentError", attempts=3, inbox_id=BIG,
        )
        second = await dead_letters.record(
            session, actor="push_stock", queue="stock", args=["tb-1"], kwargs={},
            reason="ThrottledError", error_class="ThrottledError", attempts=5,
        )
    async with database.transaction() as session:
        listed = await dead_letters.list_dead_letters(session)
        assert [d.id for d in listed] == [second, first]  # newest first
        row = await dead_letters.get(session, first)
        assert row is not None
        assert (row.args, row.kwargs, row.inbox_id, row.attempts) == ([[BIG]], {"force": True}, BIG, 3)
        assert await dead_letters.mark_replayed(session, first, actor="test") is True
        assert await dead_letters.mark_replayed(session, 424242, actor="test") is False
    async with database.session() as session:
        assert [d.id for d in await dead_letters.list_dead_letters(session)] == [second]
        everything = await dead_letters.list_dead_letters(session, include_replayed=True)
        assert [d.id for d in everything] == [second, first]
        replayed = await dead_letters.get(session, first)
    assert replayed is not None and replayed.replay_count == 1 and replayed.replayed_at is not None
    assert replayed.replayed_at.tzinfo is not None


async def test_dead_letter_of_a_missing_id_is_none(database: Database) -> None:
    async with database.session() as session:
        assert await dead_letters.get(session, 1) is None
