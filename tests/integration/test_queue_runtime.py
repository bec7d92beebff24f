"""The in-process runtime as ``hub run`` and ``hub worker`` use it: per-loop resources are opened
and closed on the worker's own event loop, time limits are enforced, and mistakes in names are
reported instead of silently dropping messages."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest

from hub.db import dead_letters
from hub.errors import NotFoundError
from hub.queue.actors import hub_actor
from hub.queue.runtime import QueueRuntime
from hub.queue.testing import queue_runtimes  # noqa: F401

_seen: dict[str, list[object]] = {}
_guard = threading.Lock()


def remember(token: str, value: object) -> None:
    with _guard:
        _seen.setdefault(token, []).append(value)


@hub_actor(queue="default", max_retries=0, name="queue_test_which_loop")
async def queue_test_which_loop(token: str) -> None:
    remember(token, asyncio.get_running_loop())


@hub_actor(queue="bulk", max_retries=1, min_backoff_ms=50, max_backoff_ms=100, time_limit_ms=300,
           name="queue_test_slow_import")
async def queue_test_slow_import(token: str) -> None:
    remember(token, "started")
    await asyncio.sleep(5)
    remember(token, "finished")


async def wait_for(check, timeout_s: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


async def test_boot_and_shutdown_hooks_run_on_the_loop_the_async_actors_use(
    database_url: str, queue_runtimes  # noqa: F811
) -> None:
    token = uuid.uuid4().hex
    runtime: QueueRuntime = queue_runtimes(redis_url=None, database_url=database_url, worker_threads=2)

    async def open_clients() -> None:
        remember(token + ":boot", asyncio.get_running_loop())

    async def close_clients() -> None:
        remember(token + ":shutdown", asyncio.get_running_loop())

    runtime.on_worker_boot(open_clients)
    runtime.on_worker_shutdown(close_clients)
    runtime.start_workers(worker_timeout_ms=100)
    runtime.send("queue_test_which_loop", token)
    await asyncio.to_thread(runtime.join, 60_000)
    runtime.stop()

    [boot_loop] = _seen[token + ":boot"]
    [actor_loop] = _seen[token]
    [shutdown_loop] = _seen[token + ":shutdown"]
    assert boot_loop is actor_loop is shutdown_loop
    assert actor_loop is not asyncio.get_running_loop(), "actors must not run on the caller's loop"


async def test_an_actor_over_its_time_limit_is_interrupted_and_dead_lettered(
    database, database_url: str, queue_runtimes  # noqa: F811
) -> None:
    token = uuid.uuid4().hex
    runtime: QueueRuntime = queue_runtimes(redis_url=None, database_url=database_url, worker_threads=1)
    runtime.start_workers(["bulk"], worker_timeout_ms=100)
    runtime.send("queue_test_slow_import", token)

    async def letters():  # type: ignore[no-untyped-def]
        async with database.session() as session:
            rows = await dead_letters.list_dead_letters(session, limit=50)
        return [row for row in rows if row.args == [token]]

    [letter] = await wait_for(letters)
    assert (letter.actor, letter.error_class, letter.attempts) == ("queue_test_slow_import", "TimeLimitExceeded", 2)
    assert _seen[token] == ["started", "started"], "the slow actor must be stopped, not left to finish"


def test_sending_to_an_unknown_actor_is_an_error_not_a_lost_message(tmp_path, queue_runtimes) -> None:  # noqa: F811
    runtime: QueueRuntime = queue_runtimes(redis_url=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    with pytest.raises(NotFoundError, match="queue_test_no_such_actor"):
        runtime.send("queue_test_no_such_actor", 1)
    with pytest.raises(ValueError, match="orders"):
        runtime.start_workers(["orders"])
