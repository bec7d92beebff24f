"""The API process's outbox relay (``hub.api.outbox_relay``): what the pushes commit as owed is
sent once, marked published, also after the broker refused it for a while; stopping ends it."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from sqlalchemy import select

from hub.api.outbox_relay import ApiRelay
from hub.context import Hub
from hub.db.tables import InboxRow, OutboxRow
from hub.services.backlog import PUSH_PROCESS_ACTOR
from tests.integration.test_api_support import api, make_hub, push_shop, sign


class FlakyBroker:
    """A runtime whose ``send`` refuses the first ``down`` calls (a broker away), then records."""

    def __init__(self, down: int = 0) -> None:
        self.down = down
        self.sent: list[tuple[str, tuple[Any, ...]]] = []

    def send(self, actor: str, *args: Any, **kwargs: Any) -> None:
        if self.down:
            self.down -= 1
            raise ConnectionError("broker unreachable")
        self.sent.append((actor, args))


@pytest.fixture
def hub(database_url: str) -> Hub:
    return make_hub(database_url, **{"fp-main": push_shop()})


async def _until(predicate: Any, what: str, limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not reached within {limit_s:g} s: {what}")


@pytest.mark.parametrize("down", [0, 2])
async def test_pushes_owed_messages_are_sent_once_and_marked_published(hub: Hub, down: int) -> None:
    broker = FlakyBroker(down)
    hub.runtime = broker
    relay = ApiRelay(hub).start()
    try:
        async with api(hub) as client:
            for n in range(5):
                body = json.dumps({"events": [{"id": f"r-{n}", "order": str(n)}]}).encode()
                response = await client.post("/webhooks/fakepush/fp-main", content=body,
                                             headers={"X-Sign": sign(body)})
                assert response.status_code == 200

        async def all_published() -> bool:
            async with hub.database().session() as session:
                rows = (await session.execute(select(OutboxRow))).scalars().all()
            return bool(rows) and all(row.published_at is not None for row in rows)

        await _until(all_published, "every outbox row published")
    finally:
        relay.stop()
    assert not relay.thread.is_alive()
    async with hub.database().session() as session:
        inbox_ids = sorted((await session.execute(select(InboxRow.id))).scalars())
    sent_ids = sorted(i for actor, args in broker.sent if actor == PUSH_PROCESS_ACTOR for i in args[0])
    assert sent_ids == inbox_ids, "each stored push is handed to the workers exactly once"
