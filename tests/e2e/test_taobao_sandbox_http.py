"""The Taobao connector against its sandbox over real HTTP (uvicorn on 127.0.0.1, a free port)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from contracts import ChannelStock, InboundMessage, MessageKind, OrderStatus, Parcel, ParcelItem, Shipment
from hub.errors import AuthorizationError, BadInputError, PermanentError, ThrottledError
from hub.testing.conformance import ChannelConformance
from hub.testing.context import make_context
from hub.testing.get_orders_conformance import GetOrdersConformance
from plugins.taobao.client import TopClient, unwrap_list
from plugins.taobao.connector import TaobaoChannel
from plugins.taobao.mapping import format_top_time
from plugins.taobao.sandbox import APP_KEY, APP_SECRET, SoldOut, TaobaoSandbox, serve_in_thread

pytestmark = pytest.mark.e2e
SHOP = "tb-e2e"


class TestTaobaoConformance(ChannelConformance, GetOrdersConformance):
    connector_class = TaobaoChannel
    sandbox_class = TaobaoSandbox

    def spoil_order(self, box: TaobaoSandbox, external_id: str) -> None:
        with box.lock:
            box.shop(self.shop).trades[external_id]["status"] = "TRADE_SOMETHING_NEW"

    async def order_messages(self, box: TaobaoSandbox, connector: TaobaoChannel) -> list[InboundMessage]:
        await connector.open_message_channel()
        return await connector.consume_messages(200)


class TmcClock:
    """The sandbox's TMC clock, moved by the test: redelivery never races the machine's speed."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def served() -> Iterator[tuple[TaobaoSandbox, str]]:
    box = TaobaoSandbox(redelivery_seconds=5)
    box.gateway.tmc.clock = TmcClock()
    with serve_in_thread(box.app) as base_url:
        yield box, base_url


def _connector(box: TaobaoSandbox, base_url: str, **overrides: Any) -> TaobaoChannel:
    return TaobaoChannel(make_context(TaobaoChannel, SHOP, {**box.shop_settings(SHOP, base_url), **overrides}))


@pytest.fixture
async def channel(served: tuple[TaobaoSandbox, str]) -> AsyncIterator[TaobaoChannel]:
    connector = _connector(*served)
    await connector.open_message_channel()  # TMC delivers nothing before the permit
    yield connector
    await connector.aclose()


async def test_new_order_arrives_over_tmc_and_maps(served: tuple[TaobaoSandbox, str], channel: TaobaoChannel) -> None:
    box, _ = served
    tid = box.create_order(SHOP, "TEE-M", 2)
    messages = await channel.consume_messages(50)
    assert {m.topic for m in messages} == {"taobao_trade_TradeCreate", "taobao_trade_TradeBuyerPay"}
    assert all(m.kind is MessageKind.ORDER and m.external_id == tid for m in messages)
    order = await channel.get_order(tid)
    assert order.status is OrderStatus.PAID and order.lines[0].merchant_sku == "TEE-M"
    assert order.lines[0].quantity == 2 and box.shown_stock(SHOP, "TEE-M") == 98


async def test_unconfirmed_messages_are_redelivered_and_confirmed_ones_are_not(
        served: tuple[TaobaoSandbox, str], channel: TaobaoChannel) -> None:
    box, _ = served
    box.create_order(SHOP, "TEE-M", 1)
    clock = box.gateway.tmc.clock
    assert isinstance(clock, TmcClock)
    first = await channel.consume_messages(50)
    clock.now += 4.9
    assert await channel.consume_messages(50) == []  # in flight
    clock.now += 0.2
    again = await channel.consume_messages(50)
    assert [m.message_id for m in again] == [m.message_id for m in first]
    await channel.confirm_messages([m.message_id for m in again])
    clock.now += 60
    assert await channel.consume_messages(50) == []


async def test_polling_pages_backwards_and_finds_every_order(served: tuple[TaobaoSandbox, str]) -> None:
    box, base_url = served
    connector = _connector(box, base_url, page_size=3)
    tids = {box.create_order(SHOP, "TEE-M", 1) for _ in range(8)}
    now = datetime.now(UTC)
    found: list[str] = []
    cursors: list[str | None] = []
    cursor = None
    while True:
        page = await connector.fetch_orders(now - timedelta(minutes=5), now + timedelta(minutes=1), cursor)
        found += [o.ref.external_id for o in page.orders]
        cursor = page.next_cursor
        cursors.append(cursor)
        if cursor is None:
            break
    await connector.aclose()
    assert cursors == ["page:2", "page:1", None]  # 8 trades, 3 a page: pages 3, 2, 1
    assert set(found) == tids and len(found) == 8


