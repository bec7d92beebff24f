"""Leader lock and scheduler on the real Redis (and the in-process fallback): one leader at a time,
leadership expires when not renewed, and only the leader enqueues periodic jobs."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis.asyncio as aioredis

from hub.queue.actors import hub_actor
from hub.queue.leader import LeaderLock
from hub.queue.scheduler import PeriodicJob, Scheduler
from hub.queue.testing import queue_runtimes, redis_client, redis_namespace, redis_url  # noqa: F401

pytestmark = pytest.mark.redis


@hub_actor(queue="default", max_retries=0, name="queue_test_tick")
def queue_test_tick(label: str) -> None:
    """A periodic job for the scheduler tests (never run: the tests count enqueued messages)."""


@pytest.fixture(params=["redis", "memory"])
async def two_clients(request: pytest.FixtureRequest, redis_url: str):  # noqa: F811
    """Two independent clients (as two worker processes would have), or None twice (embedded)."""
    if request.param == "memory":
        yield None, None
        return
    first = aioredis.from_url(redis_url, decode_responses=True)
    second = aioredis.from_url(redis_url)  # bytes responses: the lock must not care
    yield first, second
    await first.aclose()
    await second.aclose()


def lock_name(namespace: str) -> str:
    return f"scheduler-{uuid.uuid4().hex[:6]}"


async def test_only_one_process_holds_the_leader_lock(two_clients, redis_namespace: str) -> None:  # noqa: F811
    first_client, second_client = two_clients
    name = lock_name(redis_namespace)
    prefix = f"{redis_namespace}:leader:"
    first = LeaderLock(first_client, name, ttl_s=5, key_prefix=prefix)
    second = LeaderLock(second_client, name, ttl_s=5, key_prefix=prefix)

    assert await first.acquire() is True
    assert await second.acquire() is False
    assert await second.renew() is False
    assert await first.acquire() is True  # already ours: acquiring again keeps it

    await second.release()  # not the holder: must not free the lock
    assert await second.acquire() is False

    await first.release()
    assert await second.acquire() is True
    await second.release()


async def test_leadership_expires_when_not_renewed(two_clients, redis_namespace: str) -> None:  # noqa: F811
    first_client, second_client = two_clients
    name = lock_name(redis_namespace)
    prefix = f"{redis_namespace}:leader:"
    stalled = LeaderLock(first_client, name, ttl_s=0.3, key_prefix=prefix)
    successor = LeaderLock(second_client, name, ttl_s=5, key_prefix=prefix)

    assert await stalled.acquire()
    await asyncio.sleep(0.45)
    assert await successor.acquire(), "an expired leader must not block a successor"
    assert await stalled.renew() is False, "the stalled leader must learn it lost leadership"
    await stalled.release()  # must not delete the successor's lock
    assert await LeaderLock(first_client, name, ttl_s=5, key_prefix=prefix).acquire() is False
    await successor.release()


def default_queue_size(runtime) -> int:
    return runtime.broker.queues["default"].qsize()


async def wait_until(condition, what: str, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Poll ``condition`` until it holds; a generous deadline, so only a hang fails the test."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout_s:.0f}s waiting until {what}")
        await asyncio.sleep(0.02)


async def test_two_schedulers_on_one_redis_enqueue_only_once(
    two_clients, redis_namespace: str, queue_runtimes  # noqa: F811
) -> None:
    first_client, second_client = two_clients
    name = lock_name(redis_namespace)
    prefix = f"{redis_namespace}:leader:"
    runtimes = [queue_runtimes(redis_url=None, database_url="sqlite+aiosqlite:///:memory:") for _ in range(2)]
    job = PeriodicJob("tick", 0.1, "queue_test_tick", ("tick",))
    # A lease of 6 s renewed every 2 s: only a 4 s stall could hand leadership over mid-test.
    schedulers = [
        Scheduler(runtimes[0], LeaderLock(first_client, name, ttl_s=6, key_prefix=prefix), [job]),
        Scheduler(runtimes[1], LeaderLock(second_client, name, ttl_s=6, key_prefix=prefix), [job]),
    ]
    stops = [asyncio.Event(), asyncio.Event()]
    started = time.monotonic()
    tasks = [asyncio.create_task(s.run(stop)) for s, stop in zip(schedulers, stops, strict=True)]

    def sent() -> list[int]:
        return [default_queue_size(r) for r in runtimes]

    await wait_until(lambda: sum(sent()) >= 5, "the leader sent the job five times")
    counts, elapsed = sent(), time.monotonic() - started
    leader = 0 if counts[0] else 1
    follower = 1 - leader
    assert counts[follower] == 0, f"both schedulers enqueued: {counts}"
    assert counts[leader] <= elapsed / 0.1 + 1, f"{counts[leader]} sends in {elapsed:.2f}s: more than one per 0.1 s"

    # The leader stops (releasing the lock): the other takes over and keeps the job running.
    stops[leader].set()
    await tasks[leader]
    await wait_until(lambda: default_queue_size(runtimes[follower]) >= 3, "the follower took over")
    stops[follower].set()
    await tasks[follower]
