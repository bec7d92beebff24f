"""Storage used from several event loops at once, as ``hub run`` does (API loop, actor loop,
background loop): each loop gets its own engine and no write is lost — on PostgreSQL too, where a
shared asyncpg engine fails with "attached to a different loop" (docs/architecture.md §5)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from sqlalchemy import func, select

from contracts.events import InboundMessage, MessageKind
from hub.db import inbox
from hub.db.engine import database_for_loop, dispose_all_for_loop
from hub.db.tables import InboxRow

LOOPS = 3
BATCHES = 10
PER_BATCH = 5


def _batch(loop_no: int, batch_no: int) -> list[InboundMessage]:
    return [
        InboundMessage(message_id=f"l{loop_no}-b{batch_no}-m{i}", kind=MessageKind.ORDER, topic="t",
                       external_id=str(9_007_199_254_740_993 + i))
        for i in range(PER_BATCH)
    ]


def test_writers_on_several_loops_lose_nothing(database_url: str) -> None:
    errors: list[BaseException] = []
    engines: list[Any] = []

    def writer(loop_no: int) -> None:
        async def main() -> None:
            db = database_for_loop(database_url)
            engines.append(db.engine)
            for batch_no in range(BATCHES):
                async with db.transaction() as session:
                    await inbox.record_messages(session, platform="p", shop="s", source="push",
                                                messages=_batch(loop_no, batch_no))
                # the same message delivered again through another loop is dropped there
                async with database_for_loop(database_url).transaction() as session:
                    assert await inbox.record_messages(session, platform="p", shop="s", source="push",
                                                       messages=_batch(loop_no, batch_no)[:1]) == []
            await dispose_all_for_loop()

        try:
            asyncio.run(main())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(LOOPS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len({id(e) for e in engines}) == LOOPS  # one engine per loop

    async def count() -> int:
        db = database_for_loop(database_url)
        async with db.session() as session:
            total = await session.scalar(select(func.count()).select_from(InboxRow))
        await dispose_all_for_loop()
        return int(total or 0)

    assert asyncio.run(count()) == LOOPS * BATCHES * PER_BATCH
