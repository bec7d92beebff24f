"""What a shipment confirmation's retry budget is spent on: throttling (the partner did nothing)
never spends an attempt, not even the last one; a timeout's reason names ``TimeoutError`` rather
than being blank; the channel's own order is read before giving up. Both backends."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from sqlalchemy import select, update

from contracts import Capability, Order, OrderStatus
from contracts.shipments import Parcel
from hub.context import Hub
from hub.db.tables import ShipmentRow
from hub.errors import PermanentError, ThrottledError
from hub.plugin_api import hookimpl
from hub.services import orders
from hub.services.fulfilment import shipments as fulfilment
from hub.testing.factories import make_order
from hub.testing.hub import hub_config, running_hub
from tests.integration.test_fulfilment_flow import Channel, Plugin, ShippingChannel, _reset, mode

__all__ = ["_reset", "mode"]


def _config(database_url: str, redis_url: str | None, platform: str = "shipshop") -> Any:
    import secrets

    shop = f"budget-{secrets.token_hex(3)}"
    return hub_config(database_url, redis_url=redis_url, shops={shop: {"platform": platform}},
                      warehouses={"main": {"platform": "manual"}})


async def _shipment(hub: Hub, platform: str = "shipshop") -> tuple[int, int]:
    shop = next(iter(hub.config.shops))
    order = make_order(platform=platform, shop=shop, status=OrderStatus.PAID, lines=[("SKU-1", 1)])
    async with hub.database().transaction() as session:
        order_id = (await orders.apply_order(session, order, cause="test")).order_id
    recorded = await fulfilment.record_shipment(hub, order_id, [Parcel(courier_code="SF", tracking_number="SF-1")],
                                                actor="test")
    return order_id, recorded.shipment.id


async def _row(hub: Hub, shipment_id: int) -> ShipmentRow:
    async with hub.database().session() as session:
        return (await session.execute(select(ShipmentRow).where(ShipmentRow.id == shipment_id))).scalar_one()


async def _use_up_attempts(hub: Hub, shipment_id: int) -> None:
    """As if every attempt but the last had failed already."""
    async with hub.database().transaction() as session:
        await session.execute(update(ShipmentRow).where(ShipmentRow.id == shipment_id)
                              .values(attempts=fulfilment.CONFIRM_MAX_RETRIES))


async def test_throttled_calls_do_not_spend_attempts_even_the_last_one(database_url: str, mode: str | None) -> None:
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        _, shipment_id = await _shipment(hub)
        await _use_up_attempts(hub, shipment_id)
        # Fewer than the breaker's threshold, so the shop stays open and each call reaches the channel.
        Channel.faults.extend(ThrottledError("TOP code 7: app call limited", retry_after=1) for _ in range(4))
        for _ in range(4):
            with pytest.raises(ThrottledError):
                await fulfilment.confirm_to_channel(hub, shipment_id)
            row = await _row(hub, shipment_id)
            assert (row.status, row.attempts) == ("pending", fulfilment.CONFIRM_MAX_RETRIES)
            assert row.last_error and "throttled" in row.last_error
        await fulfilment.confirm_to_channel(hub, shipment_id)
        row = await _row(hub, shipment_id)
        assert (row.status, row.attempts) == ("confirmed", fulfilment.CONFIRM_MAX_RETRIES + 1)
        assert len(Channel.calls) == 5
        await hub.close_loop_resources()


async def test_a_timeout_that_exhausts_the_budget_names_timeout_error(database_url: str, mode: str | None) -> None:
    with running_hub(_config(database_url, mode), extra_plugins=[Plugin()], load_entry_points=False,
                     start_workers=False, relay=False) as hub:
        _, shipment_id = await _shipment(hub)
        Channel.faults.append(TimeoutError())
        with pytest.raises(TimeoutError):
            await fulfilment.confirm_to_channel(hub, shipment_id)
        assert "TimeoutError" in ((await _row(hub, shipment_id)).last_error or "")

        await _use_up_attempts(hub, shipment_id)
        Channel.faults.append(TimeoutError())
        with pytest.raises(PermanentError) as raised:
            await fulfilment.confirm_to_channel(hub, shipment_id)
        row = await _row(hub, shipment_id)
        assert row.status == "failed"
        assert row.last_error and row.last_error.startswith("gave up after 7 attempts; last: TimeoutError")
        assert "TimeoutError" in str(raised.value)
        await hub.close_loop_resources()


class Shipped:
    """What the readable channel's ``get_order`` answers (its order status)."""

    status: ClassVar[OrderStatus] = OrderStatus.SHIPPED
    reads: ClassVar[int] = 0


class ReadableChannel(ShippingChannel):
    """A channel whose orders can be read back (``get_order``)."""

    platform: ClassVar[str] = "readshop"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.CONFIRM_SHIPMENT, Capability.GET_ORDER})

    async def get_order(self, external_id: str) -> Order:
        Shipped.reads += 1
        return make_order(platform="readshop", shop="x", external_id=external_id, status=Shipped.status,
                          lines=[("SKU-1", 1)])


class ReadablePlugin(Plugin):
    @hookimpl
    def register_channels(self) -> list[type[Any]]:
        return [ReadableChannel]


async def test_a_timeout_is_followed_by_a_read_and_a_shipped_order_is_confirmed(
    database_url: str, mode: str | None
) -> None:
    Shipped.reads = 0
    with running_hub(_config(database_url, mode, "readshop"), extra_plugins=[ReadablePlugin()],
                     load_entry_points=False, start_workers=False, relay=False) as hub:
        _, shipment_id = await _shipment(hub, "readshop")
        Channel.faults.append(TimeoutError())  # did the send land? nobody knows
        with pytest.raises(TimeoutError):
            await fulfilment.confirm_to_channel(hub, shipment_id)
        await fulfilment.confirm_to_channel(hub, shipment_id)  # reads first: shipped, so nothing is re-sent
        row = await _row(hub, shipment_id)
        assert row.status == "confirmed" and len(Channel.calls) == 1 and Shipped.reads == 1
        await hub.close_loop_resources()
