"""The message-channel drain overlaps partner calls with inbox commits, yet confirms a batch only
after its own commit, and never a batch that was taken but not stored."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from hub.pipeline import actors


class FakeChannel:
    def __init__(self, batches: int, size: int) -> None:
        self.left = [[SimpleNamespace(message_id=f"{b}-{i}") for i in range(size)] for b in range(batches)]
        self.events: list[tuple[str, int]] = []
        self.confirmed: list[str] = []

    async def consume_messages(self, limit: int) -> list[Any]:
        await asyncio.sleep(0.001)
        batch = self.left.pop(0) if self.left else []
        self.events.append(("taken", len(batch)))
        return batch

    async def confirm_messages(self, ids: list[str]) -> None:
        await asyncio.sleep(0.001)
        self.events.append(("confirmed", int(ids[0].split("-")[0])))
        self.confirmed.extend(ids)


def _patch(monkeypatch: pytest.MonkeyPatch, stored: list[int], fail_on: int | None = None) -> None:
    async def accept_messages(hub: Any, *, platform: str, shop: str, source: str, messages: list[Any]) -> None:
        batch = int(messages[0].message_id.split("-")[0])
        await asyncio.sleep(0.002)
        if batch == fail_on:
            raise RuntimeError("inbox down")
        stored.append(batch)

    async def over_limit(hub: Any) -> bool:
        return False

    monkeypatch.setattr(actors, "accept_messages", accept_messages)
    monkeypatch.setattr(actors.backlog, "over_limit", over_limit)


def test_every_batch_is_stored_then_confirmed(monkeypatch: pytest.MonkeyPatch) -> None:
    stored: list[int] = []
    _patch(monkeypatch, stored)
    channel = FakeChannel(batches=5, size=actors.CONSUME_BATCH)
    asyncio.run(actors._drain(object(), "s", "taobao", channel, time.monotonic() + 60))
    assert stored == [0, 1, 2, 3, 4]
    assert len(channel.confirmed) == 5 * actors.CONSUME_BATCH
    confirmed = [batch for what, batch in channel.events if what == "confirmed"]
    assert confirmed == [0, 1, 2, 3, 4]


def test_a_failed_store_confirms_neither_its_batch_nor_the_one_taken_meanwhile(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stored: list[int] = []
    _patch(monkeypatch, stored, fail_on=2)
    channel = FakeChannel(batches=5, size=actors.CONSUME_BATCH)
    with pytest.raises(RuntimeError):
        asyncio.run(actors._drain(object(), "s", "taobao", channel, time.monotonic() + 60))
    assert stored == [0, 1]
    assert {m.split("-")[0] for m in channel.confirmed} == {"0", "1"}
