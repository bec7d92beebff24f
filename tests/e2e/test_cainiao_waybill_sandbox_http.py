"""The Cainiao e-waybill courier against the TOP sandbox over real HTTP (uvicorn on 127.0.0.1, a
free port) with real TOP signatures: issue, idempotency by key, a lost answer ridden out with the
same number, cancel, the TOP error classes, and the sandbox's strict validation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from contracts import Address, Capability, WaybillItem, WaybillRequest
from hub.errors import AuthorizationError, BadInputError, PermanentError, RetryableError, ThrottledError
from hub.testing.context import make_context
from plugins.taobao.cainiao import CainiaoWaybillCourier
from plugins.taobao.cainiao_mapping import GET_METHOD, REQUEST_PARAM
from plugins.taobao.client import TopClient
from plugins.taobao.sandbox import APP_KEY, APP_SECRET, TaobaoSandbox, serve_in_thread
from plugins.tmall.sandbox import TmallSandbox

pytestmark = pytest.mark.e2e
SHOP = "tb-waybills"
TEMPLATE = "http://cloudprint.cainiao.com/template/standard/101"
SENDER = Address(name="Warehouse A", phone="0571-88880000", province="浙江省", city="杭州市", district="余杭区",
                 street="文一西路 1 号")
RECIPIENT = Address(name="张三", phone="13800138000", province="河南省", city="郑州市", district="金水区",
                    street="经三路 15 号")


def waybill_request(key: str = "parcel:1", **overrides: Any) -> WaybillRequest:
    values: dict[str, Any] = {
        "key": key, "courier_code": "zto", "platform": "taobao", "shop": SHOP,
        "order_external_ids": ["3900000000000000001"], "sender": SENDER, "recipient": RECIPIENT,
        "items": [WaybillItem(name="T-shirt M", quantity=2)], "weight_grams": 400,
    }
    return WaybillRequest(**{**values, **overrides})


@pytest.fixture
def served() -> Iterator[tuple[TaobaoSandbox, str]]:
    box = TaobaoSandbox()
    with serve_in_thread(box.app) as base_url:
        yield box, base_url


def _courier(box: TaobaoSandbox, base_url: str, **overrides: Any) -> CainiaoWaybillCourier:
    shop = box.shop_settings(SHOP, base_url)
    settings = {k: shop[k] for k in ("gateway_url", "app_key", "app_secret", "session", "sign_method")}
    return CainiaoWaybillCourier(make_context(CainiaoWaybillCourier, "cainiao-main",
                                              {**settings, "template_url": TEMPLATE, **overrides}))


@pytest.fixture
async def courier(served: tuple[TaobaoSandbox, str]) -> AsyncIterator[CainiaoWaybillCourier]:
    connector = _courier(*served)
    yield connector
    await connector.aclose()


def test_declares_create_waybill_only() -> None:
    assert CainiaoWaybillCourier.platform == "cainiao"
    assert CainiaoWaybillCourier.capabilities == frozenset({Capability.CREATE_WAYBILL})


async def test_a_waybill_is_issued_with_its_print_data(served: tuple[TaobaoSandbox, str],
                                                       courier: CainiaoWaybillCourier) -> None:
    box, _ = served
    waybill = await courier.create_waybill(waybill_request())
    [issued] = box.cainiao.issued(SHOP)
    assert waybill.waybill_number == issued.waybill_code and issued.cp_code == "ZTO"
    assert waybill.key == "parcel:1" and waybill.provider == "cainiao" and not waybill.reused
    assert set(waybill.print_data) == {"data", "signature", "templateURL"}
    assert waybill.print_data == json.loads(issued.print_data)
    dto = issued.request["trade_order_info_dtos"][0]
    assert dto["object_id"] == "parcel:1" and dto["order_info"] == {
        "order_channels_type": "TB", "trade_order_list": ["3900000000000000001"]}
    assert issued.request["sender"]["address"]["detail"] == "文一西路 1 号"


async def test_the_same_key_twice_gets_one_waybill(served: tuple[TaobaoSandbox, str],
                                                   courier: CainiaoWaybillCourier) -> None:
    box, _ = served
    first = await courier.create_waybill(waybill_request())
    again = await courier.create_waybill(waybill_request())
    assert again.waybill_number == first.waybill_number and again.print_data == first.print_data
    [issued] = box.cainiao.issued(SHOP)
    assert issued.times_asked == 2


async def test_two_parcels_of_one_order_get_two_waybills(served: tuple[TaobaoSandbox, str],
                                                         courier: CainiaoWaybillCourier) -> None:
    box, _ = served
    one = await courier.create_waybill(waybill_request("parcel:1"))
    two = await courier.create_waybill(waybill_request("parcel:2"))
    assert one.waybill_number != two.waybill_number
    assert len(box.cainiao.issued(SHOP)) == 2


async def test_an_answer_lost_after_issuing_is_retried_to_the_same_number(served: tuple[TaobaoSandbox, str]) -> None:
    box, base_url = served
    connector = _courier(box, base_url, timeout_seconds=1.0)
    try:
        # The first call is served (a number issued) and its answer held back past the client's
        # timeout; the retry is what releases it, so nothing races the clock.
        box.inject_fault("lost_answer", 1, seconds=60)
        waybill = await connector.create_waybill(waybill_request())
    finally:
        await connector.aclose()
    [issued] = box.cainiao.issued(SHOP)
    assert issued.times_asked == 2 and box.gateway.calls.count(GET_METHOD) == 2
    assert waybill.waybill_number == issued.waybill_code and waybill.reused


async def test_answers_lost_every_time_end_in_a_retryable_error(served: tuple[TaobaoSandbox, str]) -> None:
    box, base_url = served
    connector = _courier(box, base_url, timeout_seconds=0.5)
    try:
        box.inject_fault("lost_answer", 3, seconds=2)  # each held answer outlives the client's timeout
        with pytest.raises(RetryableError, match="same key returns the same waybill"):
            await connector.create_waybill(waybill_request())
        waybill = await connector.create_waybill(waybill_request())  # the hub's later retry
    finally:
        await connector.aclose()
    [issued] = box.cainiao.issued(SHOP)
    assert waybill.waybill_number == issued.waybill_code and issued.times_asked == 4


async def test_a_transient_error_is_ridden_out(served: tuple[TaobaoSandbox, str],
                                               courier: CainiaoWaybillCourier) -> None:
    box, _ = served
    box.inject_fault("unavailable", 1)
    waybill = await courier.create_waybill(waybill_request())
    assert [w.waybill_code for w in box.cainiao.issued(SHOP)] == [waybill.waybill_number]


async def test_throttling_and_lost_sessions_are_classified(served: tuple[TaobaoSandbox, str],
                                                           courier: CainiaoWaybillCourier) -> None:
    box, _ = served
    box.inject_fault("throttle", 1, seconds=30)
    with pytest.raises(ThrottledError) as throttled:
        await courier.create_waybill(waybill_request())
    assert throttled.value.retry_after == 31
    box.inject_fault("auth", 5)
    with pytest.raises(AuthorizationError):
        await courier.cancel_waybill("zto", "780000000000001")
    assert box.cainiao.issued(SHOP) == []


async def test_a_courier_without_subscription_is_a_permanent_error_with_cainiaos_reason(
        served: tuple[TaobaoSandbox, str], courier: CainiaoWaybillCourier) -> None:
    box, _ = served
    box.cainiao.subscriptions[SHOP] = {"YTO"}
    with pytest.raises(PermanentError) as refused:
        await courier.create_waybill(waybill_request())
    assert "no waybill subscription for cp_code ZTO" in str(refused.value)


async def test_a_request_without_the_senders_street_never_leaves_the_hub(
        served: tuple[TaobaoSandbox, str], courier: CainiaoWaybillCourier) -> None:
    box, _ = served
    with pytest.raises(BadInputError) as bad:
        await courier.create_waybill(waybill_request(sender=SENDER.model_copy(update={"street": None})))
    assert bad.value.field == "sender.street"
    with pytest.raises(BadInputError) as unknown:
        await courier.create_waybill(waybill_request(courier_code="jtsd"))
    assert unknown.value.field == "courier_code"
    assert GET_METHOD not in box.gateway.calls


async def test_cancel_recycles_once_and_refuses_a_collected_number(served: tuple[TaobaoSandbox, str],
                                                                   courier: CainiaoWaybillCourier) -> None:
    box, _ = served
    first = await courier.create_waybill(waybill_request("parcel:1"))
    second = await courier.create_waybill(waybill_request("parcel:2"))
    assert await courier.cancel_waybill("ZTO", first.waybill_number) is True
    assert await courier.cancel_waybill("zto", first.waybill_number) is True  # cancelled already
    assert [w.waybill_code for w in box.cainiao.cancelled(SHOP)] == [first.waybill_number]
    box.cainiao.collect(second.waybill_number)
    assert await courier.cancel_waybill("zto", second.waybill_number) is False
    with pytest.raises(PermanentError):
        await courier.cancel_waybill("zto", "780000009999999")


async def test_the_tmall_sandbox_serves_the_same_methods() -> None:
    box = TmallSandbox()
    with serve_in_thread(box.app) as base_url:
        connector = _courier(box, base_url)
        try:
            waybill = await connector.create_waybill(waybill_request(platform="tmall", courier_code="yto"))
        finally:
            await connector.aclose()
    [issued] = box.cainiao.issued(SHOP)
    assert waybill.waybill_number == issued.waybill_code and waybill.waybill_number.startswith("YT")
    assert issued.request["trade_order_info_dtos"][0]["order_info"]["order_channels_type"] == "TM"


# -- masked Taobao/Tmall recipients: the trade's oaid --------------------------------------------


async def _masked_order(box: TaobaoSandbox, base_url: str) -> Any:
    """A paid sandbox trade read by the Taobao connector: TOP's masked receiver, and its oaid."""
    from plugins.taobao.connector import TaobaoChannel

    tid = box.create_order(SHOP, "TEE-M", 1)
    channel = TaobaoChannel(make_context(TaobaoChannel, SHOP, box.shop_settings(SHOP, base_url)))
    try:
        return await channel.get_order(tid)
    finally:
        await channel.aclose()