async def test_polled_trades_carry_the_buyer_message_the_list_answer_leaves_out(
        served: tuple[TaobaoSandbox, str]) -> None:
    """The review holds on a buyer remark: an order first seen by the poll must carry it too."""
    box, base_url = served
    connector = _connector(box, base_url)
    quiet = box.create_order(SHOP, "TEE-M", 1)
    noted = box.create_order(SHOP, "TEE-M", 1, buyer_message="请周末送")
    now = datetime.now(UTC)
    page = await connector.fetch_orders(now - timedelta(minutes=5), now + timedelta(minutes=1), None)
    await connector.aclose()
    notes = {o.ref.external_id: o.buyer_note for o in page.orders}
    assert notes == {quiet: None, noted: "请周末送"}
    assert box.gateway.calls.count("taobao.trade.fullinfo.get") == 1  # only the trade the list left short


async def test_windows_longer_than_a_day_are_refused(channel: TaobaoChannel) -> None:
    now = datetime.now(UTC)
    with pytest.raises(BadInputError, match="1 day"):
        await channel.fetch_orders(now - timedelta(days=1, seconds=1), now, None)


async def test_pushing_45_skus_makes_3_calls_and_the_shop_shows_them(served: tuple[TaobaoSandbox, str],
                                                                      channel: TaobaoChannel) -> None:
    box, _ = served
    codes = [f"SKU-{i:02d}" for i in range(45)]
    item = box.add_listing(SHOP, codes)
    by_code = {s.outer_id: s.sku_id for s in item.skus.values()}
    values = [ChannelStock(shop=SHOP, merchant_sku=c, channel_item_id=item.num_iid, channel_sku_id=by_code[c],
                           quantity=i) for i, c in enumerate(codes)]
    before = len(box.gateway.calls)
    results = await channel.push_stock(values)
    assert box.gateway.calls[before:] == ["taobao.skus.quantity.update"] * 3
    assert all(r.ok for r in results) and len(results) == 45
    assert [box.shown_stock(SHOP, c) for c in codes] == list(range(45))
    readings = await channel.read_stock(values[:2])
    assert [r.quantity for r in readings] == [0, 1]


async def test_items_without_skus_use_item_quantity_update(served: tuple[TaobaoSandbox, str],
                                                           channel: TaobaoChannel) -> None:
    box, _ = served
    item = box.add_listing(SHOP, ["PLAIN"], with_skus=False)
    results = await channel.push_stock([ChannelStock(shop=SHOP, merchant_sku="PLAIN", channel_item_id=item.num_iid,
                                                     quantity=5)])
    assert results[0].ok and box.shown_stock(SHOP, "PLAIN") == 5


def test_an_order_larger_than_the_shown_stock_is_sold_out() -> None:
    box = TaobaoSandbox()
    box.add_listing(SHOP, ["RARE"], stock=1)
    with pytest.raises(SoldOut):
        box.create_order(SHOP, "RARE", 2)


async def test_throttling_raises_with_the_ban_plus_one(served: tuple[TaobaoSandbox, str],
                                                       channel: TaobaoChannel) -> None:
    box, _ = served
    tid = box.create_order(SHOP, "TEE-M", 1)
    box.inject_fault("throttle", count=3, seconds=30)
    with pytest.raises(ThrottledError) as info:
        await channel.get_order(tid)
    assert info.value.retry_after == 31


async def test_a_single_isp_error_is_ridden_out(served: tuple[TaobaoSandbox, str], channel: TaobaoChannel) -> None:
    box, _ = served
    tid = box.create_order(SHOP, "TEE-M", 1)
    box.inject_fault("unavailable", count=1)
    assert (await channel.get_order(tid)).ref.external_id == tid
    assert box.gateway.faults == []


