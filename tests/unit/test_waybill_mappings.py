"""Table tests of the two e-waybill mappings: ``WaybillRequest`` → request JSON, answer → ``Waybill``
(print data kept as given, label fields when given), cancel params, and the Kuaidi100 label sign."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import Address, WaybillItem, WaybillRequest
from hub.errors import BadInputError
from plugins.douyin import waybill_mapping as dy
from plugins.logistics.kuaidi100 import label_mapping as k100
from plugins.logistics.kuaidi100.label_client import classify, label_sign, outcome

SENDER = Address(name="杭州仓", phone="0571-88886666", province="浙江省", city="杭州市", district="余杭区",
                 town="五常街道", street="文一西路 1 号")
RECIPIENT = Address(name="张三", phone="13812345678", province="上海市", city="上海市", district="浦东新区",
                    street="世纪大道 100 号")
CIPHER = Address(name="#enc#name", phone="$enc$tel", province="上海市", city="上海市", district="浦东新区",
                 street="~enc~detail", encrypted=True)


def _request(**changes: Any) -> WaybillRequest:
    values: dict[str, Any] = {
        "key": "P-1", "courier_code": "ZTO", "platform": "douyin", "shop": "dy", "order_external_ids": ["4891A"],
        "sender": SENDER, "recipient": RECIPIENT,
        "items": [WaybillItem(name="T 恤", quantity=2), WaybillItem(name="杯子", quantity=1)],
    }
    values.update(changes)
    return WaybillRequest(**values)


# ---------------------------------------------------------------- Douyin

def test_douyin_create_params_use_the_sdk_field_names() -> None:
    params = dy.create_params(_request(remark="易碎"), "zhongtong", pay_method=1)
    assert params == {
        "logistics_code": "zhongtong",
        "sender_info": {
            "address": {"country_code": "CHN", "province_name": "浙江省", "city_name": "杭州市",
                        "district_name": "余杭区", "street_name": "五常街道", "detail_address": "文一西路 1 号"},
            "contact": {"name": "杭州仓", "phone": "0571-88886666"},
        },
        "order_infos": [{
            "order_id": "4891",  # trailing "A" stripped
            "pack_id": dy.pack_id("P-1"),
            "receiver_info": {
                "address": {"country_code": "CHN", "province_name": "上海市", "city_name": "上海市",
                            "district_name": "浦东新区", "detail_address": "世纪大道 100 号"},
                "contact": {"name": "张三", "mobile": "13812345678"},
            },
            "items": [{"item_name": "T 恤", "item_count": 2}, {"item_name": "杯子", "item_count": 1}],
            "remark": "易碎",
            "pay_method": 1,
        }],
    }


@pytest.mark.parametrize(("key", "expected"), [
    ("P_1", "P_1"),
    ("abcdefghijklmno", "abcdefghijklmno"),  # 15: fits
])
def test_douyin_pack_id_keeps_a_key_that_fits(key: str, expected: str) -> None:
    assert dy.pack_id(key) == expected


@pytest.mark.parametrize("key", ["P-1", "abcdefghijklmnop", "parcel:42:1", "包裹"])
def test_douyin_pack_id_hashes_other_keys_stably(key: str) -> None:
    derived = dy.pack_id(key)
    assert derived == dy.pack_id(key) and dy.PACK_ID.fullmatch(derived) and len(derived) == 15
    assert derived != dy.pack_id(key + "x")


def test_douyin_ciphertext_is_sent_as_given_for_douyin_orders_only() -> None:
    info = dy.create_params(_request(recipient=CIPHER), "zhongtong")["order_infos"][0]["receiver_info"]
    assert info["contact"] == {"name": "#enc#name", "mobile": "$enc$tel"}
    assert info["address"]["detail_address"] == "~enc~detail"
    with pytest.raises(BadInputError) as refused:
        dy.create_params(_request(recipient=CIPHER, platform="tmall"), "zhongtong", order_channel="1")
    assert refused.value.field == "recipient"


def test_douyin_merged_orders_send_the_smallest_id_and_foreign_orders_their_channel() -> None:
    merged = dy.create_params(_request(order_external_ids=["4893", "4891", "4892"]), "yunda")
    assert merged["order_infos"][0]["order_id"] == "4891"
    foreign = dy.create_params(_request(platform="tmall", order_external_ids=["TM-9"]), "yunda", order_channel="1",
                               user_id=-1, net_info={"category": "加盟", "net_code": "571001"})
    assert (foreign["order_channel"], foreign["user_id"]) == ("1", -1)
    assert foreign["order_infos"][0]["net_info"] == {"category": "加盟", "net_code": "571001"}


@pytest.mark.parametrize(("changes", "field"), [
    ({"recipient": RECIPIENT.model_copy(update={"phone": ""})}, "recipient.phone"),
    ({"recipient": RECIPIENT.model_copy(update={"city": None})}, "recipient.city"),
    ({"sender": SENDER.model_copy(update={"district": None})}, "sender.district"),
    ({"sender": SENDER.model_copy(update={"country": "HK"})}, "sender.country"),
    ({"platform": "tmall"}, "platform"),  # no order_channel
])
def test_douyin_bad_requests_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(BadInputError) as refused:
        dy.create_params(_request(**changes), "zhongtong")
    assert refused.value.field == field


def test_douyin_answer_becomes_a_waybill_with_label_fields() -> None:
    request = _request()
    params = dy.create_params(request, "zhongtong")
    row = {"order_id": "4891", "pack_id": dy.pack_id("P-1"), "track_no": "78123", "company": "zhongtong",
           "sort_code": "300-W01 00", "package_center_code": "571", "package_center_name": "杭州转运中心",
           "short_address_code": "300", "short_address_name": "浙江杭州", "sub_waybill_codes": "", "extra_resp": "",
           "hint_msg": ""}
    other = {**row, "pack_id": "someone_else", "track_no": "78999"}
    waybill = dy.parse_created({"ebill_infos": [other, row], "err_infos": []}, request, params)
    assert not isinstance(waybill, tuple)
    assert (waybill.waybill_number, waybill.provider, waybill.courier_code) == ("78123", "douyin_waybill", "zto")
    assert waybill.print_data == row
    assert (waybill.label.sort_code, waybill.label.package_center) == ("300-W01 00", "杭州转运中心")
    assert waybill.label.extra == {"package_center_code": "571", "short_address_code": "300",
                                   "short_address_name": "浙江杭州"}
    bare_row = {"order_id": "4891", "pack_id": "", "track_no": "78124"}
    bare = dy.parse_created({"ebill_infos": [bare_row]}, request, params)
    assert not isinstance(bare, tuple) and bare.label.sort_code is None and bare.label.package_center is None


def test_douyin_err_infos_and_missing_entries_are_reported() -> None:
    request = _request()
    params = dy.create_params(request, "zhongtong")
    err = {"order_id": "4891", "pack_id": dy.pack_id("P-1"), "err_code": "15002", "err_msg": "订单信息不存在"}
    assert dy.parse_created({"ebill_infos": [], "err_infos": [err]}, request, params) == ("15002", "订单信息不存在")
    assert dy.parse_created({}, request, params)[0] == "no_entry"  # type: ignore[index]


def test_douyin_cancel_params_and_result() -> None:
    assert dy.cancel_params("zhongtong", "78123") == {"logistics_code": "zhongtong", "track_no": "78123"}
    assert dy.cancel_params("zhongtong", "78123", 7)["user_id"] == 7
    assert dy.cancel_succeeded({"cancel_result": {"success": True}}) is True
    assert dy.cancel_succeeded({"cancel_result": {"success": False}}) is False
    assert dy.cancel_succeeded(None) is False


# ---------------------------------------------------------------- Kuaidi100

PARTNER = {"partnerId": "M-01", "partnerKey": "pk", "net": ""}


def test_kuaidi100_order_param_uses_kuaidi100_field_names() -> None:
    param = k100.order_param(_request(platform="tmall", weight_grams=1250, remark="易碎"), "zhongtong", PARTNER,
                             print_type="HTML", pay_type="MONTHLY", exp_type="标准快递")
    assert param == {
        "kuaidicom": "zhongtong",
        "recMan": {"name": "张三", "mobile": "13812345678", "printAddr": "上海市浦东新区世纪大道 100 号"},
        "sendMan": {"name": "杭州仓", "tel": "0571-88886666", "printAddr": "浙江省杭州市余杭区五常街道文一西路 1 号"},
        "cargo": "T 恤、杯子",
        "orderId": "P-1",
        "reorder": False,
        "printType": "HTML",
        "partnerId": "M-01",
        "partnerKey": "pk",
        "weight": 1.25,
        "remark": "易碎",
        "payType": "MONTHLY",
        "expType": "标准快递",
    }


def test_kuaidi100_sends_the_platforms_oaid_of_an_encrypted_order() -> None:
    masked = RECIPIENT.model_copy(update={"name": "闫**", "phone": "1573672****", "street": "**********"})
    param = k100.order_param(_request(platform="taobao", recipient=masked, recipient_oaid="OAID-9"),
                             "zhongtong", PARTNER)
    assert param["oaid"] == "OAID-9" and param["recMan"]["name"] == "闫**"
    cipher = k100.order_param(_request(platform="taobao", recipient=CIPHER, recipient_oaid="OAID-9"),
                              "zhongtong", PARTNER)
    assert cipher["oaid"] == "OAID-9"  # ciphertext is accepted beside the oaid
    assert "oaid" not in k100.order_param(_request(), "zhongtong", PARTNER)


@pytest.mark.parametrize(("changes", "field"), [
    ({"recipient": CIPHER}, "recipient"),
    ({"recipient": RECIPIENT.model_copy(update={"phone": None})}, "recipient.phone"),
    ({"sender": SENDER.model_copy(update={"province": ""})}, "sender.province"),
    ({"recipient": RECIPIENT.model_copy(update={"country": "JP"})}, "recipient.country"),
])
def test_kuaidi100_bad_requests_name_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(BadInputError) as refused:
        k100.order_param(_request(**changes), "zhongtong", PARTNER)
    assert refused.value.field == field


def test_kuaidi100_answer_becomes_a_waybill_with_label_fields() -> None:
    data = {"kuaidinum": "78555", "bulkpen": "300-W01", "pkgName": "杭州转运中心", "pkgCode": "571", "road": "A12",
            "kdComOrderNum": "", "label": "https://example.invalid/l/1", "printData": "opaque"}
    waybill = k100.waybill_of(data, _request(courier_code="zto"))
    assert (waybill.waybill_number, waybill.provider, waybill.courier_code) == ("78555", "kuaidi100_label", "zto")
    assert waybill.print_data == data
    assert (waybill.label.sort_code, waybill.label.package_center, waybill.label.route_code) == \
        ("300-W01", "杭州转运中心", "A12")
    assert waybill.label.extra == {"pkgCode": "571", "label": "https://example.invalid/l/1"}
    plain = k100.waybill_of({"kuaidinum": "78556"}, _request())
    assert plain.label.sort_code is None and plain.label.package_center is None and plain.label.route_code is None
    with pytest.raises(ValueError):
        k100.waybill_of({"kuaidinum": ""}, _request())


def test_kuaidi100_cancel_param() -> None:
    assert k100.cancel_param("zhongtong", "78555", PARTNER, "unused") == {
        "kuaidicom": "zhongtong", "kuaidinum": "78555", "reason": "unused", "partnerId": "M-01", "partnerKey": "pk"}


def test_kuaidi100_label_sign_matches_the_derived_vector() -> None:
    param = '{"kuaidicom":"zhaijisong","kuaidinum":"ZJS000000000"}'
    assert label_sign(param, "1700000000000", "testkey", "testsecret") == "F9612B3922F5D422A3FC31445DDCB702"


@pytest.mark.parametrize(("payload", "expected"), [
    ({"code": 200, "message": "success", "data": {}}, (True, "200", "success")),
    ({"code": 30002, "message": "验证签名失败"}, (False, "30002", "验证签名失败")),
    ({"result": True, "returnCode": "200", "message": "ok"}, (True, "200", "ok")),
    ({"result": False, "returnCode": "400", "message": "x"}, (False, "400", "x")),
    ({"message": "?"}, (False, "", "?")),
])
def test_kuaidi100_both_answer_shapes(payload: dict[str, Any], expected: tuple[bool, str, str]) -> None:
    assert outcome(payload) == expected


@pytest.mark.parametrize(("code", "kind"), [
    ("-1", "RetryableError"), ("502", "RetryableError"), ("30003", "AuthorizationError"),
    ("601", "AuthorizationError"), ("30002", "PermanentError"), ("30004", "PermanentError"),
    ("30001", "PermanentError"),
])
def test_kuaidi100_failures_are_classified(code: str, kind: str) -> None:
    assert type(classify("here", code, "m")).__name__ == kind


@pytest.mark.parametrize("platform", ["douyin_waybill", "kuaidi100_label"])
def test_both_providers_are_registered_couriers_that_issue_waybills(platform: str) -> None:
    from contracts import Capability, CourierConnector
    from hub.plugins import build_plugin_manager

    cls = build_plugin_manager().connector_class("courier", platform)
    assert cls is not None and cls.platform == platform
    assert cls.capabilities == frozenset({Capability.CREATE_WAYBILL})
    assert all(callable(getattr(cls, name, None)) for name in dir(CourierConnector) if not name.startswith("_"))
