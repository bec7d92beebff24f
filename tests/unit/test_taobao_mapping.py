"""Table tests for plugins.taobao.mapping, both directions, on the real §8 fullinfo sample."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from contracts import (
    AfterSaleStatus,
    AfterSaleType,
    ChannelStock,
    ChannelStockChange,
    OrderStatus,
    Parcel,
    ParcelItem,
    Shipment,
)
from hub.errors import BadInputError
from plugins.taobao import mapping
from plugins.taobao.client import loads_exact
from plugins.taobao.push import inbound_from_tmc
from plugins.taobao.tmc import parse_consume_response

FIXTURES = Path(__file__).parents[2] / "plugins" / "taobao" / "fixtures"


def sample_trade() -> dict:
    body = loads_exact((FIXTURES / "trade_fullinfo_sample.json").read_text("utf-8"))
    return body["trade_fullinfo_get_response"]["trade"]


@pytest.mark.parametrize(("raw", "expected"), [
    ("TRADE_NO_CREATE_PAY", OrderStatus.PENDING_PAYMENT),
    ("WAIT_BUYER_PAY", OrderStatus.PENDING_PAYMENT),
    ("PAY_PENDING", OrderStatus.PENDING_PAYMENT),
    ("WAIT_PRE_AUTH_CONFIRM", OrderStatus.PENDING_PAYMENT),
    ("WAIT_SELLER_SEND_GOODS", OrderStatus.PAID),
    ("PAID_FORBID_CONSIGN", OrderStatus.PAID),
    ("SELLER_CONSIGNED_PART", OrderStatus.PARTIALLY_SHIPPED),
    ("WAIT_BUYER_CONFIRM_GOODS", OrderStatus.SHIPPED),
    ("TRADE_BUYER_SIGNED", OrderStatus.DELIVERED),
    ("TRADE_FINISHED", OrderStatus.COMPLETED),
    ("TRADE_CLOSED", OrderStatus.CLOSED),
    ("TRADE_CLOSED_BY_TAOBAO", OrderStatus.CANCELLED),
])
def test_every_trade_status_maps(raw: str, expected: OrderStatus) -> None:
    trade = sample_trade()
    trade["status"] = raw
    for line in trade["orders"]["order"]:
        line["status"] = raw
    assert mapping.order_from_trade(trade, "tb").status is expected


def test_all_twelve_documented_statuses_are_in_the_table() -> None:
    assert len(mapping.TRADE_STATUS) == 12


def test_unknown_trade_status_is_refused_by_name() -> None:
    trade = sample_trade()
    trade["status"] = "TRADE_SOMETHING_NEW"
    with pytest.raises(BadInputError, match="TRADE_SOMETHING_NEW"):
        mapping.order_from_trade(trade, "tb")


def test_paid_forbid_consign_is_tagged_so_fulfilment_holds_it() -> None:
    trade = sample_trade()
    trade["status"] = "PAID_FORBID_CONSIGN"
    assert "forbid_consign" in mapping.order_from_trade(trade, "tb").tags


def test_sample_fullinfo_maps_to_the_canonical_order() -> None:
    order = mapping.order_from_trade(sample_trade(), "tb-flagship")
    gmt8 = timezone(timedelta(hours=8))
    assert str(order.ref) == "taobao:tb-flagship:518073718172548"
    assert order.raw_status == "TRADE_FINISHED"
    assert order.created_at == datetime(2014, 1, 15, 21, 40, 1, tzinfo=gmt8)
    assert order.updated_at == datetime(2014, 2, 6, 15, 35, 43, tzinfo=gmt8)
    assert order.total.amount == Decimal("76.00") and order.total.currency == "CNY"
    assert order.shipping_fee is not None and order.shipping_fee.amount == 0
    assert order.buyer.nick == "t**1" and order.buyer.platform_buyer_id == "AAHxxxxxxx"
    address = order.shipping_address
    assert address is not None
    assert (address.province, address.city, address.name, address.phone) == ("河南省", "郑州市", "闫**", "1573672****")
    (line,) = order.lines
    assert (line.external_id, line.channel_item_id, line.channel_sku_id) == ("518073718172548", "37000093369",
                                                                            "56388300261")
    assert line.merchant_sku == "TX324A0212" and line.quantity == 2
    assert line.unit_price.amount == Decimal("38.00") and line.paid is not None and line.paid.amount == Decimal("76.00")
    assert line.refund_status is None  # NO_REFUND
    assert order.tags == []


def test_outer_iid_is_the_merchant_sku_when_the_listing_has_no_sku_code() -> None:
    trade = sample_trade()
    del trade["orders"]["order"][0]["outer_sku_id"]
    assert mapping.order_from_trade(trade, "tb").lines[0].merchant_sku == "TX324A"


def test_seller_type_b_marks_a_tmall_order() -> None:
    trade = sample_trade()
    trade["orders"]["order"][0]["seller_type"] = "B"
    order = mapping.order_from_trade(trade, "tm", "tmall")
    assert "tmall" in order.tags and order.ref.platform == "tmall" and order.extra["seller_type"] == "B"


def test_big_ids_survive_from_json_text() -> None:
    text = ('{"tid": 163288460521879179, "status": "WAIT_SELLER_SEND_GOODS", "created": "2024-01-01 00:00:00",'
            '"payment": "1.00", "orders": {"order": [{"oid": 163288460521879179, "num": 1, "price": "1.00"}]}}')
    order = mapping.order_from_trade(loads_exact(text), "tb")
    assert order.ref.external_id == "163288460521879179" and order.lines[0].external_id == "163288460521879179"


@pytest.mark.parametrize(("raw", "expected"), [
    ("NO_REFUND", None),
    ("WAIT_SELLER_AGREE", AfterSaleStatus.REQUESTED),
    ("WAIT_BUYER_RETURN_GOODS", AfterSaleStatus.AWAITING_RETURN),
    ("WAIT_SELLER_CONFIRM_GOODS", AfterSaleStatus.RETURNED),
    ("SELLER_REFUSE_BUYER", AfterSaleStatus.REJECTED),
    ("CLOSED", AfterSaleStatus.CLOSED),
    ("SUCCESS", AfterSaleStatus.REFUNDED),
])
def test_every_refund_status_maps(raw: str, expected: AfterSaleStatus | None) -> None:
    assert mapping.refund_status(raw) is expected


def test_unknown_refund_status_is_refused_by_name() -> None:
    with pytest.raises(BadInputError, match="EXCHANGE_WAIT"):
        mapping.refund_status("EXCHANGE_WAIT")


@pytest.mark.parametrize(("dispute", "expected"), [
    ("REFUND", AfterSaleType.REFUND_ONLY), ("REFUND_AND_RETURN", AfterSaleType.RETURN_AND_REFUND),
    ("TMALL_EXCHANGE", AfterSaleType.EXCHANGE), ("TAOBAO_EXCHANGE", AfterSaleType.EXCHANGE),
    ("REPAIR", AfterSaleType.REPAIR), ("RESHIPPING", AfterSaleType.REISSUE), ("OTHERS", AfterSaleType.OTHER),
])
def test_every_dispute_type_maps(dispute: str, expected: AfterSaleType) -> None:
    assert mapping.aftersale_type(dispute) is expected


def test_refund_maps_to_an_aftersale_on_its_trade() -> None:
    refund = {"refund_id": 9007199254740995, "tid": 518073718172548, "oid": 518073718172548,
              "status": "WAIT_BUYER_RETURN_GOODS", "refund_fee": "38.00", "has_good_return": True,
              "good_status": "BUYER_RETURNED_GOODS", "sid": "SF123", "outer_id": "TX324A0212", "num": 1,
              "created": "2014-01-20 10:00:00", "modified": "2014-01-21 10:00:00", "reason": "尺码不合适"}
    case = mapping.aftersale_from_refund(refund, "tb")
    assert case.ref.external_id == "9007199254740995" and case.order_ref.external_id == "518073718172548"
    assert case.type is AfterSaleType.RETURN_AND_REFUND and case.status is AfterSaleStatus.AWAITING_RETURN
    assert case.refund_amount is not None and case.refund_amount.amount == Decimal("38.00")
    assert case.goods_returned and case.return_tracking_number == "SF123"
    assert case.lines[0].merchant_sku == "TX324A0212"


def _stock(n: int, num_iid: str = "37000093369") -> list[ChannelStock]:
    return [ChannelStock(shop="tb", merchant_sku=f"S{i}", channel_item_id=num_iid, channel_sku_id=str(1000 + i),
                         quantity=i) for i in range(n)]


def test_skuid_quantities_text() -> None:
    assert mapping.skuid_quantities(_stock(2)) == "1000:0;1001:1"


def test_stock_is_grouped_per_item_in_calls_of_twenty() -> None:
    values = _stock(45) + _stock(3, "999") + [ChannelStock(shop="tb", merchant_sku="PLAIN", channel_item_id="555",
                                                          quantity=4),
                                             ChannelStock(shop="tb", merchant_sku="UNBOUND", quantity=1)]
    calls, unbound = mapping.stock_calls(values)
    sku_calls = [c for c in calls if c.method == "taobao.skus.quantity.update"]
    assert [len(c.values) for c in sku_calls] == [20, 20, 5, 3]
    assert all(c.params["type"] == 1 for c in calls)
    (plain,) = [c for c in calls if c.method == "taobao.item.quantity.update"]
    assert plain.params == {"num_iid": "555", "quantity": 4, "type": 1}
    assert [v.merchant_sku for v in unbound] == ["UNBOUND"]


def _change(i: int, delta: int, num_iid: str = "37000093369", sku: bool = True) -> ChannelStockChange:
    return ChannelStockChange(shop="tb", merchant_sku=f"S{i}", channel_item_id=num_iid,
                              channel_sku_id=str(1000 + i) if sku else None, delta=delta, key=f"{i:032x}")


def test_stock_changes_batch_raises_and_send_each_decrement_alone() -> None:
    """Raises share ``skus.quantity.update`` per item; a decrement goes alone through
    ``item.quantity.update``, whose answer says what the SKU shows after; all ``type=2``."""
    changes = [*(_change(i, i + 1) for i in range(22)), _change(30, -3), _change(31, -1, sku=False),
               ChannelStockChange(shop="tb", merchant_sku="UNBOUND", delta=1, key="f" * 32)]
    calls, unbound = mapping.stock_change_calls(changes)
    assert all(c.params["type"] == 2 for c in calls) and [c.merchant_sku for c in unbound] == ["UNBOUND"]
    lowers = [c for c in calls if c.method == "taobao.item.quantity.update"]
    assert [c.params for c in lowers] == [
        {"num_iid": "37000093369", "quantity": -3, "type": 2, "sku_id": "1030"},
        {"num_iid": "37000093369", "quantity": -1, "type": 2}]
    raises = [c for c in calls if c.method == "taobao.skus.quantity.update"]
    assert [len(c.values) for c in raises] == [20, 2]
    assert raises[0].params["skuid_quantities"].startswith("1000:1;1001:2;")


def _shipment(partial: bool = False, courier: str = "SF") -> Shipment:
    return Shipment(order_id=1, partial=partial, parcels=[Parcel(
        courier_code=courier, tracking_number="550281136794",
        items=[ParcelItem(line_external_id="518073718172548", quantity=2)])])


def test_full_shipment_is_one_offline_send() -> None:
    calls = mapping.offline_send_params("518073718172548", _shipment(), mapping.carrier_table())
    assert calls == [{"tid": "518073718172548", "out_sid": "550281136794", "company_code": "SF"}]


def test_partial_shipment_splits_by_sub_tid() -> None:
    (call,) = mapping.offline_send_params("518073718172548", _shipment(partial=True), mapping.carrier_table())
    assert call["is_split"] == 1 and call["sub_tid"] == "518073718172548"


def test_carrier_codes_are_configurable_and_unknown_ones_are_refused() -> None:
    table = mapping.carrier_table({"JTSD": "JTSD"})
    assert mapping.offline_send_params("1", _shipment(courier="JTSD"), table)[0]["company_code"] == "JTSD"
    with pytest.raises(BadInputError, match=r"(?i)jtsd"):
        mapping.offline_send_params("1", _shipment(courier="JTSD"), mapping.carrier_table())


def test_top_times_are_gmt8() -> None:
    moment = mapping.parse_top_time("2014-01-15 21:40:01")
    assert moment is not None and moment.utcoffset() == timedelta(hours=8)
    assert mapping.format_top_time(moment.astimezone(UTC)) == "2014-01-15 21:40:01"


def test_tmc_consume_answer_maps_to_inbound_messages() -> None:
    body = loads_exact(json.dumps({"messages": {"tmc_message": [
        {"id": 7100000000000000001, "topic": "taobao_trade_TradeBuyerPay", "pub_time": "2024-05-01 12:00:00",
         "content": '{"tid":163288460521879179,"status":"WAIT_SELLER_SEND_GOODS"}'},
        {"id": 2, "topic": "taobao_refund_RefundCreated", "content": '{"refund_id":77,"tid":1}'},
        {"id": 3, "topic": "taobao_item_ItemStockChanged", "content": '{"num_iid":5}'},
        {"id": 4, "topic": "taobao_item_ItemUpdate", "content": '{"num_iid":5}'}]}}))
    messages = [inbound_from_tmc(m) for m in parse_consume_response(body)]
    assert [(m.message_id, m.kind.value, m.external_id) for m in messages] == [
        ("7100000000000000001", "order", "163288460521879179"), ("2", "aftersale", "77"), ("3", "stock", "5"),
        ("4", "other", "5")]
    assert messages[0].occurred_at == datetime(2024, 5, 1, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(("trade", "complete"), [
    ({"has_buyer_message": False}, True),
    ({}, True),
    ({"has_buyer_message": True}, False),  # the list says there is a message but does not carry it
    ({"has_buyer_message": True, "buyer_message": "周一前别发货"}, True),
    ({"seller_flag": 0}, True),
    ({"seller_flag": 2}, False),  # a flag usually comes with a memo the list leaves out
    ({"seller_flag": 2, "seller_memo": "送赠品"}, True),
])
def test_a_listed_trade_is_complete_only_with_the_notes_it_says_it_has(trade: dict[str, object],
                                                                        complete: bool) -> None:
    assert mapping.listed_trade_complete(trade) is complete


def test_list_calls_also_ask_whether_there_is_a_buyer_message() -> None:
    assert mapping.list_fields("tid,status,orders").split(",") == ["tid", "status", "orders", "has_buyer_message"]
    assert mapping.list_fields("tid, has_buyer_message").split(",") == ["tid", "has_buyer_message"]


# --------------------------------------------------------------------------- oaid (masked receivers)

MASKED = {"receiver_name": "闫**", "receiver_state": "河南省", "receiver_city": "郑州市",
          "receiver_address": "**********", "receiver_mobile": "1573672****"}


@pytest.mark.parametrize(("oaid", "extra"), [
    ("1NAdW2Bxz7fGrOnNmIzT7lRAm2fAZNGuCG0mQyQ8f6p", {"oaid": "1NAdW2Bxz7fGrOnNmIzT7lRAm2fAZNGuCG0mQyQ8f6p"}),
    (None, {}),  # not asked for, or TOP did not produce it: no key at all
    ("", {}),
])
def test_the_trades_oaid_is_kept_in_the_orders_extra(oaid: str | None, extra: dict[str, str]) -> None:
    trade = sample_trade()
    if oaid is not None:
        trade["oaid"] = oaid
    order = mapping.order_from_trade(trade, "tb-flagship")
    assert {k: v for k, v in order.extra.items() if k == "oaid"} == extra
    assert order.shipping_address is not None and order.shipping_address.name == "闫**"  # kept as TOP masked it


@pytest.mark.parametrize(("fields", "expected"), [
    ("tid,status,orders",
     "tid,status,orders,receiver_name,receiver_address,created,receiver_mobile,receiver_phone,oaid"),
    ("tid,created,receiver_name,receiver_address,receiver_mobile,receiver_phone,oaid",
     "tid,created,receiver_name,receiver_address,receiver_mobile,receiver_phone,oaid"),
    ("tid, receiver_phone ,orders",
     "tid,receiver_phone,orders,receiver_name,receiver_address,created,receiver_mobile,oaid"),
])
def test_trade_fields_always_ask_for_the_oaid_and_what_top_needs_to_produce_it(fields: str, expected: str) -> None:
    assert mapping.with_oaid_fields(fields) == expected
    assert mapping.with_oaid_fields(expected) == expected


def test_the_default_trade_fields_ask_for_the_oaid() -> None:
    from plugins.taobao.connector import DEFAULT_TRADE_FIELDS

    names = set(DEFAULT_TRADE_FIELDS.split(","))
    assert {"oaid", *mapping.OAID_NEEDS} <= names


@pytest.mark.parametrize(("trade", "complete"), [
    (MASKED, False),  # masked and no oaid: the waybill could not be issued; read it with fullinfo
    ({**MASKED, "oaid": "OAID-1"}, True),
    ({**MASKED, "receiver_name": "~enc~", "receiver_address": "~enc~", "receiver_mobile": "~enc~"}, False),
    ({**MASKED, "receiver_name": "张三", "receiver_address": "经三路 15 号", "receiver_mobile": "13800138000"}, True),
])
def test_a_listed_trade_with_a_masked_receiver_is_complete_only_with_its_oaid(trade: dict[str, object],
                                                                             complete: bool) -> None:
    assert mapping.listed_trade_complete(trade) is complete