async def test_a_masked_recipient_gets_a_waybill_with_its_trades_oaid(
        served: tuple[TaobaoSandbox, str], courier: CainiaoWaybillCourier) -> None:
    box, base_url = served
    order = await _masked_order(box, base_url)
    assert order.shipping_address.name == "闫**" and order.extra["oaid"] == box.oaid_of(order.ref.external_id)
    waybill = await courier.create_waybill(waybill_request(
        recipient=order.shipping_address, recipient_oaid=order.extra["oaid"],
        order_external_ids=[order.ref.external_id]))
    [issued] = box.cainiao.issued(SHOP)
    assert waybill.waybill_number == issued.waybill_code
    sent = issued.request["trade_order_info_dtos"][0]["recipient"]
    assert (sent["oaid"], sent["tid"], sent["name"]) == (order.extra["oaid"], order.ref.external_id, "闫**")


async def test_a_masked_recipient_without_an_oaid_never_leaves_the_hub(
        served: tuple[TaobaoSandbox, str], courier: CainiaoWaybillCourier) -> None:
    box, base_url = served
    order = await _masked_order(box, base_url)
    with pytest.raises(BadInputError) as refused:
        await courier.create_waybill(waybill_request(recipient=order.shipping_address,
                                                     order_external_ids=[order.ref.external_id]))
    assert refused.value.field == "recipient_oaid" and "recipient_oaid" in str(refused.value)
    assert GET_METHOD not in box.gateway.calls and box.cainiao.issued() == []