async def test_auth_fault_is_an_authorization_error_naming_the_shop(served: tuple[TaobaoSandbox, str],
                                                                    channel: TaobaoChannel) -> None:
    box, _ = served
    tid = box.create_order(SHOP, "TEE-M", 1)
    box.inject_fault("auth", count=1)
    with pytest.raises(AuthorizationError, match=f"shop '{SHOP}': session invalid"):
        await channel.get_order(tid)


async def test_wrong_secret_gets_code_25_and_a_permanent_error(served: tuple[TaobaoSandbox, str]) -> None:
    box, base_url = served
    tid = box.create_order(SHOP, "TEE-M", 1)
    connector = _connector(box, base_url, app_secret="not-the-secret", sign_method="md5")
    with pytest.raises(PermanentError, match="TOP code 25"):
        await connector.get_order(tid)
    await connector.aclose()


async def test_shipment_moves_the_trade_and_a_repeat_is_already_confirmed(
        served: tuple[TaobaoSandbox, str], channel: TaobaoChannel) -> None:
    box, _ = served
    tid = box.create_order(SHOP, "TEE-M", 1)
    order = await channel.get_order(tid)
    shipment = Shipment(order_id=1, parcels=[Parcel(courier_code="SF", tracking_number="SF100",
                                                    items=[ParcelItem(line_external_id=tid, quantity=1)])])
    first = await channel.confirm_shipment(order, shipment)
    assert first.ok and not first.already_confirmed
    assert (await channel.get_order(tid)).status is OrderStatus.SHIPPED
    again = await channel.confirm_shipment(order, shipment)
    assert again.ok and again.already_confirmed
    assert box.gateway.calls.count("taobao.logistics.offline.send") == 1


async def test_refunds_are_fetched_as_aftersales(served: tuple[TaobaoSandbox, str], channel: TaobaoChannel) -> None:
    box, _ = served
    tid = box.create_order(SHOP, "TEE-M", 1)
    refund_id = box.create_refund(SHOP, tid)
    now = datetime.now(UTC)
    cases = await channel.fetch_aftersales(now - timedelta(minutes=5), now + timedelta(minutes=1))
    assert [c.ref.external_id for c in cases] == [refund_id] and cases[0].order_ref.external_id == tid
    assert (await channel.get_aftersale(refund_id)).raw_status == "WAIT_SELLER_AGREE"


async def test_control_endpoints_drive_the_sandbox_over_http(served: tuple[TaobaoSandbox, str]) -> None:
    _, base_url = served
    async with httpx.AsyncClient(base_url=base_url) as http:
        tid = (await http.post("/_sandbox/orders", json={"shop": SHOP, "merchant_sku": "CUP", "quantity": 3})).json()
        advanced = await http.post(f"/_sandbox/orders/{tid['tid']}/advance", json={"shop": SHOP})
        stock = await http.get("/_sandbox/stock", params={"shop": SHOP, "merchant_sku": "CUP"})
        sold_out = await http.post("/_sandbox/orders", json={"shop": SHOP, "merchant_sku": "CUP", "quantity": 500})
    assert advanced.json() == {"status": "WAIT_BUYER_CONFIRM_GOODS"}
    assert stock.json() == {"quantity": 97} and sold_out.status_code == 409


# -- as strict as TOP, no stricter ---------------------------------------------------------------


def _window() -> dict[str, str]:
    now = datetime.now(UTC)
    return {"fields": "tid,status,orders", "type": "fixed",
            "start_modified": format_top_time(now - timedelta(minutes=5)),
            "end_modified": format_top_time(now + timedelta(minutes=1))}


async def test_the_gateway_answers_a_get_with_the_params_in_the_query_string(
        served: tuple[TaobaoSandbox, str]) -> None:
    box, base_url = served
    tid = box.create_order(SHOP, "TEE-M", 1)
    client = TopClient(f"{base_url}/router/rest", APP_KEY, APP_SECRET, box.shop(SHOP).session)
    form = client.request_params("taobao.trade.fullinfo.get", {"fields": "tid_str,status", "tid": tid})
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{base_url}/router/rest", params=form)
    body = client.parse_response("taobao.trade.fullinfo.get", response.status_code, response.content)
    assert body["trade"] == {"tid_str": tid, "status": "WAIT_SELLER_SEND_GOODS"}


