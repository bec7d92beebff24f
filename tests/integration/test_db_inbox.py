"""The inbox on SQLite and the real PostgreSQL: each partner message is stored once however often
it arrives, only new rows are handed on, payloads round-trip intact, attempts count atomically."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select

from contracts.events import InboundMessage, MessageKind
from hub.db import inbox
from hub.db.engine import Database
from hub.db.tables import InboxRow
from hub.testing.factories import make_order

BIG_TID = "3912345678901234567"  # 19 digits: a float would turn it into ...4560


def _message(message_id: str, external_id: str = BIG_TID, **extra: object) -> InboundMessage:
    return InboundMessage(
        message_id=message_id,
        kind=MessageKind.ORDER,
        topic="taobao_trade_TradeBuyerPay",
        external_id=external_id,
        occurred_at=datetime(2026, 11, 11, 0, 0, 1, tzinfo=UTC),
        payload={"tid": int(external_id), "tid_str": external_id, "status": "WAIT_SELLER_SEND_GOODS"},
        **extra,  # type: ignore[arg-type]
    )


async def _record(database: Database, messages: list[InboundMessage], platform: str = "taobao") -> list[int]:
    async with database.transaction() as session:
        return await inbox.record_messages(session, platform=platform, shop="tb-1", source="message_channel",
                                           messages=messages)


async def _count(database: Database) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxRow)) or 0)


async def test_duplicates_in_a_batch_and_across_batches_are_stored_once(database: Database) -> None:
    first = await _record(database, [_message("m1"), _message("m2"), _message("m1"), _message("m3")])
    assert len(first) == 3 and first == sorted(first)
    second = await _record(database, [_message("m3"), _message("m4"), _message("m2"), _message("m4")])
    assert len(second) == 1 and second[0] not in first
    assert await _count(database) == 4
    async with database.session() as session:
        row = await inbox.get(session, second[0])
    assert row is not None and row.message_id == "m4"


async def test_a_batch_of_only_known_messages_returns_nothing(database: Database) -> None:
    await _record(database, [_message("m1")])
    assert await _record(database, [_message("m1"), _message("m1")]) == []
    assert await _record(database, []) == []


async def test_same_message_id_on_another_platform_is_a_different_message(database: Database) -> None:
    await _record(database, [_message("m1")], platform="taobao")
    assert len(await _record(database, [_message("m1")], platform="douyin")) == 1


async def test_same_message_id_in_another_shop_of_the_platform_is_a_different_message(database: Database) -> None:
    await _record(database, [_message("m1")])
    async with database.transaction() as session:
        other = await inbox.record_messages(session, platform="taobao", shop="tb-2", source="message_channel",
                                            messages=[_message("m1"), _message("m1")])
    assert len(other) == 1, "another shop's message with a colliding id is stored once, for that shop"
    assert await _record(database, [_message("m1")]) == [], "and still a repeat for the first shop"
    assert await _count(database) == 2


async def test_concurrent_deliveries_of_one_batch_store_it_once(database: Database) -> None:
    batch = [_message(f"c{i}") for i in range(30)]
    results = await asyncio.gather(*(_record(database, batch) for _ in range(5)))
    every_id = [i for ids in results for i in ids]
    assert len(every_id) == len(set(every_id)) == 30  # each message handed on by exactly one caller
    assert await _count(database) == 30


async def test_stored_payload_round_trips_with_big_ids_intact(database: Database) -> None:
    order = make_order(external_id=BIG_TID)
    message = _message("full", order=order)
    [row_id] = await _record(database, [message])
    async with database.session() as session:
        row = await inbox.get(session, row_id)
    assert row is not None
    assert (row.kind, row.topic, row.external_id, row.source, row.status) == (
        "order", "taobao_trade_TradeBuyerPay", BIG_TID, "message_channel", "pending")
    loaded = inbox.load_message(row)
    assert loaded == message
    assert loaded.external_id == BIG_TID and loaded.payload["tid"] == int(BIG_TID)
    assert loaded.order is not None and loaded.order.ref.external_id == BIG_TID
    assert loaded.order.total == order.total


async def test_done_failed_dead_and_reset(database: Database) -> None:
    a, b, c = await _record(database, [_message("a"), _message("b"), _message("c")])
    async with database.transaction() as session:
        await inbox.mark_done(session, a)
        await inbox.mark_failed(session, b, "RetryableError: 502 from partner")
        await inbox.mark_failed(session, c, "PermanentError: bad data", dead=True)
    async with database.session() as session:
        rows = {r.id: r for r in (await session.execute(select(InboxRow))).scalars()}
        pending_ids = [r.id for r in await inbox.pending(session, 10)]
    assert rows[a].status == "done" and rows[a].processed_at is not None
    assert rows[b].status == "failed" and rows[b].last_error == "RetryableError: 502 from partner"
    assert rows[c].status == "dead"
    assert pending_ids == []
    async with database.transaction() as session:
        await inbox.bump_attempts(session, c)
        await inbox.reset(session, c)
    async with database.session() as session:
        assert [r.id for r in await inbox.pending(session, 10)] == [c]
        row = await inbox.get(session, c)
    assert row is not None and row.attempts == 0 and row.status == "pending"


async def test_pending_lists_oldest_first_up_to_the_limit(database: Database) -> None:
    ids = await _record(database, [_message(f"p{i}") for i in range(5)])
    async with database.session() as session:
        assert [r.id for r in await inbox.pending(session, 3)] == ids[:3]


async def test_bump_attempts_is_atomic_under_concurrency(database: Database) -> None:
    [row_id] = await _record(database, [_message("hot")])

    async def bump() -> int:
        async with database.transaction() as session:
            return await inbox.bump_attempts(session, row_id)

    seen = await asyncio.gather(*(bump() for _ in range(25)))
    assert sorted(seen) == list(range(1, 26))  # every caller saw its own increment
    async with database.session() as session:
        row = await inbox.get(session, row_id)
    assert row is not None and row.attempts == 25


async def test_bump_attempts_of_a_missing_row_is_zero(database: Database) -> None:
    async with database.transaction() as session:
        assert await inbox.bump_attempts(session, 999_999) == 0


async def test_a_large_batch_is_recorded_in_chunks(database: Database) -> None:
    ids = await _record(database, [_message(f"big{i}") for i in range(inbox.CHUNK + 20)])
    assert len(ids) == inbox.CHUNK + 20 == len(set(ids))
