"""Choosing the queue's broker: ``HUB_BROKER_URL`` names RabbitMQ or Redis, RabbitMQ is refused
without the Redis that coordinates processes, and a RabbitMQ that does not answer is named at start
without its password."""

from __future__ import annotations

import pytest

from hub.asgi_server import free_port
from hub.config import load_config
from hub.errors import ConfigError
from hub.queue.broker import BrokerUnreachable, build_broker, check_broker, retries_of


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUB_CONFIG", "HUB_DATABASE_URL", "HUB_REDIS_URL", "HUB_BROKER_URL"):
        monkeypatch.setenv(name, "")  # recorded, so the original environment comes back afterwards
        monkeypatch.delenv(name)


def test_rabbitmq_carries_the_queues_and_redis_still_coordinates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_BROKER_URL", "amqp://hub:secret@mq:5672/hub")
    monkeypatch.setenv("HUB_REDIS_URL", "redis://cache:6379/0")
    config = load_config()
    assert config.broker_kind == "rabbitmq"
    assert config.broker_url == "amqp://hub:secret@mq:5672/hub" and config.redis_url == "redis://cache:6379/0"


def test_rabbitmq_without_redis_is_refused_saying_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert any("HUB_REDIS_URL" in what for _, what in caught.value.problems), caught.value.problems


def test_a_redis_broker_url_alone_also_coordinates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_BROKER_URL", "redis://cache:6379/2")
    config = load_config()
    assert (config.broker_kind, config.redis_url) == ("redis", "redis://cache:6379/2")
    monkeypatch.delenv("HUB_BROKER_URL")
    assert load_config().broker_kind == "in-process"


def test_an_amqp_url_builds_dramatiqs_rabbitmq_broker_with_the_hubs_retry_policy() -> None:
    broker = build_broker("amqp://guest:guest@127.0.0.1:5672/hub-unused")  # connects lazily
    try:
        assert type(broker).__name__ == "RabbitmqBroker"
        assert retries_of(broker) is not None
        assert {"channels", "ingest", "webhooks"} <= broker.get_declared_queues()
    finally:
        broker.close()


def test_an_unreachable_rabbitmq_is_named_without_its_password() -> None:
    with pytest.raises(BrokerUnreachable) as caught:
        check_broker(f"amqp://hub:s3cret-pw@127.0.0.1:{free_port()}/hub", timeout_s=2)
    assert "cannot reach RabbitMQ" in str(caught.value) and "s3cret-pw" not in str(caught.value)
