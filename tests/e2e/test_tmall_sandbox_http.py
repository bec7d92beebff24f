"""The Tmall connector against its sandbox over real HTTP: Tmall stock, exchanges (work cards are in
test_tmall_workcards_http); and a slow stock call is applied even when the caller stopped waiting for
its answer, as on TOP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from contracts import AfterSaleType, ChannelStock, InboundMessage
from hub.testing.conformance import ChannelConformance
from hub.testing.context import make_context
from hub.testing.get_orders_conformance import GetOrdersConformance
from plugins.taobao.sandbox import serve_in_thread
from plugins.tmall.connector import TmallChannel
from plugins.tmall.mapping import tmall_stock_calls
from plugins.tmall.sandbox import TmallSandbox

pytestmark = pytest.mark.e2e
SHOP = "tm-e2e"


class TestTmallConformance(ChannelConformance, GetOrdersConformance):
    connector_class = TmallChannel
    sandbox_class = TmallSandbox

    def spoil_order(self, box: TmallSandbox, external_id: str) -> None:
        with box.lock:
            box.shop(self.shop).trades[external_id]["status"] = "TRADE_SOMETHING_NEW"

    async def order_messages(self, box: TmallSandbox, connector: TmallChannel) -> list[InboundMessage]:
        await connector.open_message_channel()
        return await connector.consume_messages(200)


@pytest.fixture
def served() -> Iterator[tuple[TmallSandbox, str]]:
    box = TmallSandbox()
    with serve_in_thread(box.app) as base_url:
        yield box, base_url


@pytest.fixture
async def channel(served: tuple[TmallSandbox, str]) -> AsyncIterator[TmallChannel]:
    box, base_url = served
    connector = TmallChannel(make_context(TmallChannel, SHOP, box.shop_settings(SHOP, base_url)))
    await connector.open_message_channel()  # TMC delivers nothing before the permit
    yield connector
    await connector.aclose()


async def test_tmall_orders_are_tagged_and_stock_uses_the_tmall_api(served: tuple[TmallSandbox, str],
                                                                     channel: TmallChannel) -> None:
    box, _ = served
    order = await channel.get_order(box.create_order(SHOP, "TM-1", 1))
    assert "tmall" in order.tags and order.ref.platform == "tmall"
    line = order.lines[0]
    value = ChannelStock(shop=SHOP, merchant_sku="TM-1", channel_item_id=line.channel_item_id,
                         channel_sku_id=line.channel_sku_id, quantity=12)
    results = await channel.push_stock([value])
    assert results[0].ok and box.shown_stock(SHOP, "TM-1") == 12
    assert "tmall.item.quantity.update" in box.gateway.calls and "taobao.skus.quantity.update" not in box.gateway.calls


async def test_exchanges_come_back_as_exchange_aftersales_once(served: tuple[TmallSandbox, str],
                                                               channel: TmallChannel) -> None:
    box, _ = served
    tid = box.create_order(SHOP, "TM-1", 1)
    dispute_id = box.create_exchange(SHOP, tid)
    now = datetime.now(UTC)
    cases = await channel.fetch_aftersales(now - timedelta(minutes=5), now + timedelta(minutes=1))
    assert [(c.ref.external_id, c.type) for c in cases] == [(dispute_id, AfterSaleType.EXCHANGE)]
    assert (await channel.get_aftersale(dispute_id)).type is AfterSaleType.EXCHANGE


async def test_a_slow_stock_call_whose_caller_gave_up_is_still_applied_late(served: tuple[TmallSandbox, str],
                                                                           channel: TmallChannel) -> None:
    """What makes a push with no answer dangerous: the platform may apply it after the caller
    gave up, so an older value can land after a newer one. The sandbox is as strict as that, no
    stricter: a ``slow`` call is applied, then answered, whether or not anyone still listens."""
    box, _ = served
    line = (await channel.get_order(box.create_order(SHOP, "TM-1", 1))).lines[0]
    value = ChannelStock(shop=SHOP, merchant_sku="TM-1", channel_item_id=line.channel_item_id,
                         channel_sku_id=line.channel_sku_id, quantity=12)
    (call,), _ = tmall_stock_calls([value])
    box.inject_fault("slow", 1, seconds=1.0)
    async with httpx.AsyncClient(timeout=0.2) as client:  # gives up long before the answer can come
        with pytest.raises(httpx.ReadTimeout):
            await client.post(channel.client.gateway_url, data=channel.client.request_params(call.method, call.params))
    deadline = asyncio.get_running_loop().time() + 30
    while box.shown_stock(SHOP, "TM-1") != 12:
        assert asyncio.get_running_loop().time() < deadline, "the slow call was never applied"
        await asyncio.sleep(0.05)
