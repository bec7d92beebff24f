"""The connector conformance suite every channel plugin must pass.

Subclass it in your plugin's tests and name the classes::

    from hub.testing.conformance import ChannelConformance

    class TestTaobaoConformance(ChannelConformance):
        connector_class = TaobaoChannel
        sandbox_class = TaobaoSandbox

Each test drives your connector against your sandbox over real HTTP (uvicorn on 127.0.0.1) and
checks what the hub relies on: settings errors name the field, orders map and round-trip, statuses
only move forward, faults are classified (throttle → ``ThrottledError`` with ``retry_after``,
transient errors ridden out, lost authorisation → ``AuthorizationError``), bad push signatures are
rejected, stock pushes set absolute values, stock changes move the value by their delta (a
decrement past 0 is never reported as applied in full, a keyed change resent is applied once),
polls and message channels find new orders, a polled order equals one fetched by id (what a push
leads to) in every field the hub stores, at each step of its life, a message channel delivers nothing until
``open_message_channel`` opened it (set ``channel_needs_opening = False`` for a platform whose
channel is open without asking; opening must still succeed and be repeatable), a listed SKU is
found by its merchant code under the ids its orders carry. Tests for
capabilities a connector does not declare are skipped, so the suite never asks for pretence.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from contracts import Capability, ChannelStock, ChannelStockChange, Order, OrderStatus
from hub.asgi_server import serve_in_thread
from hub.errors import AuthorizationError, BadInputError, RetryableError, SignatureError, ThrottledError
from hub.testing.context import make_context


class ChannelConformance:
    """Base class of the channel conformance suite (see the module docstring)."""

    connector_class: ClassVar[type[Any]]
    sandbox_class: ClassVar[type[Any]]
    shop: ClassVar[str] = "conformance-shop"
    merchant_sku: ClassVar[str] = "CONF-SKU-1"
    #: The platform delivers an account's messages only after ``open_message_channel`` (TMC).
    channel_needs_opening: ClassVar[bool] = True

    def _requires(self, capability: Capability) -> None:
        if capability not in self.connector_class.capabilities:
            pytest.skip(f"{self.connector_class.__name__} does not declare {capability.value}")

    @pytest.fixture
    def sandbox(self) -> Iterator[tuple[Any, str]]:
        sandbox = self.sandbox_class()
        with serve_in_thread(sandbox.app) as base_url:
            yield sandbox, base_url

    @pytest.fixture
    async def connector(self, sandbox: tuple[Any, str]) -> AsyncIterator[Any]:
        box, base_url = sandbox
        context = make_context(self.connector_class, self.shop, box.shop_settings(self.shop, base_url))
        connector = self.connector_class(context)
        yield connector
        await connector.aclose()

    # -- declarations ----------------------------------------------------------------------------

    def test_declares_platform_capabilities_and_settings(self) -> None:
        cls = self.connector_class
        assert isinstance(cls.platform, str) and cls.platform
        assert isinstance(cls.capabilities, frozenset) and all(isinstance(c, Capability) for c in cls.capabilities)
        assert hasattr(cls.Settings, "model_validate")
        assert self.sandbox_class.platform == cls.platform

    def test_missing_settings_are_named(self) -> None:
        with pytest.raises(ValidationError) as info:
            self.connector_class.Settings.model_validate({})
        named = {str(err["loc"][0]) for err in info.value.errors()}
        assert named, "a settings error must name the field"

    # -- orders ----------------------------------------------------------------------------------

    async def test_created_order_maps_and_round_trips(self, sandbox: tuple[Any, str], connector: Any) -> None:
        self._requires(Capability.GET_ORDER)
        box, _ = sandbox
        external_id = box.create_order(self.shop, self.merchant_sku, 2)
        order = await connector.get_order(external_id)
        assert isinstance(order, Order)
        assert order.ref.external_id == external_id and order.ref.platform == self.connector_class.platform
        assert any(line.merchant_sku == self.merchant_sku and line.quantity == 2 for line in order.lines)
        assert order.status in (OrderStatus.PAID, OrderStatus.PENDING_PAYMENT)
        assert Order.model_validate_json(order.model_dump_json()) == order

    async def test_advancing_an_order_moves_its_status_forward(self, sandbox: tuple[Any, str],
                                                               connector: Any) -> None:
        self._requires(Capability.GET_ORDER)
        box, _ = sandbox
        external_id = box.create_order(self.shop, self.merchant_sku, 1)
        before = (await connector.get_order(external_id)).status
        box.advance_order(self.shop, external_id)
        after = (await connector.get_order(external_id)).status
        assert after.progress > before.progress

    async def test_poll_finds_a_new_order(self, sandbox: tuple[Any, str], connector: Any) -> None:
        self._requires(Capability.POLL_ORDERS)
        box, _ = sandbox
        external_id = box.create_order(self.shop, self.merchant_sku, 1)
        now = datetime.now(UTC)
        found: list[str] = []
        cursor = None
        while True:
            page = await connector.fetch_orders(now - timedelta(minutes=10), now + timedelta(minutes=1), cursor)
            found += [o.ref.external_id for o in page.orders]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert external_id in found

    async def _polled(self, connector: Any, external_id: str) -> Order:
        """The order as the safety-net poll sees it (``fetch_orders`` over a recent window)."""
        now = datetime.now(UTC)
        cursor = None
        while True:
            page = await connector.fetch_orders(now - timedelta(minutes=10), now + timedelta(minutes=1), cursor)
            for order in page.orders:
                if order.ref.external_id == external_id:
                    return order
            cursor = page.next_cursor
            if cursor is None:
                raise AssertionError(f"order {external_id} not found by polling")

    @staticmethod
    def _assert_same_order(polled: Order, pushed: Order) -> None:
        """Polling must not give less than the push path: the hub stores the whole ``Order``
        (dates, notes, tags, ``extra`` included), so the two must be equal field by field."""
        assert pushed.shipping_address is not None, "get_order gave no shipping address"
        # Masked or encrypted fields are compared as the platform gives them.
        differ = _differences(polled.model_dump(mode="json"), pushed.model_dump(mode="json"))
        assert not differ, "the polled order differs from get_order's: " + "; ".join(differ)

    async def test_polled_orders_are_as_complete_as_fetched_ones(self, sandbox: tuple[Any, str],
                                                                 connector: Any) -> None:
        """A shop that only polls (no push, or pushes lost) must get the same order — every field
        the hub stores — as one whose push made the hub call ``get_order``, at each step of its
        life (new, then advanced by the sandbox until it finishes)."""
        self._requires(Capability.POLL_ORDERS)
        self._requires(Capability.GET_ORDER)
        box, _ = sandbox
        external_id = box.create_order(self.shop, self.merchant_sku, 2)
        for step in range(4):
            if step:
                box.advance_order(self.shop, external_id)
            self._assert_same_order(await self._polled(connector, external_id),
                                    await connector.get_order(external_id))

    async def test_message_channel_delivers_new_orders(self, sandbox: tuple[Any, str], connector: Any) -> None:
        self._requires(Capability.MESSAGE_CHANNEL)
        box, _ = sandbox
        await connector.open_message_channel()
        external_id = box.create_order(self.shop, self.merchant_sku, 1)
        messages = await connector.consume_messages(100)
        assert any(m.external_id == external_id for m in messages)
        await connector.confirm_messages([m.message_id for m in messages])

    async def test_message_channel_delivers_only_once_opened(self, sandbox: tuple[Any, str],
                                                             connector: Any) -> None:
        self._requires(Capability.MESSAGE_CHANNEL)
        box, _ = sandbox
        external_id = box.create_order(self.shop, self.merchant_sku, 1)
        if self.channel_needs_opening:
            assert await connector.consume_messages(100) == [], "messages flowed before the channel was opened"
        topics = await connector.open_message_channel()
        assert await connector.open_message_channel() == topics, "opening again must be harmless"
        assert isinstance(topics, list) and all(isinstance(t, str) for t in topics)
        messages = await connector.consume_messages(100)
        assert any(m.external_id == external_id for m in messages)

    # -- faults ----------------------------------------------------------------------------------

    async def test_throttling_is_classified_with_retry_after(self, sandbox: tuple[Any, str],
                                                             connector: Any) -> None:
        self._requires(Capability.GET_ORDER)
        box, _ = sandbox
        external_id = box.create_order(self.shop, self.merchant_sku, 1)
        box.inject_fault("throttle", count=10, seconds=30)
        with pytest.raises(ThrottledError) as info:
            await connector.get_order(external_id)
        assert info.value.retry_after is not None and info.value.retry_after > 0

    async def test_a_transient_error_is_ridden_out(self, sandbox: tuple[Any, str], connector: Any) -> None:
        self._requires(Capability.GET_ORDER)
        box, _ = sandbox
        external_id = box.create_order(self.shop, self.merchant_sku, 1)
        box.inject_fault("unavailable", count=1)
        order = await connector.get_order(external_id)
        assert order.ref.external_id == external_id

    async def test_persistent_unavailability_is_retryable(self, sandbox: tuple[Any, str], connector: Any) -> None:
        self._requires(Capability.GET_ORDER)
        box, _ = sandbox
        external_id = box.create_order(self.shop, self.merchant_sku, 1)
        box.inject_fault("unavailable", count=50)
        with pytest.raises(RetryableError):
            await connector.get_order(external_id)

    async def test_lost_authorisation_is_an_authorization_error(self, sandbox: tuple[Any, str],
                                                                connector: Any) -> None:
        self._requires(Capability.GET_ORDER)
        box, _ = sandbox
        external_id = box.create_order(self.shop, self.merchant_sku, 1)
        box.inject_fault("auth", count=50)
        with pytest.raises(AuthorizationError):
            await connector.get_order(external_id)

    def test_push_with_bad_signature_is_rejected(self, connector: Any) -> None:
        self._requires(Capability.RECEIVE_PUSH)
        with pytest.raises((SignatureError, BadInputError)):
            connector.parse_push({"content-type": "application/json"}, b'[{"tag":"100","msg_id":"1","data":"{}"}]')

    # -- stock -----------------------------------------------------------------------------------

    async def test_stock_push_sets_absolute_values(self, sandbox: tuple[Any, str], connector: Any) -> None:
        self._requires(Capability.PUSH_STOCK)
        self._requires(Capability.GET_ORDER)
        box, _ = sandbox
        order = await connector.get_order(box.create_order(self.shop, self.merchant_sku, 1))
        line = next(line for line in order.lines if line.merchant_sku == self.merchant_sku)
        value = ChannelStock(shop=self.shop, merchant_sku=self.merchant_sku, channel_item_id=line.channel_item_id,
                             channel_sku_id=line.channel_sku_id, quantity=7)
        results = await connector.push_stock([value])
        assert [r.ok for r in results] == [True]
        assert box.shown_stock(self.shop, self.merchant_sku) == 7
        await connector.push_stock([value.model_copy(update={"quantity": 3})])
        assert box.shown_stock(self.shop, self.merchant_sku) == 3

    async def _listed_at(self, box: Any, connector: Any, quantity: int) -> ChannelStockChange:
        order = await connector.get_order(box.create_order(self.shop, self.merchant_sku, 1))
        line = next(line for line in order.lines if line.merchant_sku == self.merchant_sku)
        await connector.push_stock([ChannelStock(shop=self.shop, merchant_sku=self.merchant_sku,
                                                 channel_item_id=line.channel_item_id,
                                                 channel_sku_id=line.channel_sku_id, quantity=quantity)])
        return ChannelStockChange(shop=self.shop, merchant_sku=self.merchant_sku, channel_item_id=line.channel_item_id,
                                  channel_sku_id=line.channel_sku_id, delta=1, key="0" * 32)

    async def test_stock_changes_move_the_value_and_a_decrement_past_zero_is_not_reported_in_full(
        self, sandbox: tuple[Any, str], connector: Any
    ) -> None:
        self._requires(Capability.ADJUST_STOCK)
        self._requires(Capability.GET_ORDER)
        box, _ = sandbox
        change = await self._listed_at(box, connector, 5)
        raised = await connector.adjust_stock([change.model_copy(update={"delta": 3, "key": "a" * 32})])
        assert [r.ok for r in raised] == [True] and box.shown_stock(self.shop, self.merchant_sku) == 8
        [lowered] = await connector.adjust_stock([change.model_copy(update={"delta": -2, "key": "b" * 32})])
        assert lowered.ok and box.shown_stock(self.shop, self.merchant_sku) == 6
        assert lowered.applied == -2 or (lowered.applied is None and lowered.quantity == 6)
        [past_zero] = await connector.adjust_stock([change.model_copy(update={"delta": -10, "key": "c" * 32})])
        # Cut short at 0 or refused: either way the hub must not be told all 10 left the shop.
        assert box.shown_stock(self.shop, self.merchant_sku) in (0, 6)
        if past_zero.ok:
            in_full = past_zero.applied == -10 or (past_zero.applied is None and (past_zero.quantity or 0) > 0)
            assert not in_full, past_zero

    async def test_a_keyed_stock_change_sent_twice_is_applied_once(self, sandbox: tuple[Any, str],
                                                                    connector: Any) -> None:
        self._requires(Capability.ADJUST_STOCK)
        self._requires(Capability.GET_ORDER)
        if not getattr(self.connector_class, "stock_adjust_idempotent", False):
            pytest.skip(f"{self.connector_class.__name__} changes carry no idempotency key")
        box, _ = sandbox
        change = await self._listed_at(box, connector, 5)
        first = await connector.adjust_stock([change.model_copy(update={"delta": 2, "key": "d" * 32})])
        again = await connector.adjust_stock([change.model_copy(update={"delta": 2, "key": "d" * 32})])
        assert [r.ok for r in first + again] == [True, True]
        assert box.shown_stock(self.shop, self.merchant_sku) == 7


    # -- listings --------------------------------------------------------------------------------

    async def test_listings_name_each_sku_by_merchant_code_under_the_ids_orders_carry(
        self, sandbox: tuple[Any, str], connector: Any
    ) -> None:
        """Bind before the first sale: the listing found by its code has the item (and SKU) id an
        order line for it names, so a binding made from it needs no learning from that order."""
        self._requires(Capability.LIST_LISTINGS)
        self._requires(Capability.GET_ORDER)
        box, _ = sandbox
        order = await connector.get_order(box.create_order(self.shop, self.merchant_sku, 1))
        line = next(line for line in order.lines if line.merchant_sku == self.merchant_sku)
        found, cursor, pages = [], None, 0
        while True:
            page = await connector.fetch_listings(cursor)
            found += page.listings
            pages += 1
            if page.next_cursor is None or pages > 100:
                break
            cursor = page.next_cursor
        mine = [item for item in found if item.merchant_code == self.merchant_sku]
        assert len(mine) == 1, found
        assert mine[0].channel_item_id == line.channel_item_id
        if line.channel_sku_id:
            assert mine[0].channel_sku_id == line.channel_sku_id


def _differences(polled: Any, pushed: Any, path: str = "order") -> list[str]:
    """Where two dumped orders differ, each as ``path: polled … vs get_order …``."""
    if isinstance(polled, dict) and isinstance(pushed, dict):
        return [d for key in sorted(set(polled) | set(pushed), key=str)
                for d in _differences(polled.get(key), pushed.get(key), f"{path}.{key}")]
    if isinstance(polled, list) and isinstance(pushed, list) and len(polled) == len(pushed):
        return [d for i, (a, b) in enumerate(zip(polled, pushed, strict=True))
                for d in _differences(a, b, f"{path}[{i}]")]
    return [] if polled == pushed else [f"{path}: polled {polled!r} vs get_order {pushed!r}"]
