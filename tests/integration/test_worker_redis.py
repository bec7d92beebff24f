"""``hub worker`` and Redis: not there at start is a one-line error saying what to do; gone after
start is one warning line, and the worker carries on by itself once Redis is back."""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import structlog

from hub.asgi_server import free_port
from hub.logging import configure_logging
from hub.queue.actors import hub_actor
from hub.queue.broker import guard_broker_outages
from hub.queue.runtime import QueueRuntime

DEADLINE_S = 60.0
processed = threading.Event()


@hub_actor(queue="default", max_retries=3, min_backoff_ms=50, max_backoff_ms=200, name="redis_outage_probe")
async def redis_outage_probe() -> None:
    processed.set()


def _wait_for(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {DEADLINE_S:.0f} s")
        time.sleep(0.05)


class RedisServer:
    """A redis-server of the test's own, on its own port, that the test can stop and start."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port, self.directory = port, directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for("redis-server answering", self._answers)

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.exceptions.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = RedisServer(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_worker_without_redis_says_where_it_looked_and_what_to_do(tmp_path: Path) -> None:
    closed = f"redis://127.0.0.1:{free_port()}"
    result = subprocess.run([sys.executable, "-m", "hub.cli", "worker"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "HUB_REDIS_URL": closed,
                                                        "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: cannot reach Redis at {closed}: connection refused; start it or set HUB_REDIS_URL")


def test_worker_outlives_a_redis_restart_with_one_warning(own_redis: RedisServer, tmp_path: Path) -> None:
    logs = io.StringIO()
    configure_logging("info", "json", stream=logs)
    runtime = QueueRuntime.create(redis_url=own_redis.url, database_url=f"sqlite+aiosqlite:///{tmp_path}/hub.db",
                                  namespace=f"test-{uuid.uuid4().hex[:8]}", worker_threads=1)
    outage = guard_broker_outages(own_redis.url)
    outage.probe_interval_s = 0.2
    processed.clear()
    try:
        runtime.start_workers(["default"], worker_timeout_ms=100)
        own_redis.stop()
        _wait_for("outage warning", lambda: "queue.broker_unreachable" in logs.getvalue())
        own_redis.start()
        _wait_for("reconnection", lambda: "queue.broker_reconnected" in logs.getvalue())
        runtime.send("redis_outage_probe")
        _wait_for("the message processed after the restart", processed.is_set)
    finally:
        runtime.close()
        structlog.reset_defaults()
        for handler in list(logging.getLogger().handlers):
            if handler.get_name() == "hub":
                logging.getLogger().removeHandler(handler)
    text = logs.getvalue()
    assert text.count("queue.broker_unreachable") == 1
    assert "Traceback" not in text and "Consumer encountered" not in text