async def test_simplified_answers_and_left_out_empty_lists_are_read(served: tuple[TaobaoSandbox, str]) -> None:
    box, base_url = served
    clients = {simplify: TopClient(f"{base_url}/router/rest", APP_KEY, APP_SECRET, box.shop(SHOP).session,
                                   simplify=simplify) for simplify in (False, True)}
    try:
        for client in clients.values():
            empty = await client.call("taobao.trades.sold.increment.get", _window())
            assert "trades" not in empty and empty["total_results"] == 0  # TOP leaves the empty list out
            assert unwrap_list(empty.get("trades")) == []
        tid = box.create_order(SHOP, "TEE-M", 1)
        for simplify, client in clients.items():
            found = await client.call("taobao.trades.sold.increment.get", _window())
            assert isinstance(found["trades"], list) is simplify  # a bare list only when simplified
            trades = unwrap_list(found["trades"])
            assert [str(t["tid"]) for t in trades] == [tid]
            assert unwrap_list(trades[0]["orders"])[0]["outer_sku_id"] == "TEE-M"
    finally:
        for client in clients.values():
            await client.aclose()


async def test_tmc_delivers_only_the_permitted_topics(served: tuple[TaobaoSandbox, str]) -> None:
    box, base_url = served
    connector = _connector(box, base_url, tmc_topics=["taobao_refund_RefundCreated"])
    try:
        tid = box.create_order(SHOP, "TEE-M", 1)
        assert await connector.consume_messages(50) == [], "nothing before the permit"
        assert await connector.open_message_channel() == ["taobao_refund_RefundCreated"]
        assert box.tmc_permitted(SHOP) == ["taobao_refund_RefundCreated"]
        assert await connector.consume_messages(50) == [], "trade topics were not permitted"
        refund_id = box.create_refund(SHOP, tid)
        messages = await connector.consume_messages(50)
        assert [(m.topic, m.external_id) for m in messages] == [("taobao_refund_RefundCreated", refund_id)]
    finally:
        await connector.aclose()


def _recent() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(minutes=5), now + timedelta(minutes=1)


async def test_get_orders_leaves_trades_whose_notes_the_list_lacks_to_get_order(
        served: tuple[TaobaoSandbox, str]) -> None:
    """increment.get's answer has neither buyer_message nor seller_memo: a trade that has a buyer
    message, or a flagged memo, is fetched alone so the warehouse still gets the note."""
    box, base_url = served
    plain = box.create_order(SHOP, "TEE-M", 1)
    messaged = box.create_order(SHOP, "TEE-M", 1, buyer_message="周一前别发货")
    memo = box.create_order(SHOP, "TEE-M", 1)
    box.set_memo(SHOP, memo, "送赠品", flag=1)
    connector = _connector(box, base_url)
    try:
        page = await connector.get_orders([plain, messaged, memo], modified_between=_recent())
        assert [o.ref.external_id for o in page.orders] == [plain] and page.rejected == {}
        assert (await connector.get_order(messaged)).buyer_note == "周一前别发货"
        assert (await connector.get_order(memo)).seller_note == "送赠品"
    finally:
        await connector.aclose()


async def test_get_orders_asks_nothing_for_a_window_over_a_day_or_when_turned_off(
        served: tuple[TaobaoSandbox, str]) -> None:
    box, base_url = served
    tid = box.create_order(SHOP, "TEE-M", 1)
    start, end = _recent()
    for connector, window in ((_connector(box, base_url), (end - timedelta(days=1, seconds=1), end)),
                              (_connector(box, base_url, bulk_fetch=False), (start, end))):
        before = len(box.gateway.calls)
        try:
            page = await connector.get_orders([tid], modified_between=window)
        finally:
            await connector.aclose()
        assert page.orders == [] and len(box.gateway.calls) == before


async def test_a_memo_message_names_the_time_of_the_change(served: tuple[TaobaoSandbox, str],
                                                           channel: TaobaoChannel) -> None:
    box, _ = served
    box.clock = lambda: datetime(2026, 1, 5, 10, 0, tzinfo=UTC).timestamp()
    tid = box.create_order(SHOP, "TEE-M", 1)
    box.clock = lambda: datetime(2026, 1, 5, 10, 30, tzinfo=UTC).timestamp()
    box.set_memo(SHOP, tid, "改地址", flag=2)
    messages = await channel.consume_messages(50)
    memo = next(m for m in messages if m.topic == "taobao_trade_TradeMemoModified")
    assert memo.external_id == tid and memo.occurred_at == datetime(2026, 1, 5, 10, 30, tzinfo=UTC)
    assert (await channel.get_order(tid)).updated_at == memo.occurred_at


