"""``/readyz`` with RabbitMQ as the broker: it checks RabbitMQ (``broker``) and the Redis that
coordinates the processes (``redis``), and names whichever does not answer."""

from __future__ import annotations

import pytest

from hub.asgi_server import free_port
from hub.queue.testing import DEFAULT_RABBITMQ_URL
from tests.integration.test_api_support import api, make_hub

pytestmark = [pytest.mark.redis, pytest.mark.rabbitmq]


async def _ready(database_url: str, broker_url: str, redis_url: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    hub = make_hub(database_url)
    hub.config.hub.redis_url = redis_url
    hub.config.queue.broker_url = broker_url
    async with api(hub) as client:
        response = await client.get("/readyz")
    await hub.close_loop_resources()
    return response.status_code, response.json()


async def test_readyz_checks_rabbitmq_and_the_coordinating_redis(database_url: str) -> None:
    status, body = await _ready(database_url, DEFAULT_RABBITMQ_URL + "/", "redis://127.0.0.1:6379/0")
    assert status == 200 and body["checks"] == {"database": "ok", "broker": "ok", "redis": "ok"}


async def test_readyz_names_rabbitmq_or_redis_when_one_is_down(database_url: str) -> None:
    status, body = await _ready(database_url, f"amqp://guest:guest@127.0.0.1:{free_port()}/", "redis://127.0.0.1:6379/0")
    assert status == 503 and body["failed"] == ["broker"]
    status, body = await _ready(database_url, DEFAULT_RABBITMQ_URL + "/", "redis://127.0.0.1:1/0")
    assert status == 503 and body["failed"] == ["redis"]
