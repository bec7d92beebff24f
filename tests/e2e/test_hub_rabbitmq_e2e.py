"""The whole hub with RabbitMQ as its broker: a Taobao order comes in over TMC, is stored and
reserves stock, with every queue message (``consume_channel``, ``process_inbox_batch``, the
follow-ups the outbox relay sends) going through a real RabbitMQ on a virtual host of the test's
own, and Redis coordinating as it must (docs/operators.md, "Brokers and scaling out")."""

from __future__ import annotations

import pytest

from hub.queue.testing import rabbitmq_url
from hub.testing.hub import DEFAULT_REDIS_URL
from tests.e2e.hub_e2e_support import (
    Backend,
    bind_listings,
    close_test_loop,
    e2e_config,
    e2e_hub,
    eventually,
    order_status,
    pumping,
    served_sandboxes,
    sku_stock,
    stock_a_sku,
)

__all__ = ["rabbitmq_url"]  # the fixture, imported for pytest
pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.rabbitmq]


async def test_an_order_is_stored_and_reserved_with_rabbitmq_as_the_broker(database_url: str,
                                                                          rabbitmq_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("a broker process setup runs on PostgreSQL, as in production")
    sku = "E2E-RMQ-1"
    with served_sandboxes(["taobao"]) as served:
        config = e2e_config(Backend(database_url, DEFAULT_REDIS_URL), served)
        config.queue.broker_url = rabbitmq_url
        with e2e_hub(config) as hub:
            assert hub.runtime is not None and type(hub.runtime.broker).__name__ == "RabbitmqBroker"
            item = served["taobao"]
            try:
                await stock_a_sku(hub, sku, 10)
                await bind_listings(hub, served, sku, shown=10)
                async with pumping(hub, consume=[item.shop]):
                    tid = item.sandbox.create_order(item.shop, sku, 2, paid=True)

                    async def paid() -> bool:
                        return await order_status(hub, item.shop, tid) == "paid"

                    await eventually(paid, what="the TMC order stored as paid")

                    async def reserved() -> tuple[int, int, int] | None:
                        stock = await sku_stock(hub, sku)
                        return stock if stock[1] == 2 else None

                    assert await eventually(reserved, what="the order's 2 units reserved") == (10, 2, 8)
            finally:
                await close_test_loop(hub)
