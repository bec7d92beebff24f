"""AliExpress connector against its sandbox over real HTTP (uvicorn), on both gateways."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from contracts import ChannelStock, OrderStatus, Parcel, Shipment
from hub.asgi_server import serve_in_thread
from hub.errors import AuthorizationError, ThrottledError
from hub.testing.conformance import ChannelConformance
from hub.testing.context import make_context
from plugins.aliexpress import connector as connector_module
from plugins.aliexpress.client import BEIJING, QuotaBanError, seconds_until_beijing_midnight
from plugins.aliexpress.connector import AliExpressChannel
from plugins.aliexpress.sandbox import AliExpressSandbox, SoldOut
from plugins.taobao.signing import sign_top

pytestmark = pytest.mark.e2e
SHOP = "ae-e2e"


@pytest.fixture(params=["iop", "top"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[AliExpressSandbox, str]]:
    box = AliExpressSandbox(protocol=request.param, redeliver_after=0.0)
    with serve_in_thread(box.app) as base_url:
        yield box, base_url


@pytest.fixture
async def channel(served: tuple[AliExpressSandbox, str]) -> AsyncIterator[AliExpressChannel]:
    box, base_url = served
    connector = AliExpressChannel(make_context(AliExpressChannel, SHOP, box.shop_settings(SHOP, base_url)))
    await connector.open_message_channel()  # TMC delivers nothing before the permit
    yield connector
    await connector.aclose()


async def test_new_order_arrives_over_tmc_and_maps(served: tuple[AliExpressSandbox, str],
                                                   channel: AliExpressChannel) -> None:
    box, _ = served
    order_id = box.create_order(SHOP, "AE-SKU-1", 2)
    messages = await channel.consume_messages(50)
    assert {m.external_id for m in messages} == {order_id}
    assert all(m.kind == "order" and m.topic.startswith("aliexpress_order_") for m in messages)
    order = await channel.get_order(messages[0].external_id or "")
    assert order.status == OrderStatus.PAID and order.raw_status == "WAIT_SELLER_SEND_GOODS"
    assert order.lines[0].merchant_sku == "AE-SKU-1" and order.lines[0].quantity == 2
    assert order.total.currency == "USD" and order.shipping_address is not None
    await channel.confirm_messages([m.message_id for m in messages])
    assert await channel.consume_messages(50) == []


async def test_unconfirmed_tmc_messages_are_redelivered(served: tuple[AliExpressSandbox, str],
                                                        channel: AliExpressChannel) -> None:
    box, _ = served
    box.create_order(SHOP, "AE-SKU-1", 1)
    first = await channel.consume_messages(50)
    again = await channel.consume_messages(50)
    assert [m.message_id for m in again] == [m.message_id for m in first]


async def test_poll_by_modified_time_finds_the_order(served: tuple[AliExpressSandbox, str],
                                                     channel: AliExpressChannel) -> None:
    box, _ = served
    order_id = box.create_order(SHOP, "AE-SKU-2", 1)
    now = datetime.now(UTC)
    page = await channel.fetch_orders(now - timedelta(minutes=5), now + timedelta(minutes=1), None)
    assert [o.ref.external_id for o in page.orders] == [order_id] and page.next_cursor is None
    earlier = await channel.fetch_orders(now - timedelta(days=2), now - timedelta(days=1), None)
    assert earlier.orders == []


async def test_polled_orders_carry_the_shipping_address(served: tuple[AliExpressSandbox, str],
                                                         channel: AliExpressChannel) -> None:
    box, _ = served
    ids = {box.create_order(SHOP, f"ADDR-{i}", 1) for i in range(3)}
    box.calls.clear()
    now = datetime.now(UTC)
    page = await channel.fetch_orders(now - timedelta(minutes=5), now + timedelta(minutes=1), None)
    assert {o.ref.external_id for o in page.orders} == ids
    assert all(o.shipping_address is not None and o.shipping_address.city == "San Jose" for o in page.orders)
    # One address call per listed order, and no detail call on top of it.
    assert sorted(box.calls) == ["aliexpress.solution.order.get"] + ["aliexpress.solution.order.receiptinfo.get"] * 3


async def test_a_repeated_poll_reads_again_only_the_addresses_of_orders_modified_since(
        served: tuple[AliExpressSandbox, str], channel: AliExpressChannel) -> None:
    """The poll's overlap lists an order on every run: its address is read once per modification."""
    box, _ = served
    ids = sorted(box.create_order(SHOP, f"AGAIN-{i}", 1) for i in range(3))
    now = datetime.now(UTC)
    await channel.fetch_orders(now - timedelta(minutes=5), now + timedelta(minutes=1), None)
    box._shop(SHOP).orders[ids[0]].modified = "2099-01-01 00:00:00"  # changed since (stamp made distinct)
    box.calls.clear()
    page = await channel.fetch_orders(now - timedelta(minutes=5), now + timedelta(days=30_000), None)
    assert {o.ref.external_id for o in page.orders} == set(ids)
    assert all(o.shipping_address is not None and o.shipping_address.city == "San Jose" for o in page.orders)
    assert sorted(box.calls) == ["aliexpress.solution.order.get", "aliexpress.solution.order.receiptinfo.get"]


