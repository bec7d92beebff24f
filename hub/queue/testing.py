"""Pytest fixtures for code that uses the queue: a Redis namespace of its own, a RabbitMQ virtual
host of its own, and queue runtimes whose workers are always stopped.

Import the fixtures into a test module (``from hub.queue.testing import redis_namespace, ...``).
Every Redis test gets a random key prefix and its keys are deleted afterwards; nothing here ever
flushes a database. A RabbitMQ test gets a fresh virtual host (made and deleted with
``rabbitmqctl``, which needs the right to run it on the RabbitMQ host). Not for database fixtures
(``hub.testing.db``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis

from hub.queue.runtime import QueueRuntime, set_current_runtime

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def test_redis_url() -> str:
    """The Redis the tests use: ``HUB_TEST_REDIS_URL`` or the local default."""
    return os.environ.get("HUB_TEST_REDIS_URL", DEFAULT_REDIS_URL)


test_redis_url.__test__ = False  # type: ignore[attr-defined]


def delete_namespace(url: str, namespace: str) -> int:
    """Delete every key under ``namespace:`` (SCAN + DEL, never FLUSHDB); returns how many."""
    client = redis.Redis.from_url(url)
    deleted = 0
    try:
        batch: list[Any] = []
        for key in client.scan_iter(match=f"{namespace}:*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(client.delete(*batch))
                batch = []
        if batch:
            deleted += int(client.delete(*batch))
    finally:
        client.close()
    return deleted


@pytest.fixture
def redis_url() -> str:
    return test_redis_url()


@pytest.fixture
def redis_namespace(redis_url: str) -> Iterator[str]:
    """A fresh key prefix (``hubtest-<hex>``); its keys are deleted after the test."""
    namespace = f"hubtest-{uuid.uuid4().hex[:10]}"
    yield namespace
    delete_namespace(redis_url, namespace)


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """An asyncio Redis client on the test's loop (strings decoded, as the hub uses it)."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672"


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def rabbitmq_url() -> Iterator[str]:
    """``amqp://…/<vhost>`` on a fresh virtual host (``hubtest-<hex>``) on ``HUB_TEST_RABBITMQ_URL``
    (default the local server, guest/guest), deleted with its queues after the test."""
    if shutil.which("rabbitmqctl") is None:
        why = "rabbitmqctl is not on PATH: cannot make a RabbitMQ virtual host for the test"
        if os.environ.get("CI"):
            pytest.fail(why + " (.ci/run installs and starts rabbitmq-server)")
        pytest.skip(why)
    base = os.environ.get("HUB_TEST_RABBITMQ_URL", DEFAULT_RABBITMQ_URL).rstrip("/")
    user = base.split("://", 1)[1].split(":", 1)[0] or "guest"
    vhost = f"hubtest-{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        yield f"{base}/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


RuntimeFactory = Callable[..., QueueRuntime]


def _is_queue_thread(thread: threading.Thread) -> bool:
    """Threads the queue starts: dramatiq's workers, consumers and event loop, and the hub's own."""
    from dramatiq.asyncio import EventLoopThread
    from dramatiq.worker import ConsumerThread, WorkerThread

    return isinstance(thread, WorkerThread | ConsumerThread | EventLoopThread) or thread.name.startswith("hub-")


@pytest.fixture
def queue_runtimes() -> Iterator[RuntimeFactory]:
    """``make(redis_url=..., database_url=..., namespace=...)`` → a ``QueueRuntime`` (made current);
    every runtime made is stopped and closed after the test, and no worker thread may outlive it."""
    made: list[QueueRuntime] = []
    before = set(threading.enumerate())

    def make(**kwargs: Any) -> QueueRuntime:
        runtime = QueueRuntime.create(**kwargs)
        made.append(runtime)
        set_current_runtime(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()
    set_current_runtime(None)
    leaked = [t for t in threading.enumerate() if t not in before and _is_queue_thread(t)]
    for thread in leaked:
        thread.join(timeout=5)
    leaked = [t for t in leaked if t.is_alive()]
    assert not leaked, f"threads left running after the test: {leaked}"