async def test_the_sandbox_knows_only_its_sellers_oaids(served: tuple[TaobaoSandbox, str],
                                                       courier: CainiaoWaybillCourier) -> None:
    box, base_url = served
    order = await _masked_order(box, base_url)
    with pytest.raises(PermanentError) as unknown:
        await courier.create_waybill(waybill_request(recipient=order.shipping_address, recipient_oaid="NOT-AN-OAID",
                                                     order_external_ids=[order.ref.external_id]))
    assert "oaid names no trade of this seller" in str(unknown.value)
    assert box.cainiao.issued() == []


async def test_the_sandbox_refuses_a_masked_recipient_without_an_oaid(served: tuple[TaobaoSandbox, str]) -> None:
    """What the hub's own check keeps from happening: Cainiao is never asked to print ``闫**``."""
    box, base_url = served
    body = _valid_body()
    body["trade_order_info_dtos"][0]["recipient"]["name"] = "闫**"
    client = TopClient(base_url + "/router/rest", APP_KEY, APP_SECRET, box.shop(SHOP).session, "md5")
    try:
        with pytest.raises(PermanentError) as refused:
            await client.call(GET_METHOD, {REQUEST_PARAM: body}, retry=False)
    finally:
        await client.aclose()
    assert "masked or encrypted: give its oaid" in str(refused.value)
    assert box.cainiao.issued() == []


