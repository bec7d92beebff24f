"""The hub's channel conformance suite, and the ``get_orders`` checks, run against the Douyin
connector and its sandbox over real HTTP (uvicorn on 127.0.0.1)."""

from __future__ import annotations

from contracts import InboundMessage
from hub.testing.conformance import ChannelConformance
from hub.testing.get_orders_conformance import GetOrdersConformance
from plugins.douyin.connector import DouyinChannel
from plugins.douyin.sandbox import DouyinSandbox


class TestDouyinConformance(ChannelConformance, GetOrdersConformance):
    connector_class = DouyinChannel
    sandbox_class = DouyinSandbox

    def make_sandbox(self) -> DouyinSandbox:
        return DouyinSandbox(auto_deliver=False)  # the test takes the pushes itself

    def spoil_order(self, box: DouyinSandbox, external_id: str) -> None:
        with box.book.lock:
            box.book.shop(self.shop).orders[external_id].lines[0].quantity = 0  # item_num 0 does not map

    async def order_messages(self, box: DouyinSandbox, connector: DouyinChannel) -> list[InboundMessage]:
        push = box.take_signed_push(self.shop)
        assert push is not None, "the sandbox queued no push"
        headers, body = push
        return connector.parse_push(headers, body).messages