async def test_addresses_are_kept_in_memory_only_while_they_can_be_reused(
        served: tuple[AliExpressSandbox, str], channel: AliExpressChannel, monkeypatch: pytest.MonkeyPatch) -> None:
    """A long-running worker keeps only the last ``RECEIPT_REUSE_S`` of buyers' addresses: the ones
    read earlier are dropped at the next read, not when the cache is full."""
    box, _ = served
    clock = [1_000.0]
    monkeypatch.setattr(connector_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    now = datetime.now(UTC)
    for i in range(3):
        box.create_order(SHOP, f"KEPT-{i}", 1)
    await channel.fetch_orders(now - timedelta(minutes=5), now + timedelta(minutes=1), None)
    assert len(channel._receipts) == 3
    clock[0] += connector_module.RECEIPT_REUSE_S + 1
    box._shop(SHOP).orders[box.create_order(SHOP, "LATER", 1)].modified = "2099-01-01 00:00:00"
    page = await channel.fetch_orders(datetime(2098, 12, 31, tzinfo=UTC), datetime(2099, 1, 2, tzinfo=UTC), None)
    assert [o.shipping_address is not None for o in page.orders] == [True]
    assert len(channel._receipts) == 1, "the three older addresses are gone"


async def test_a_polled_order_whose_address_cannot_be_read_is_rejected_not_stored_bare(
        served: tuple[AliExpressSandbox, str], channel: AliExpressChannel) -> None:
    box, _ = served
    readable, unreadable = box.create_order(SHOP, "ADDR-OK", 1), box.create_order(SHOP, "ADDR-LOST", 1)
    box.unreadable_receipts.add(unreadable)
    now = datetime.now(UTC)
    page = await channel.fetch_orders(now - timedelta(minutes=5), now + timedelta(minutes=1), None)
    assert [o.ref.external_id for o in page.orders] == [readable]
    assert list(page.rejected) == [unreadable] and "address" in page.rejected[unreadable]


async def test_poll_pages_with_the_cursor(served: tuple[AliExpressSandbox, str]) -> None:
    box, base_url = served
    settings = {**box.shop_settings(SHOP, base_url), "page_size": 2}
    connector = AliExpressChannel(make_context(AliExpressChannel, SHOP, settings))
    ids = {box.create_order(SHOP, f"P-{i}", 1) for i in range(5)}
    now, cursor, seen = datetime.now(UTC), None, set()
    while True:
        page = await connector.fetch_orders(now - timedelta(minutes=5), now + timedelta(minutes=1), cursor)
        seen |= {o.ref.external_id for o in page.orders}
        cursor = page.next_cursor
        if cursor is None:
            break
    await connector.aclose()
    assert seen == ids


async def test_stock_for_25_products_goes_in_two_calls_and_failures_are_reported_per_sku(
        served: tuple[AliExpressSandbox, str], channel: AliExpressChannel) -> None:
    box, _ = served
    values = []
    for p in range(25):
        product_id = f"{1005001000000000 + p}"
        for s in range(3):
            box.ensure_listing(SHOP, f"SKU-{p}-{s}", product_id)
            values.append(ChannelStock(shop=SHOP, merchant_sku=f"SKU-{p}-{s}", channel_item_id=product_id, quantity=p))
    box.stock_failures["1005001000000007"] = ("product_locked", "product is under review")
    before = len(box.calls)
    results = await channel.push_stock(values)
    assert box.calls[before:] == ["aliexpress.solution.batch.product.inventory.update"] * 2
    failed = sorted(r.merchant_sku for r in results if not r.ok)
    assert failed == ["SKU-7-0", "SKU-7-1", "SKU-7-2"]
    assert {r.error_code for r in results if not r.ok} == {"product_locked"}
    assert len(results) == 75
    assert box.shown_stock(SHOP, "SKU-24-2") == 24 and box.shown_stock(SHOP, "SKU-7-1") == 100


async def test_new_listings_start_at_100_and_orders_take_stock(served: tuple[AliExpressSandbox, str]) -> None:
    box, _ = served
    box.create_order(SHOP, "FRESH", 98)
    assert box.shown_stock(SHOP, "FRESH") == 2
    with pytest.raises(SoldOut):
        box.create_order(SHOP, "FRESH", 3)


async def test_fulfilment_ships_the_order_and_a_retry_is_already_confirmed(
        served: tuple[AliExpressSandbox, str], channel: AliExpressChannel) -> None:
    box, _ = served
    order = await channel.get_order(box.create_order(SHOP, "AE-SKU-3", 1))
    shipment = Shipment(order_id=1, parcels=[Parcel(courier_code="SF", tracking_number="SF1234567890")])
    first = await channel.confirm_shipment(order, shipment)
    assert first.ok and not first.already_confirmed
    assert (await channel.get_order(order.ref.external_id)).status == OrderStatus.SHIPPED
    calls = len(box.calls)
    again = await channel.confirm_shipment(order, shipment)
    assert again.ok and again.already_confirmed
    assert "aliexpress.solution.order.fulfill" not in box.calls[calls:]


async def test_partial_fulfilment_moves_to_partially_shipped(served: tuple[AliExpressSandbox, str],
                                                             channel: AliExpressChannel) -> None:
    box, _ = served
    order = await channel.get_order(box.create_order(SHOP, "AE-SKU-4", 2))
    await channel.confirm_shipment(order, Shipment(order_id=1, partial=True, parcels=[
        Parcel(courier_code="EMS", tracking_number="EE123456789CN")]))
    assert (await channel.get_order(order.ref.external_id)).status == OrderStatus.PARTIALLY_SHIPPED


async def test_injected_throttle_is_a_throttled_error(served: tuple[AliExpressSandbox, str],
                                                      channel: AliExpressChannel) -> None:
    box, _ = served
    order_id = box.create_order(SHOP, "AE-SKU-5", 1)
    box.inject_fault("throttle", count=5, seconds=30)
    with pytest.raises(ThrottledError) as info:
        await channel.get_order(order_id)
    assert info.value.retry_after == 31


async def test_lost_session_is_an_authorization_error(served: tuple[AliExpressSandbox, str]) -> None:
    box, base_url = served
    settings = {**box.shop_settings(SHOP, base_url), "session": "stolen-or-expired"}
    connector = AliExpressChannel(make_context(AliExpressChannel, SHOP, settings))
    with pytest.raises(AuthorizationError):
        await connector.get_order(box.create_order(SHOP, "AE-SKU-6", 1))
    await connector.aclose()


async def test_our_quota_stops_calls_before_the_platform_bans_the_app(served: tuple[AliExpressSandbox, str]) -> None:
    box, base_url = served
    box.daily_quota = 6
    settings = {**box.shop_settings(SHOP, base_url), "daily_quota": 6, "quota_margin": 2}
    connector = AliExpressChannel(make_context(AliExpressChannel, SHOP, settings))
    order_id = box.create_order(SHOP, "AE-SKU-7", 1)
    for _ in range(4):
        await connector.get_order(order_id)
    calls = len(box.calls)
    with pytest.raises(QuotaBanError) as info:
        await connector.get_order(order_id)
    assert len(box.calls) == calls  # refused without calling the platform
    assert 0 < (info.value.retry_after or 0) <= 86400
    await connector.aclose()


async def test_the_platforms_own_quota_ban_is_respected_until_midnight(
        served: tuple[AliExpressSandbox, str]) -> None:
    box, base_url = served
    box.daily_quota = 2
    box.quota_clock = lambda: datetime(2026, 3, 1, 23, 0, tzinfo=BEIJING)
    connector = AliExpressChannel(make_context(AliExpressChannel, SHOP, box.shop_settings(SHOP, base_url)))
    order_id = box.create_order(SHOP, "AE-SKU-8", 1)
    await connector.get_order(order_id)  # detail, address included: one call
    await connector.get_order(order_id)
    with pytest.raises(ThrottledError) as info:
        await connector.get_order(order_id)
    assert info.value.retry_after is not None
    if box.protocol == "top":
        # The hub waits until midnight by its own clock (the sandbox's only decides when the quota is spent).
        assert abs(info.value.retry_after - seconds_until_beijing_midnight(datetime.now(BEIJING))) < 60
    else:
        assert info.value.retry_after > 3000  # the platform's own "ban will last for 3600 more seconds"
    if box.protocol == "top":
        # TOP's code 7 accesscontrol.limited-by-app-access-count is recorded: no more calls today.
        calls = len(box.calls)
        with pytest.raises(QuotaBanError):
            await connector.get_order(order_id)
        assert len(box.calls) == calls
    else:
        # The IOP app-quota code is [U], so it is only a throttle; after midnight calls go through.
        box.quota_clock = lambda: datetime(2026, 3, 2, 0, 0, 5, tzinfo=BEIJING)
        assert (await connector.get_order(order_id)).ref.external_id == order_id
    await connector.aclose()


async def test_issues_are_fetched_as_aftersales(served: tuple[AliExpressSandbox, str],
                                                channel: AliExpressChannel) -> None:
    box, _ = served
    order_id = box.create_order(SHOP, "AE-SKU-9", 1)
    issue_id = box.open_issue(SHOP, order_id)
    now = datetime.now(UTC)
    found = await channel.fetch_aftersales(now - timedelta(minutes=5), now + timedelta(minutes=1))
    assert [a.ref.external_id for a in found] == [issue_id]
    detail = await channel.get_aftersale(issue_id)
    assert detail.order_ref.external_id == order_id and detail.refund_amount is not None


def test_control_endpoints_drive_the_sandbox(served: tuple[AliExpressSandbox, str]) -> None:
    box, base_url = served
    with httpx.Client(base_url=base_url) as http:
        order_id = http.post("/_sandbox/orders", json={"shop": SHOP, "merchant_sku": "CTL", "quantity": 4}).json()[
            "order_id"]
        assert http.post(f"/_sandbox/orders/{order_id}/advance", json={"shop": SHOP}).json() == {
            "status": "WAIT_BUYER_ACCEPT_GOODS"}
        assert http.get("/_sandbox/stock", params={"shop": SHOP, "sku": "CTL"}).json() == {"quantity": 96}
        assert http.post("/_sandbox/faults", json={"fault": "throttle", "count": 2}).json() == {"ok": True}
        assert http.post("/_sandbox/orders", json={"shop": SHOP, "merchant_sku": "CTL", "quantity": 500}).status_code \
            == 409
    assert len(box._faults) == 2


def test_bad_signatures_are_refused_in_the_platforms_shape(served: tuple[AliExpressSandbox, str]) -> None:
    box, base_url = served
    with httpx.Client(base_url=base_url) as http:
        iop = http.post("/sync", data={"method": "aliexpress.solution.order.get", "app_key": box.app_key,
                                       "timestamp": str(int(datetime.now(UTC).timestamp() * 1000)),
                                       "sign_method": "sha256", "sign": "00"}).json()
        top = http.post("/router/rest", data={"method": "aliexpress.solution.order.get", "app_key": box.app_key,
                                              "timestamp": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
                                              "sign_method": "md5", "v": "2.0", "sign": "00"}).json()
    assert iop == {"code": "IncompleteSignature", "type": "ISV", "request_id": iop["request_id"],
                   "message": "The request signature does not conform to platform standards"}
    assert top["error_response"]["code"] == 25



def _top_call(box: AliExpressSandbox, base_url: str, method: str, *, get: bool = False, **extra: str) -> Any:
    """A raw signed call to the sandbox's TOP-style gateway, as a third-party TOP SDK sends it."""
    params = {"method": method, "app_key": box.app_key, "session": box.session_for(SHOP), "format": "json",
              "timestamp": datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S"), "sign_method": "md5", "v": "2.0",
              **extra}
    params["sign"] = sign_top(params, box.app_secret)
    with httpx.Client(base_url=base_url) as http:
        response = http.get("/router/rest", params=params) if get else http.post("/router/rest", data=params)
    return response.json()


def test_the_top_gateway_answers_as_top_does_empty_lists_left_out_and_simplify_honoured() -> None:
    """AliExpress over TOP is a TOP gateway: null fields and empty lists are left out (a client must
    read a missing list as empty), ``simplify=true`` drops the ``<method>_response`` wrapper and the
    list wrappers, and GET is as good as POST — as ``plugins.taobao.top_gateway`` answers."""
    box = AliExpressSandbox(protocol="top", redeliver_after=0.0)
    method = "aliexpress.solution.order.get"
    with serve_in_thread(box.app) as base_url:
        box.shop_settings(SHOP, base_url)  # the shop, with its session
        empty = _top_call(box, base_url, method)["aliexpress_solution_order_get_response"]["result"]
        assert "target_list" not in empty and empty["total_count"] == 0, empty
        order_id = box.create_order(SHOP, "AE-SKU-1", 1)
        wrapped = _top_call(box, base_url, method, get=True)
        simple = _top_call(box, base_url, method, get=True, simplify="true")
    listed = wrapped["aliexpress_solution_order_get_response"]["result"]["target_list"]["order_dto"]
    assert [str(o["order_id"]) for o in listed] == [order_id]
    assert "aliexpress_solution_order_get_response" not in simple, simple
    assert [str(o["order_id"]) for o in simple["result"]["target_list"]] == [order_id]


async def test_the_connector_reads_an_empty_top_answer_as_nothing() -> None:
    box = AliExpressSandbox(protocol="top", redeliver_after=0.0)
    with serve_in_thread(box.app) as base_url:
        connector = AliExpressChannel(make_context(AliExpressChannel, SHOP, box.shop_settings(SHOP, base_url)))
        try:
            now = datetime.now(UTC)
            page = await connector.fetch_orders(now - timedelta(hours=1), now, None)
            await connector.open_message_channel()
            messages = await connector.consume_messages(50)
        finally:
            await connector.aclose()
    assert page.orders == [] and page.next_cursor is None and messages == []


class TestAliExpressConformance(ChannelConformance):
    connector_class = AliExpressChannel
    sandbox_class = AliExpressSandbox


class _TopGatewaySandbox(AliExpressSandbox):
    """The same sandbox answering on the TOP-style router, as a shop with ``protocol = "top"`` uses."""

    def __init__(self) -> None:
        super().__init__(protocol="top")


class TestAliExpressTopGatewayConformance(ChannelConformance):
    connector_class = AliExpressChannel
    sandbox_class = _TopGatewaySandbox