# -- the sandbox's strictness, with a raw signed client ------------------------------------------


def _valid_body() -> dict[str, Any]:
    def party() -> dict[str, Any]:
        address = {"province": "浙江省", "city": "杭州市", "detail": "1 号"}
        return {"name": "A", "mobile": "13800138000", "address": address}

    return {"cp_code": "YTO", "sender": party(), "trade_order_info_dtos": [{
        "object_id": "o1", "template_url": TEMPLATE, "recipient": party(),
        "order_info": {"order_channels_type": "TB", "trade_order_list": ["1"]},
        "package_info": {"items": [{"name": "x", "count": 1}]}}]}


def _without(body: dict[str, Any], path: str) -> dict[str, Any]:
    node: Any = body
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[parts[-1]]
    return body


@pytest.mark.parametrize(("path", "sub_code"), [
    ("cp_code", "isv.missing-parameter:cp_code"),
    ("sender.address.detail", "isv.missing-parameter:sender.address.detail"),
    ("sender.mobile", "isv.missing-parameter:sender.mobile"),
    ("trade_order_info_dtos.0.object_id", "isv.missing-parameter:trade_order_info_dtos[0].object_id"),
    ("trade_order_info_dtos.0.template_url", "isv.missing-parameter:trade_order_info_dtos[0].template_url"),
    ("trade_order_info_dtos.0.order_info.order_channels_type",
     "isv.missing-parameter:trade_order_info_dtos[0].order_info.order_channels_type"),
    ("trade_order_info_dtos.0.package_info.items", "isv.missing-parameter:trade_order_info_dtos[0].package_info.items"),
    ("trade_order_info_dtos.0.recipient.name", "isv.missing-parameter:trade_order_info_dtos[0].recipient.name"),
])
async def test_the_sandbox_refuses_what_the_api_requires(served: tuple[TaobaoSandbox, str], path: str,
                                                         sub_code: str) -> None:
    box, base_url = served
    client = TopClient(base_url + "/router/rest", APP_KEY, APP_SECRET, box.shop(SHOP).session, "md5")
    try:
        assert (await client.call(GET_METHOD, {REQUEST_PARAM: _valid_body()}))["modules"]
        with pytest.raises(PermanentError) as refused:
            await client.call(GET_METHOD, {REQUEST_PARAM: _without(_valid_body(), path)}, retry=False)
        bad_signature = TopClient(base_url + "/router/rest", APP_KEY, "wrong", box.shop(SHOP).session)
        with pytest.raises(PermanentError) as unsigned:
            await bad_signature.call(GET_METHOD, {REQUEST_PARAM: _valid_body()}, retry=False)
        await bad_signature.aclose()
    finally:
        await client.aclose()
    assert refused.value.code == "40" and sub_code in (refused.value.partner_message or "")
    assert unsigned.value.code == "25"
    assert len(box.cainiao.issued(SHOP)) == 1


async def test_a_shared_account_knows_the_other_sellers_oaids_once_shared(served: tuple[TaobaoSandbox, str],
                                                                         courier: CainiaoWaybillCourier) -> None:
    """The demo's Tmall shop ships with the Taobao shop's Cainiao account (``share_with``)."""
    box, _ = served
    tmall = TmallSandbox()
    tid = tmall.create_order("tm-demo", "TEE-M", 1)
    masked = Address(name="闫**", phone="1573672****", province="河南省", city="郑州市", street="**********")
    request = waybill_request(platform="tmall", recipient=masked, recipient_oaid=tmall.oaid_of(tid),
                              order_external_ids=[tid])
    with pytest.raises(PermanentError):
        await courier.create_waybill(request)
    box.cainiao.share_with(lambda oaid: tmall.trade_of_oaid("tm-demo", oaid))
    assert (await courier.create_waybill(request)).waybill_number == box.cainiao.issued(SHOP)[0].waybill_code
