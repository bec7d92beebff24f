"""Bindings on SQLite and the real PostgreSQL: concurrent binders of one platform object agree on
a single hub id, and ids are kept per kind, platform and shop."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from hub.db import bindings
from hub.db.engine import Database
from hub.db.tables import Binding

BIG_ID = "4398046511104123456"  # 19 digits, beyond 2^53


async def test_twenty_concurrent_binds_create_one_binding_and_agree(database: Database) -> None:
    async def bind(candidate: int) -> int:
        async with database.transaction() as session:
            return await bindings.bind(session, "order", "taobao", "tb-1", BIG_ID, candidate)

    winners = await asyncio.gather(*(bind(1000 + i) for i in range(20)))
    assert len(set(winners)) == 1 and winners[0] in range(1000, 1020)
    async with database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Binding)) == 1
        assert await bindings.lookup(session, "order", "taobao", "tb-1", BIG_ID) == winners[0]


async def test_binding_again_returns_the_first_id(database: Database) -> None:
    async with database.transaction() as session:
        assert await bindings.bind(session, "order", "douyin", "dy-1", "1", 7) == 7
        assert await bindings.bind(session, "order", "douyin", "dy-1", "1", 8) == 7


async def test_same_external_id_is_separate_per_kind_platform_and_shop(database: Database) -> None:
    async with database.transaction() as session:
        ids = [
            await bindings.bind(session, "order", "taobao", "tb-1", BIG_ID, 1),
            await bindings.bind(session, "aftersale", "taobao", "tb-1", BIG_ID, 2),
            await bindings.bind(session, "order", "tmall", "tb-1", BIG_ID, 3),
            await bindings.bind(session, "order", "taobao", "tb-2", BIG_ID, 4),
        ]
    assert ids == [1, 2, 3, 4]


async def test_lookup_of_an_unbound_object_is_none(database: Database) -> None:
    async with database.session() as session:
        assert await bindings.lookup(session, "order", "taobao", "tb-1", "nope") is None
