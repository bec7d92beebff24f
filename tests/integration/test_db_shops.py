"""Shop status, per-account state and idempotency keys on SQLite and the real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from hub.db import idempotency, shops
from hub.db.engine import Database
from hub.db.shop_state import DbShopState
from hub.db.tables import utcnow


async def test_ensure_shops_creates_active_shops_and_keeps_pauses(database: Database) -> None:
    async with database.transaction() as session:
        await shops.ensure_shops(session, [("tb-1", "taobao"), ("dy-1", "douyin")])
        await shops.pause_shop(session, "tb-1", "session invalid (TOP code 27); re-authorise the shop")
    async with database.transaction() as session:
        await shops.ensure_shops(session, [("tb-1", "taobao"), ("dy-1", "douyin"), ("ae-1", "aliexpress")])
        statuses = {s.name: s for s in await shops.all_shop_statuses(session)}
    assert sorted(statuses) == ["ae-1", "dy-1", "tb-1"]
    assert statuses["tb-1"].paused and statuses["tb-1"].paused_reason is not None
    assert "TOP code 27" in statuses["tb-1"].paused_reason
    assert statuses["dy-1"].status == "active" and statuses["dy-1"].platform == "douyin"


async def test_pause_and_resume(database: Database) -> None:
    async with database.transaction() as session:
        await shops.ensure_shops(session, [("tb-1", "taobao")])
        await shops.pause_shop(session, "tb-1", "breaker open: 5 ISP errors in 60 s")
    async with database.session() as session:
        paused = await shops.shop_status(session, "tb-1")
    assert paused is not None and paused.status == "paused" and paused.paused_until is None
    async with database.transaction() as session:
        await shops.resume_shop(session, "tb-1")
    async with database.session() as session:
        resumed = await shops.shop_status(session, "tb-1")
    assert resumed == shops.ShopStatus("tb-1", "taobao", "active")


async def test_a_pause_that_has_expired_counts_as_active(database: Database) -> None:
    async with database.transaction() as session:
        await shops.ensure_shops(session, [("tb-1", "taobao"), ("tb-2", "taobao")])
        await shops.pause_shop(session, "tb-1", "throttled", until=utcnow() - timedelta(seconds=1))
        await shops.pause_shop(session, "tb-2", "throttled", until=utcnow() + timedelta(minutes=5))
    async with database.session() as session:
        expired = await shops.shop_status(session, "tb-1")
        current = await shops.shop_status(session, "tb-2")
    assert expired is not None and expired.status == "active" and expired.paused_reason is None
    assert current is not None and current.paused and current.paused_until is not None
    assert current.paused_until.tzinfo is not None and current.paused_until > utcnow()


async def test_pausing_an_unknown_shop_records_it(database: Database) -> None:
    async with database.transaction() as session:
        await shops.pause_shop(session, "new", "authorisation lost")
        assert await shops.shop_status(session, "missing") is None
    async with database.transaction() as session:
        await shops.ensure_shops(session, [("new", "douyin")])
        status = await shops.shop_status(session, "new")
    assert status is not None and status.paused and status.platform == "douyin"


async def test_db_shop_state_round_trip_and_overwrite(database: Database) -> None:
    state = DbShopState(database, "channel:tb-1")
    other = DbShopState(database, "channel:tb-2")
    assert await state.get("poll.orders.last_end") is None
    await state.set("poll.orders.last_end", "2026-11-11T00:00:00+00:00")
    await state.set("poll.orders.last_end", "2026-11-11T00:05:00+00:00")
    await other.set("poll.orders.last_end", "elsewhere")
    assert await state.get("poll.orders.last_end") == "2026-11-11T00:05:00+00:00"
    assert await other.get("poll.orders.last_end") == "elsewhere"


async def test_db_shop_state_update_sets_and_deletes_together(database: Database) -> None:
    state = DbShopState(database, "channel:tb-1")
    await state.update({"poll.orders.window": "{}", "token": "t1"})
    await state.update({"poll.orders.last_end": "2026-11-11T00:05:00+00:00", "poll.orders.window": None})
    assert await state.get_many(["poll.orders.last_end", "poll.orders.window", "token"]) == {
        "poll.orders.last_end": "2026-11-11T00:05:00+00:00", "token": "t1"}


async def test_db_shop_state_concurrent_sets_leave_one_value(database: Database) -> None:
    state = DbShopState(database, "channel:tb-1")
    await asyncio.gather(*(state.set("token", f"t{i}") for i in range(10)))
    assert await state.get("token") in {f"t{i}" for i in range(10)}


async def test_idempotency_key_is_claimed_once_under_concurrency(database: Database) -> None:
    async def claim() -> bool:
        async with database.transaction() as session:
            return await idempotency.claim(session, "waybill:order:4398046511104123456")

    claims = await asyncio.gather(*(claim() for _ in range(15)))
    assert claims.count(True) == 1


async def test_idempotency_remember_recall_release(database: Database) -> None:
    key = "confirm_shipment:tb-1:4398046511104123456"
    async with database.transaction() as session:
        assert await idempotency.recall(session, key) is None
        assert await idempotency.claim(session, key) is True
        assert await idempotency.recall(session, key) == {}  # claimed, result not recorded yet
        await idempotency.remember(session, key, {"tracking_number": "SF1234567890123", "ok": True})
    async with database.transaction() as session:
        assert await idempotency.claim(session, key) is False
        assert await idempotency.recall(session, key) == {"tracking_number": "SF1234567890123", "ok": True}
        await idempotency.release(session, key)
    async with database.transaction() as session:
        assert await idempotency.claim(session, key) is True


async def test_a_rolled_back_claim_frees_the_key(database: Database) -> None:
    try:
        async with database.transaction() as session:
            assert await idempotency.claim(session, "k") is True
            raise RuntimeError("the partner call failed")
    except RuntimeError:
        pass
    async with database.transaction() as session:
        assert await idempotency.claim(session, "k") is True