# -- oaid: the id of the real recipient behind TOP's masked receiver --------------------------------

NEEDS = "receiver_name,receiver_address,created,receiver_mobile,receiver_phone"


@pytest.mark.parametrize(("fields", "include_oaid", "given"), [
    (f"tid_str,oaid,{NEEDS}", "true", True),
    (f"tid_str,oaid,{NEEDS}", None, False),  # fullinfo produces it only when include_oaid asks
    (f"tid_str,oaid,{NEEDS}".replace(",receiver_phone", ""), "true", False),  # nor without every needed field
    (f"tid_str,{NEEDS}", "true", False),  # nor when the field itself is not asked (the sandbox's strict reading)
])
async def test_fullinfo_gives_the_oaid_only_as_top_produces_it(served: tuple[TaobaoSandbox, str], fields: str,
                                                               include_oaid: str | None, given: bool) -> None:
    box, base_url = served
    tid = box.create_order(SHOP, "TEE-M", 1)
    client = TopClient(f"{base_url}/router/rest", APP_KEY, APP_SECRET, box.shop(SHOP).session)
    params = {"fields": fields, "tid": tid, **({"include_oaid": include_oaid} if include_oaid else {})}
    try:
        trade = (await client.call("taobao.trade.fullinfo.get", params))["trade"]
    finally:
        await client.aclose()
    assert trade.get("oaid") == (box.oaid_of(tid) if given else None)
    assert trade["receiver_name"] == "闫**"


async def test_orders_carry_their_trades_oaid_however_they_are_read(served: tuple[TaobaoSandbox, str]) -> None:
    """get_order (fullinfo), fetch_orders and get_orders (the list call) all keep the same stable
    oaid per trade, different between trades: what the Cainiao waybill of a masked order needs."""
    box, base_url = served
    first, second = box.create_order(SHOP, "TEE-M", 1), box.create_order(SHOP, "TEE-M", 1)
    connector = _connector(box, base_url)
    try:
        single = await connector.get_order(first)
        now = datetime.now(UTC)
        polled = await connector.fetch_orders(now - timedelta(minutes=5), now + timedelta(minutes=1), None)
        bulk = await connector.get_orders([first, second], modified_between=_recent())
    finally:
        await connector.aclose()
    assert single.extra["oaid"] == box.oaid_of(first) != box.oaid_of(second)
    for page in (polled, bulk):
        assert {o.ref.external_id: o.extra["oaid"] for o in page.orders} == {
            first: box.oaid_of(first), second: box.oaid_of(second)}
    assert box.gateway.calls.count("taobao.trade.fullinfo.get") == 1  # the list carried the oaid


async def test_a_listed_trade_without_its_oaid_is_read_with_fullinfo(served: tuple[TaobaoSandbox, str]) -> None:
    """Whether TOP's list call returns the oaid is not documented: when it does not, the trade is
    read alone, so no order reaches the hub without the id its waybill needs."""
    box, base_url = served
    tid = box.create_order(SHOP, "TEE-M", 1)
    connector = _connector(box, base_url, trade_fields="tid,tid_str,status,type,created,modified,payment,orders")
    listed = box.handlers()["taobao.trades.sold.increment.get"]

    def without_oaid(call: Any) -> dict[str, Any]:
        body = listed(call)
        for trade in body["trades"]["trade"]:
            trade.pop("oaid", None)
        return body

    box.gateway.register("taobao.trades.sold.increment.get", without_oaid)
    try:
        now = datetime.now(UTC)
        page = await connector.fetch_orders(now - timedelta(minutes=5), now + timedelta(minutes=1), None)
    finally:
        await connector.aclose()
    [order] = page.orders
    assert order.extra["oaid"] == box.oaid_of(tid)  # the connector asked for what oaid needs, whatever the setting
    assert box.gateway.calls.count("taobao.trade.fullinfo.get") == 1
