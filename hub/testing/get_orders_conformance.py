"""Conformance checks for ``Capability.GET_ORDERS`` (``ChannelConnector.get_orders``): a plugin's
connector against its sandbox over real HTTP (uvicorn on 127.0.0.1, real signatures).

What the hub's batch worker relies on when it fetches the orders a batch of messages names:
``get_orders`` over the messages' window returns exactly the asked orders that are in it (as
complete as ``get_order`` gives them), in at most ceil(n/100)+1 partner calls for n orders in the
window; it leaves out ids outside the window and ids that do not exist (the hub fetches those one
by one); it gives up after one call when reading the rest of the window costs more calls than fetching
the missing orders alone;
it reports an order that does not map by its id with the reason; and the messages that name
orders carry ``occurred_at``, from which a window that finds them can be built.

Mix ``GetOrdersConformance`` into a plugin's ``ChannelConformance`` subclass and implement
``spoil_order`` and ``order_messages``. The sandbox needs a settable ``clock`` (Unix seconds, the
platform's time, which its orders' update times follow), so orders can be made at other times
without sleeping. Third-party plugins mix it in the same way (``from
hub.testing.get_orders_conformance import GetOrdersConformance``).
Partner calls are counted through the context's ``throttle``, which a connector awaits before
every request.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from contracts import Capability, InboundMessage, MessageKind, OrderPage
from hub.asgi_server import serve_in_thread
from hub.testing.conformance import ChannelConformance
from hub.testing.context import make_context

#: An id no sandbox issues (19 digits, like the platforms' own).
NO_SUCH_ID = "9999999999999999999"
#: Where messages "go": sandboxes queue pushes only for shops with a target; nothing listens here.
UNUSED_PUSH_TARGET = "http://127.0.0.1:9/webhooks"


class CallCounter:
    """A ``throttle`` that counts the partner requests it lets through."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> None:
        self.count += 1


@dataclass
class Bulk:
    box: Any
    connector: Any
    calls: CallCounter


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _ids(page: OrderPage) -> list[str]:
    return sorted(order.ref.external_id for order in page.orders)


class GetOrdersConformance:
    """The ``get_orders`` checks (see the module docstring)."""

    connector_class: ClassVar[type[Any]]
    sandbox_class: ClassVar[type[Any]]
    shop: ClassVar[str]
    merchant_sku: ClassVar[str]

    def make_sandbox(self) -> Any:
        return self.sandbox_class()

    def spoil_order(self, box: Any, external_id: str) -> None:
        """Make the sandbox's order one the connector's mapping refuses (``BadInputError``)."""
        raise NotImplementedError

    async def order_messages(self, box: Any, connector: Any) -> list[InboundMessage]:
        """The messages the platform has sent about the shop's orders so far, as the connector
        parses them (consumed from its message channel, or its pushes parsed)."""
        raise NotImplementedError

    @pytest.fixture
    def bulk_served(self) -> Iterator[tuple[Any, str]]:
        if Capability.GET_ORDERS not in self.connector_class.capabilities:
            pytest.skip(f"{self.connector_class.__name__} does not declare get_orders")
        box = self.make_sandbox()
        box.set_push_target(self.shop, UNUSED_PUSH_TARGET)
        with serve_in_thread(box.app) as base_url:
            yield box, base_url

    @pytest.fixture
    async def bulk(self, bulk_served: tuple[Any, str]) -> AsyncIterator[Bulk]:
        box, base_url = bulk_served
        context = make_context(self.connector_class, self.shop, box.shop_settings(self.shop, base_url))
        calls = CallCounter()
        context.throttle = calls
        connector = self.connector_class(context)
        yield Bulk(box, connector, calls)
        await connector.aclose()

    def _orders_at(self, box: Any, seconds: float, count: int) -> list[str]:
        """``count`` paid orders made when the platform's clock says ``seconds`` (a listing of 100
        per 50 orders, so none sells out)."""
        box.clock = lambda: seconds
        try:
            return [box.create_order(self.shop, f"{self.merchant_sku}-B{index // 50}", 1) for index in range(count)]
        finally:
            box.clock = time.time

    @staticmethod
    def _now() -> float:
        return float(int(time.time()))

    async def test_get_orders_returns_exactly_the_asked_orders_of_the_window(self, bulk: Bulk) -> None:
        now = self._now()
        earlier = self._orders_at(bulk.box, now - 7200, 2)
        asked = self._orders_at(bulk.box, now, 5)
        self._orders_at(bulk.box, now, 3)  # in the window, not asked for
        page = await bulk.connector.get_orders([*asked, *earlier, NO_SUCH_ID],
                                               modified_between=(_at(now - 60), _at(now + 60)))
        assert _ids(page) == sorted(asked)
        assert page.rejected == {} and page.next_cursor is None
        assert bulk.calls.count <= math.ceil(8 / 100) + 1
        for order in page.orders:
            ChannelConformance._assert_same_order(order, await bulk.connector.get_order(order.ref.external_id))

    async def test_get_orders_pages_through_a_window_worth_paging(self, bulk: Bulk) -> None:
        now = self._now()
        in_window = self._orders_at(bulk.box, now, 130)
        asked = in_window[::2] + in_window[-5:]  # on every page, whichever way the platform sorts
        page = await bulk.connector.get_orders(asked, modified_between=(_at(now - 60), _at(now + 60)))
        assert _ids(page) == sorted(set(asked))
        assert bulk.calls.count <= math.ceil(130 / 100) + 1

    async def test_get_orders_gives_up_on_a_window_far_busier_than_asked(self, bulk: Bulk) -> None:
        now = self._now()
        in_window = self._orders_at(bulk.box, now, 500)
        asked = [in_window[0], in_window[250], in_window[-1]]
        page = await bulk.connector.get_orders(asked, modified_between=(_at(now - 60), _at(now + 60)))
        assert bulk.calls.count == 1, "paging 500 orders (4 more pages) to find 3 costs more than fetching the 3"
        assert set(_ids(page)) <= set(asked) and page.rejected == {}

    async def test_get_orders_reports_an_order_that_does_not_map_by_id(self, bulk: Bulk) -> None:
        now = self._now()
        good, bad, other = self._orders_at(bulk.box, now, 3)
        self.spoil_order(bulk.box, bad)
        page = await bulk.connector.get_orders([good, bad, other], modified_between=(_at(now - 60), _at(now + 60)))
        assert _ids(page) == sorted([good, other])
        assert list(page.rejected) == [bad] and page.rejected[bad]

    async def test_get_orders_without_a_window_asks_nothing(self, bulk: Bulk) -> None:
        [asked] = self._orders_at(bulk.box, self._now(), 1)
        page = await bulk.connector.get_orders([asked])
        assert page.orders == [] and page.rejected == {} and bulk.calls.count == 0

    async def test_messages_name_a_window_in_which_get_orders_finds_their_orders(self, bulk: Bulk) -> None:
        now = self._now()
        made = self._orders_at(bulk.box, now, 3)
        messages = [m for m in await self.order_messages(bulk.box, bulk.connector)
                    if m.kind is MessageKind.ORDER and m.external_id in made]
        assert {m.external_id for m in messages} == set(made)
        times = [m.occurred_at for m in messages]
        assert all(t is not None for t in times), [(m.topic, m.payload) for m in messages if m.occurred_at is None]
        stamped = [t for t in times if t is not None]
        skew = timedelta(minutes=1)
        page = await bulk.connector.get_orders(made, modified_between=(min(stamped) - skew, max(stamped) + skew))
        assert _ids(page) == sorted(made)
