"""The Douyin connector against its sandbox over real HTTP (uvicorn on 127.0.0.1): orders, polling,
stock, shipping, after-sales, buyer data, token refresh, faults and signed pushes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracts import ChannelStock, MessageKind, OrderStatus, Parcel, ParcelItem, PushReceipt, Shipment
from hub.asgi_server import serve_in_thread
from hub.errors import AuthorizationError, PermanentError, RetryableError, ThrottledError
from hub.testing.context import make_context
from plugins.douyin.connector import DouyinChannel
from plugins.douyin.sandbox import DouyinSandbox, SoldOut, running

SHOP = "dy-flagship"
pytestmark = pytest.mark.e2e


@pytest.fixture
def sandbox() -> Iterator[tuple[DouyinSandbox, str]]:
    box = DouyinSandbox(auto_deliver=False, seed=7)
    with running(box) as base_url:
        yield box, base_url


def _connector(box: DouyinSandbox, base_url: str, **overrides: Any) -> DouyinChannel:
    settings = {**box.shop_settings(SHOP, base_url), **overrides}
    return DouyinChannel(make_context(DouyinChannel, SHOP, settings))


@pytest.fixture
async def connector(sandbox: tuple[DouyinSandbox, str]) -> AsyncIterator[DouyinChannel]:
    channel = _connector(*sandbox)
    yield channel
    await channel.aclose()


def _window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=5), now + timedelta(minutes=1)


async def test_created_order_is_fetched_with_exact_ids_and_encrypted_address(
        sandbox: tuple[DouyinSandbox, str], connector: DouyinChannel) -> None:
    box, _ = sandbox
    order_id = box.create_order(SHOP, "TEE-M", 2)
    order = await connector.get_order(order_id)
    assert order.ref.external_id == order_id and len(order_id) == 19
    assert order.status == OrderStatus.PAID and order.raw_status == "2"
    [line] = order.lines
    product_id, sku_id = box.listing(SHOP, "TEE-M")
    assert (line.merchant_sku, line.channel_item_id, line.channel_sku_id) == ("TEE-M", product_id, sku_id)
    assert line.quantity == 2 and str(line.unit_price.amount) == "19.90"
    assert order.shipping_address is not None and order.shipping_address.encrypted
    assert "张三" not in order.model_dump_json()
    revealed = await connector.reveal_address(order)
    assert (revealed.name, revealed.phone, revealed.street) == ("张三", "13812345678", "文三路 100 号")


async def test_unpaid_order_is_pending_payment_and_stock_is_taken(sandbox: tuple[DouyinSandbox, str],
                                                                  connector: DouyinChannel) -> None:
    box, _ = sandbox
    order_id = box.create_order(SHOP, "MUG", 3, paid=False)
    assert (await connector.get_order(order_id)).status == OrderStatus.PENDING_PAYMENT
    assert box.shown_stock(SHOP, "MUG") == 97  # new listings start at 100
    with pytest.raises(SoldOut):
        box.create_order(SHOP, "MUG", 98)


async def test_search_list_pages_through_the_window(sandbox: tuple[DouyinSandbox, str]) -> None:
    box, base_url = sandbox
    created = {box.create_order(SHOP, "TEE-M", 1) for _ in range(5)}
    channel = _connector(box, base_url, page_size=2)
    start, end = _window()
    found: list[str] = []
    cursors: list[str | None] = []
    cursor = None
    while True:
        page = await channel.fetch_orders(start, end, cursor)
        found += [o.ref.external_id for o in page.orders]
        cursor = page.next_cursor
        cursors.append(cursor)
        if cursor is None:
            break
    await channel.aclose()
    assert set(found) == created and len(found) == 5
    assert cursors == ["1", "2", None]
    assert box.calls.count("order.searchList") == 3


async def test_stock_for_120_skus_goes_in_three_calls(sandbox: tuple[DouyinSandbox, str],
                                                      connector: DouyinChannel) -> None:
    box, _ = sandbox
    values = []
    for i in range(120):
        product_id, sku_id = box.listing(SHOP, f"SKU-{i:03d}")
        values.append(ChannelStock(shop=SHOP, merchant_sku=f"SKU-{i:03d}", channel_item_id=product_id,
                                   channel_sku_id=sku_id, quantity=i))
    results = await connector.push_stock(values)
    assert len(results) == 120 and all(r.ok for r in results)
    assert box.calls.count("sku.syncStockBatchMultiProducts") == 3
    assert [box.shown_stock(SHOP, f"SKU-{i:03d}") for i in (0, 49, 50, 119)] == [0, 49, 50, 119]
    readings = await connector.read_stock(values[:3])
    assert sorted((r.merchant_sku, r.quantity) for r in readings) == [("SKU-000", 0), ("SKU-001", 1), ("SKU-002", 2)]


async def test_a_single_value_uses_sync_stock(sandbox: tuple[DouyinSandbox, str], connector: DouyinChannel) -> None:
    box, _ = sandbox
    product_id, sku_id = box.listing(SHOP, "ONE")
    [result] = await connector.push_stock([ChannelStock(shop=SHOP, merchant_sku="ONE", channel_item_id=product_id,
                                                        channel_sku_id=sku_id, quantity=12)])
    assert result.ok and box.shown_stock(SHOP, "ONE") == 12
    assert box.calls == ["sku.syncStock"]


def _two_listings(box: DouyinSandbox, quantity: int) -> list[ChannelStock]:
    values = []
    for code in ("A", "B"):
        product_id, sku_id = box.listing(SHOP, code)
        values.append(ChannelStock(shop=SHOP, merchant_sku=code, channel_item_id=product_id, channel_sku_id=sku_id,
                                   quantity=quantity))
    return values


async def test_a_retried_batch_reuses_its_idempotent_id_and_counts_as_done(
        sandbox: tuple[DouyinSandbox, str], connector: DouyinChannel) -> None:
    box, _ = sandbox
    values = _two_listings(box, 9)
    box.inject_fault("lost_reply")  # applied, but the answer says 20001 timeout
    results = await connector.push_stock(values)
    assert all(r.ok for r in results)
    assert box.calls.count("sku.syncStockBatchMultiProducts") == 2  # the retry met isv.idempotent-id-existed
    assert box.shown_stock(SHOP, "A") == 9 and box.shown_stock(SHOP, "B") == 9


async def test_a_batch_retried_by_the_queue_reuses_its_idempotent_id(sandbox: tuple[DouyinSandbox, str],
                                                                     connector: DouyinChannel) -> None:
    box, _ = sandbox
    values = _two_listings(box, 4)
    box.inject_fault("lost_reply")
    box.inject_fault("unavailable", count=2)
    with pytest.raises(RetryableError):
        await connector.push_stock(values)  # applied, but every answer was lost: the queue will retry
    assert box.shown_stock(SHOP, "A") == 4
    results = await connector.push_stock(values)
    assert all(r.ok for r in results)
    assert len(box.book.shop(SHOP).idempotent_ids) == 1  # the same id both times


async def test_pushing_the_same_values_again_later_is_applied(sandbox: tuple[DouyinSandbox, str],
                                                              connector: DouyinChannel) -> None:
    box, _ = sandbox
    for quantity in (5, 3, 5):
        assert all(r.ok for r in await connector.push_stock(_two_listings(box, quantity)))
        assert box.shown_stock(SHOP, "A") == quantity


async def test_an_expired_token_is_refreshed_once_and_stored(sandbox: tuple[DouyinSandbox, str],
                                                             connector: DouyinChannel) -> None:
    box, _ = sandbox
    order_id = box.create_order(SHOP, "TEE-M", 1)
    old_token = box.grant(SHOP).access_token
    box.expire_token(SHOP)
    order = await connector.get_order(order_id)
    assert order.ref.external_id == order_id
    assert box.calls == ["order.orderDetail", "token.refresh", "order.orderDetail"]
    state = connector.context.state.values  # type: ignore[attr-defined]
    assert state["access_token"] == box.grant(SHOP).access_token != old_token
    assert state["refresh_token"] == box.grant(SHOP).refresh_token
    await connector.get_order(order_id)  # the new token is used from now on
    assert box.calls.count("token.refresh") == 1


async def test_a_token_still_refused_after_refresh_needs_reauthorisation(
        sandbox: tuple[DouyinSandbox, str], connector: DouyinChannel) -> None:
    box, _ = sandbox
    order_id = box.create_order(SHOP, "TEE-M", 1)
    box.inject_fault("auth", count=2)
    with pytest.raises(AuthorizationError, match="re-authorise"):
        await connector.get_order(order_id)
    assert box.calls.count("token.refresh") == 1


async def test_throttling_raises_throttled_error(sandbox: tuple[DouyinSandbox, str],
                                                 connector: DouyinChannel) -> None:
    box, _ = sandbox
    order_id = box.create_order(SHOP, "TEE-M", 1)
    box.inject_fault("throttle", count=5)
    started = time.monotonic()
    with pytest.raises(ThrottledError) as info:
        await connector.get_order(order_id)
    assert info.value.code == "60000" and info.value.retry_after == pytest.approx(0.2)
    assert time.monotonic() - started >= 0.3  # waited between the inline attempts


async def test_closed_authorisation_is_an_authorization_error_naming_the_shop(
        sandbox: tuple[DouyinSandbox, str], connector: DouyinChannel) -> None:
    box, _ = sandbox
    order_id = box.create_order(SHOP, "TEE-M", 1)
    box.close_authorization(SHOP)
    with pytest.raises(AuthorizationError) as info:
        await connector.get_order(order_id)
    assert SHOP in str(info.value) and "dop.authorization-closed" in str(info.value)


async def test_logistics_add_ships_the_order_and_a_repeat_is_safe(sandbox: tuple[DouyinSandbox, str],
                                                                  connector: DouyinChannel) -> None:
    box, _ = sandbox
    order = await connector.get_order(box.create_order(SHOP, "TEE-M", 1))
    shipment = Shipment(order_id=1, parcels=[Parcel(courier_code="SF", tracking_number="SF1000000000001")])
    first = await connector.confirm_shipment(order, shipment)
    assert first.ok and not first.already_confirmed
    assert box.book.order(SHOP, order.ref.external_id).status == "3"
    assert box.book.order(SHOP, order.ref.external_id).logistics[0]["company"] == "shunfeng"
    again = await connector.confirm_shipment(order, shipment)
    assert again.ok and again.already_confirmed
    assert box.calls.count("order.logisticsAdd") == 1
    assert (await connector.get_order(order.ref.external_id)).status == OrderStatus.SHIPPED


async def test_partial_shipments_use_multipack_and_finish_the_order(sandbox: tuple[DouyinSandbox, str],
                                                                    connector: DouyinChannel) -> None:
    box, _ = sandbox
    order = await connector.get_order(box.create_order(SHOP, "TEE-M", 3))
    line = order.lines[0].external_id
    part = Shipment(order_id=1, partial=True, parcels=[
        Parcel(courier_code="ZTO", tracking_number="ZT01", items=[ParcelItem(line_external_id=line, quantity=1)])])
    assert (await connector.confirm_shipment(order, part)).ok
    assert (await connector.get_order(order.ref.external_id)).status == OrderStatus.PARTIALLY_SHIPPED
    rest = Shipment(order_id=1, parcels=[
        Parcel(courier_code="ZTO", tracking_number="ZT02", items=[ParcelItem(line_external_id=line, quantity=2)])])
    assert (await connector.confirm_shipment(order, rest)).ok
    assert (await connector.get_order(order.ref.external_id)).status == OrderStatus.SHIPPED
    assert box.calls.count("order.logisticsAddMultiPack") == 2


async def test_an_unknown_courier_is_refused_with_the_setting_named(sandbox: tuple[DouyinSandbox, str],
                                                                    connector: DouyinChannel) -> None:
    box, _ = sandbox
    order = await connector.get_order(box.create_order(SHOP, "TEE-M", 1))
    shipment = Shipment(order_id=1, parcels=[Parcel(courier_code="NOPE", tracking_number="X1")])
    with pytest.raises(PermanentError, match="courier_codes"):
        await connector.confirm_shipment(order, shipment)
    assert "order.logisticsCompanyList" in box.calls and box.book.order(SHOP, order.ref.external_id).status == "2"


async def test_after_sales_are_listed_and_detailed(sandbox: tuple[DouyinSandbox, str],
                                                   connector: DouyinChannel) -> None:
    box, _ = sandbox
    order_id = box.create_order(SHOP, "TEE-M", 1)
    aftersale_id = box.create_aftersale(SHOP, order_id, aftersale_type=2)
    [listed] = await connector.fetch_aftersales(*_window())
    assert listed.ref.external_id == aftersale_id and listed.order_ref.external_id == order_id
    assert listed.status.value == "requested" and listed.type.value == "refund_only"
    box.advance_aftersale(SHOP, aftersale_id)
    detail = await connector.get_aftersale(aftersale_id)
    assert detail.status.value == "refunded" and str(detail.refund_amount.amount) == "19.90"  # type: ignore[union-attr]


class PushReceiver:
    """A stand-in for the hub's webhook endpoint: verifies and parses with the connector."""

    def __init__(self, channel: DouyinChannel) -> None:
        self.channel = channel
        self.receipts: list[PushReceipt] = []
        self.app = Starlette(routes=[Route("/webhooks/douyin/" + SHOP, self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        receipt = self.channel.parse_push(request.headers, await request.body())
        self.receipts.append(receipt)
        return JSONResponse(receipt.reply_body, status_code=receipt.reply_status)


async def test_signed_pushes_trigger_order_fetches(sandbox: tuple[DouyinSandbox, str],
                                                   connector: DouyinChannel) -> None:
    box, _ = sandbox
    receiver = PushReceiver(connector)
    with serve_in_thread(receiver.app) as hub_url:
        box.set_push_target(SHOP, f"{hub_url}/webhooks/douyin/{SHOP}")
        order_id = box.create_order(SHOP, "TEE-M", 1)
        box.advance_order(SHOP, order_id)
        assert await box.deliver_pushes() == 3
    messages = [m for r in receiver.receipts for m in r.messages]
    assert [(m.kind, m.topic, m.external_id) for m in messages] == [
        (MessageKind.ORDER, "100", order_id), (MessageKind.ORDER, "101", order_id),
        (MessageKind.ORDER, "102", order_id)]
    assert all(d.status == 200 for d in box.deliveries) and len(box.deliveries) == 1  # one POST, 3 messages
    assert (await connector.get_order(messages[-1].external_id or "")).status == OrderStatus.SHIPPED


async def test_duplicated_pushes_carry_the_same_message_ids(sandbox: tuple[DouyinSandbox, str],
                                                            connector: DouyinChannel) -> None:
    box, _ = sandbox
    box.set_push_mode("duplicate")
    receiver = PushReceiver(connector)
    with serve_in_thread(receiver.app) as hub_url:
        box.set_push_target(SHOP, f"{hub_url}/webhooks/douyin/{SHOP}")
        box.create_order(SHOP, "TEE-M", 1)
        await box.deliver_pushes()
    ids = [m.message_id for r in receiver.receipts for m in r.messages]
    assert len(ids) == 4 and len(set(ids)) == 2


async def test_the_lifespan_task_delivers_pushes_by_itself(connector: DouyinChannel) -> None:
    box = DouyinSandbox(auto_deliver=True, push_interval_s=0.05)
    receiver = PushReceiver(connector)
    with running(box) as _, serve_in_thread(receiver.app) as hub_url:
        box.set_push_target(SHOP, f"{hub_url}/webhooks/douyin/{SHOP}")
        order_id = box.create_order(SHOP, "TEE-M", 1)
        for _ in range(100):
            if receiver.receipts:
                break
            await asyncio.sleep(0.05)
    assert order_id in {m.external_id for r in receiver.receipts for m in r.messages}


async def test_control_endpoints_drive_a_sandbox_over_http(sandbox: tuple[DouyinSandbox, str]) -> None:
    box, base_url = sandbox
    async with httpx.AsyncClient(base_url=base_url) as http:
        settings = (await http.post("/_sandbox/shops", json={"shop": SHOP})).json()
        created = (await http.post("/_sandbox/orders", json={"shop": SHOP, "merchant_sku": "CUP", "quantity": 4}))
        order_id = created.json()["order_id"]
        advanced = await http.post("/_sandbox/orders/advance", json={"shop": SHOP, "order_id": order_id})
        stock = (await http.get("/_sandbox/stock", params={"shop": SHOP, "merchant_sku": "CUP"})).json()
        sold_out = await http.post("/_sandbox/orders", json={"shop": SHOP, "merchant_sku": "CUP", "quantity": 999})
        bad_fault = await http.post("/_sandbox/faults", json={"fault": "meteor"})
    assert settings["app_key"] == box.app_key and settings["gateway_url"].startswith("http://127.0.0.1")
    assert advanced.json() == {"order_status": "3"} and stock == {"stock": 96}
    assert sold_out.status_code == 409 and bad_fault.status_code == 400


async def test_a_wrongly_signed_request_gets_the_signature_error_envelope(sandbox: tuple[DouyinSandbox, str]) -> None:
    box, base_url = sandbox
    settings = box.shop_settings(SHOP, base_url)
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{base_url}/order/orderDetail", content=b'{"shop_order_id":"1"}', params={
            "app_key": box.app_key, "method": "order.orderDetail", "v": "2", "timestamp": str(int(time.time())),
            "sign": "0" * 64, "sign_method": "hmac-sha256", "access_token": settings["access_token"]})
    body = answer.json()
    assert answer.status_code == 200 and body["code"] == 40003 and body["sub_code"] == "isv.signature-invalid"
