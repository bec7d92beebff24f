"""The retry and dead-letter policy on RabbitMQ as on Redis: a transient failure is retried after
its backoff (through RabbitMQ's delay queue), a permanent one becomes a ``dead_letters`` row at
once, and replaying the letter (``hub dlq replay``) sends it to its actor again."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest

from hub.db import dead_letters
from hub.errors import PermanentError, RetryableError
from hub.queue.actors import hub_actor
from hub.queue.dead_letter_replay import replay_dead_letter
from hub.queue.runtime import QueueRuntime
from hub.queue.testing import queue_runtimes, rabbitmq_url  # noqa: F401

pytestmark = pytest.mark.rabbitmq

_calls: dict[str, list[str]] = {}
_fixed: set[str] = set()
_guard = threading.Lock()


@hub_actor(queue="default", max_retries=2, min_backoff_ms=100, max_backoff_ms=200, name="rmq_test_flaky")
async def rmq_test_flaky(token: str) -> None:
    with _guard:
        _calls.setdefault(token, []).append("flaky")
        first = len(_calls[token]) == 1
    if first:
        raise RetryableError("the partner hiccuped")


@hub_actor(queue="default", max_retries=5, name="rmq_test_broken")
async def rmq_test_broken(token: str) -> None:
    with _guard:
        _calls.setdefault(token, []).append("broken")
    if token not in _fixed:
        raise PermanentError("this input can never work")


async def _until(check, timeout_s: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        found = await check()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def test_retry_dead_letter_and_replay_on_rabbitmq(database, database_url: str, rabbitmq_url: str,  # noqa: F811
                                                       queue_runtimes) -> None:  # noqa: F811
    flaky, broken = uuid.uuid4().hex, uuid.uuid4().hex
    runtime: QueueRuntime = queue_runtimes(broker_url=rabbitmq_url, database_url=database_url, worker_threads=2)
    runtime.start_workers(["default"], worker_timeout_ms=100)
    runtime.send("rmq_test_flaky", flaky)
    runtime.send("rmq_test_broken", broken)

    async def letter():  # type: ignore[no-untyped-def]
        async with database.session() as session:
            rows = await dead_letters.list_dead_letters(session, limit=50)
        return next((row for row in rows if row.args == [broken]), None)

    found = await _until(letter)
    assert found is not None and (found.actor, found.error_class, found.attempts) == \
        ("rmq_test_broken", "PermanentError", 1), "a permanent failure is dead-lettered at once"
    assert await _until(lambda: asyncio.sleep(0, len(_calls.get(flaky, [])) == 2)), "retried once after its backoff"

    _fixed.add(broken)
    await replay_dead_letter(database, runtime, found.id, actor="test")
    assert await _until(lambda: asyncio.sleep(0, _calls[broken] == ["broken", "broken"])), "the replay ran"
    await asyncio.to_thread(runtime.join, 60_000, queues=["default"])
    assert _calls[flaky] == ["flaky", "flaky"]
