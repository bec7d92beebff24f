"""Intake never waits behind processing: with every worker thread busy on ``ingest`` batches, a
``channels`` message (what drains TMC) still runs at once on the thread the worker keeps for it; and
a processing backlog waits in the broker, not in the worker's memory (bounded prefetch). On the
real Redis and the real RabbitMQ."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from hub.queue.actors import hub_actor
from hub.queue.runtime import PREFETCH_PER_THREAD, QueueRuntime, reserved_threads
from hub.queue.testing import queue_runtimes, rabbitmq_url, redis_namespace, redis_url  # noqa: F401

pytestmark = pytest.mark.redis

_released: dict[str, threading.Event] = {}
_started: dict[str, list[int]] = {}
_finished: dict[str, list[int]] = {}
_intake: dict[str, threading.Event] = {}
_guard = threading.Lock()


@hub_actor(queue="ingest", max_retries=0, name="lane_test_busy_batch")
async def lane_test_busy_batch(token: str, n: int) -> None:
    with _guard:
        _started[token].append(n)
    await asyncio.to_thread(_released[token].wait)  # a long batch: the worker thread waits, the loop does not
    with _guard:
        _finished[token].append(n)


@hub_actor(queue="channels", priority=-10, max_retries=0, name="lane_test_consume")
async def lane_test_consume(token: str) -> None:
    _intake[token].set()


@pytest.fixture
def token() -> Iterator[str]:
    value = uuid.uuid4().hex
    _released[value], _intake[value] = threading.Event(), threading.Event()
    _started[value], _finished[value] = [], []
    yield value
    _released.pop(value).set()


async def _until(check, timeout_s: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


def test_a_worker_keeps_intake_threads_only_when_it_also_processes() -> None:
    assert reserved_threads(None, 1) == {"channels": 1}
    assert reserved_threads(["channels", "ingest"], 2) == {"channels": 2}
    assert reserved_threads(["channels"], 1) == {}, "a worker of only the channels queue uses all its threads for it"
    assert reserved_threads(["ingest", "webhooks"], 1) == {}
    assert reserved_threads(None, 0) == {}, "intake_threads = 0 shares the threads as dramatiq does"


@pytest.mark.parametrize("broker", ["redis", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
async def test_channel_intake_runs_while_every_thread_is_busy_processing(
    broker: str, token: str, database_url: str, queue_runtimes, request: pytest.FixtureRequest,  # noqa: F811
) -> None:
    if broker == "redis":
        url, namespace = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_namespace")
    else:
        url, namespace = request.getfixturevalue("rabbitmq_url"), "hub"
    threads, backlog = 2, 12
    runtime: QueueRuntime = queue_runtimes(broker_url=url, database_url=database_url, namespace=namespace,
                                           worker_threads=threads, intake_threads=1)
    runtime.start_workers(worker_timeout_ms=100)
    for n in range(backlog):
        runtime.send("lane_test_busy_batch", token, n)
    assert await _until(lambda: len(_started[token]) == threads), "every processing thread took a batch"

    runtime.send("lane_test_consume", token)
    assert await _until(_intake[token].is_set), "the channels message ran while processing was stuck"
    assert not _finished[token] and len(_started[token]) == threads, "no processing thread was freed for it"

    if broker == "rabbitmq":
        ready, _, _ = runtime.broker.get_queue_message_counts("ingest")  # type: ignore[attr-defined]
        assert ready >= backlog - PREFETCH_PER_THREAD * threads, \
            "the backlog waits in the broker; the worker holds no more than its prefetch"

    _released[token].set()
    await asyncio.to_thread(runtime.join, 60_000)
    assert sorted(_finished[token]) == list(range(backlog))
