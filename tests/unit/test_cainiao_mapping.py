"""Cainiao e-waybill mapping: a WaybillRequest → the ``cainiao.waybill.ii.get`` request JSON (field
by field), the answer → a Waybill, and the inputs a waybill cannot be issued from."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from contracts import Address, WaybillItem, WaybillRequest
from hub.config import load_config, validate_accounts
from hub.errors import BadInputError, PermanentError
from hub.plugins import build_plugin_manager
from hub.testing.context import make_context
from plugins.taobao import cainiao_mapping as mapping
from plugins.taobao.cainiao import CainiaoWaybillCourier
from plugins.taobao.client import GMT8, TopClient

SENDER = Address(name="Warehouse A", phone="0571-88880000", province="浙江省", city="杭州市", district="余杭区",
                 street="文一西路 1 号")
RECIPIENT = Address(name="张三", phone="138 0013 8000", province="河南省", city="郑州市", district="金水区",
                    town="花园路街道", street="经三路 15 号")
SETTINGS: dict[str, Any] = {"app_key": "12345678", "app_secret": "s", "session": "sess-4f1c9e",
                            "template_url": "http://cloudprint.cainiao.com/template/standard/101"}


def request(**overrides: Any) -> WaybillRequest:
    values: dict[str, Any] = {
        "key": "parcel:41", "courier_code": "ZTO", "platform": "tmall", "shop": "tm-main",
        "order_external_ids": ["3950000000000000001"], "sender": SENDER, "recipient": RECIPIENT,
        "items": [WaybillItem(name="T-shirt M", quantity=2), WaybillItem(name="Mug", quantity=1)],
        "weight_grams": 850,
    }
    return WaybillRequest(**{**values, **overrides})


def courier(**settings: Any) -> CainiaoWaybillCourier:
    return CainiaoWaybillCourier(make_context(CainiaoWaybillCourier, "cainiao-main", {**SETTINGS, **settings}))


def test_request_json_names_every_field_as_the_model_does() -> None:
    cp_code, body = courier(user_id=2200001).apply_request(request())
    assert cp_code == "ZTO"
    assert body == {
        "cp_code": "ZTO",
        "sender": {"name": "Warehouse A", "phone": "0571-88880000",
                   "address": {"province": "浙江省", "city": "杭州市", "district": "余杭区",
                               "detail": "文一西路 1 号"}},
        "trade_order_info_dtos": [{
            "object_id": "parcel:41",
            "order_info": {"order_channels_type": "TM", "trade_order_list": ["3950000000000000001"]},
            "package_info": {"id": "parcel_41", "items": [{"name": "T-shirt M", "count": 2},
                                                          {"name": "Mug", "count": 1}], "weight": 850},
            "recipient": {"name": "张三", "mobile": "13800138000",
                          "address": {"province": "河南省", "city": "郑州市", "district": "金水区",
                                      "town": "花园路街道", "detail": "经三路 15 号"}},
            "template_url": "http://cloudprint.cainiao.com/template/standard/101",
            "user_id": 2200001,
        }],
    }


def test_optional_account_fields_are_sent_only_when_set() -> None:
    _, body = courier(product_code="SE0001", branch_code="571001", customer_code="MC-9",
                      shop_user_ids={"tm-main": 77}, user_id=1,
                      template_urls={"zto": "http://cloudprint.cainiao.com/template/standard/202"}).apply_request(
        request(weight_grams=None))
    assert body["product_code"] == "SE0001" and body["shipping_branch_code"] == "571001"
    assert body["customer_code"] == "MC-9" and "brand_code" not in body
    dto = body["trade_order_info_dtos"][0]
    assert dto["user_id"] == 77 and "weight" not in dto["package_info"]
    assert dto["template_url"].endswith("/202")


@pytest.mark.parametrize(("platform", "expected"), [("taobao", "TB"), ("tmall", "TM"), ("Tmall", "TM"),
                                                    ("douyin", "OTHERS"), ("aliexpress", "OTHERS")])
def test_order_channel_per_platform(platform: str, expected: str) -> None:
    assert mapping.order_channel(platform) == expected


def test_order_channel_can_be_set_per_account() -> None:
    _, body = courier(order_channels={"douyin": "DY"}).apply_request(request(platform="douyin"))
    assert body["trade_order_info_dtos"][0]["order_info"]["order_channels_type"] == "DY"


def test_cp_codes_are_matched_in_any_case_and_extendable() -> None:
    assert mapping.cp_code_for("yto", mapping.cp_code_table()) == "YTO"
    assert mapping.cp_code_for("JTSD", mapping.cp_code_table({"jtsd": "JT"})) == "JT"
    with pytest.raises(BadInputError) as caught:
        mapping.cp_code_for("jtsd", mapping.cp_code_table())
    assert caught.value.field == "courier_code" and "cp_codes" in str(caught.value)


@pytest.mark.parametrize(("role", "change", "field"), [
    ("sender", {"street": None}, "sender.street"),
    ("sender", {"street": "  "}, "sender.street"),
    ("sender", {"phone": None}, "sender.phone"),
    ("recipient", {"province": None}, "recipient.province"),
    ("recipient", {"name": ""}, "recipient.name"),
    ("recipient", {"encrypted": True}, "recipient_oaid"),  # ciphertext and no oaid to find the recipient by
    ("recipient", {"name": "闫**"}, "recipient_oaid"),  # masked by TOP, no oaid
    ("recipient", {"phone": "1573672****"}, "recipient_oaid"),
    ("recipient", {"street": "**********"}, "recipient_oaid"),
    ("sender", {"encrypted": True}, "sender.encrypted"),
    ("recipient", {"country": "HK"}, "recipient.country"),
])
def test_a_missing_address_part_is_refused_naming_the_field(role: str, change: dict[str, Any], field: str) -> None:
    address = (SENDER if role == "sender" else RECIPIENT).model_copy(update=change)
    with pytest.raises(BadInputError) as caught:
        courier().apply_request(request(**{role: address}))
    assert caught.value.field == field
    assert field in str(caught.value)


MASKED = Address(name="闫**", phone="1573672****", province="河南省", city="郑州市", district="金水区",
                 street="**********")


def test_a_masked_recipient_goes_with_its_oaid_and_trade_id() -> None:
    """TOP masks Taobao/Tmall receivers; the trade's oaid lets Cainiao find the real one."""
    oaid = "1NAdW2Bxz7fGrOnNmIzT7lRAm2fAZNGuCG0mQyQ8f6p"
    _, body = courier().apply_request(request(recipient=MASKED, recipient_oaid=oaid,
                                              order_external_ids=["3950000000000000001", "3950000000000000002"]))
    assert body["trade_order_info_dtos"][0]["recipient"] == {
        "name": "闫**", "mobile": "1573672****",
        "address": {"province": "河南省", "city": "郑州市", "district": "金水区", "detail": "**********"},
        "oaid": oaid, "tid": "3950000000000000001",  # the order the oaid comes from: the parcel's own
    }


@pytest.mark.parametrize("recipient", [RECIPIENT, MASKED.model_copy(update={"encrypted": True})])
def test_an_oaid_is_sent_whatever_the_address_looks_like(recipient: Address) -> None:
    _, body = courier().apply_request(request(recipient=recipient, recipient_oaid="OAID-7"))
    sent = body["trade_order_info_dtos"][0]["recipient"]
    assert (sent["oaid"], sent["tid"]) == ("OAID-7", "3950000000000000001")


def test_a_masked_recipient_still_needs_its_region() -> None:
    with pytest.raises(BadInputError) as caught:
        courier().apply_request(request(recipient=MASKED.model_copy(update={"city": None}), recipient_oaid="OAID-7"))
    assert caught.value.field == "recipient.city"


def test_no_oaid_key_without_an_oaid() -> None:
    _, body = courier().apply_request(request())
    assert {"oaid", "tid"}.isdisjoint(body["trade_order_info_dtos"][0]["recipient"])


def test_blank_order_ids_are_refused() -> None:
    with pytest.raises(BadInputError) as caught:
        courier().apply_request(request(order_external_ids=[" "]))
    assert caught.value.field == "order_external_ids"


def test_lines_beyond_the_limit_are_summed_into_one() -> None:
    items = [WaybillItem(name=f"item {n}", quantity=2) for n in range(mapping.MAX_ITEMS + 5)]
    lines = mapping.package_items(items)
    assert len(lines) == mapping.MAX_ITEMS
    assert lines[-1] == {"name": "+6 more", "count": 12}
    assert sum(line["count"] for line in lines) == 2 * len(items)


@pytest.mark.parametrize(("sign_method", "sign"), [("md5", "F5733DD261FD2C7321AEDACEFAF13BC6"),
                                                   ("hmac", "43E6D32A3B768A54D441A96FACC449A4")])
def test_the_request_json_is_sent_compact_and_signed_as_one_param(sign_method: str, sign: str) -> None:
    """The derived self-check of docs/platforms/cainiao.md (computed, not official)."""
    client = TopClient("http://gw", "12345678", "sec", "sess", sign_method)
    form = client.request_params(mapping.GET_METHOD, {mapping.REQUEST_PARAM: {"cp_code": "YTO"}},
                                 now=datetime(2024, 1, 1, 12, 0, tzinfo=GMT8))
    assert form[mapping.REQUEST_PARAM] == '{"cp_code":"YTO"}'
    assert form["sign"] == sign


def _answer(**module: Any) -> dict[str, Any]:
    return {"modules": {"waybill_cloud_print_response": [module]}, "request_id": "r1"}


PRINT = '{"data":{"waybillCode":"7800000001"},"signature":"abc","templateURL":"http://cloudprint/x"}'


def test_answer_maps_to_a_waybill_keeping_print_data_as_given() -> None:
    waybill = mapping.waybill_from_answer(
        _answer(object_id="parcel:41", waybill_code="7800000001", print_data=PRINT, cp_code="ZTO"),
        request(), cp_code="ZTO")
    assert waybill.waybill_number == "7800000001" and waybill.provider == "cainiao"
    assert waybill.courier_code == "zto" and waybill.key == "parcel:41" and not waybill.reused
    assert waybill.print_data == json.loads(PRINT)
    assert waybill.label.sort_code is None  # the public models name no routing fields: none invented


def test_a_bare_module_list_and_encrypted_print_data_are_read() -> None:
    encrypted = '{"encryptedData":"QUJD","signature":"s","templateURL":"t","ver":"waybill_print_secret_version_1"}'
    answer = {"modules": [{"object_id": "parcel:41", "waybill_code": "YT1", "print_data": encrypted}]}
    waybill = mapping.waybill_from_answer(answer, request(courier_code="yto"), cp_code="YTO", reused=True)
    assert waybill.print_data["encryptedData"] == "QUJD" and waybill.reused


def test_print_data_that_is_not_a_json_object_is_kept_whole() -> None:
    assert mapping.print_data("<xml/>") == {"print_data": "<xml/>"}
    assert mapping.print_data(None) == {}


@pytest.mark.parametrize("answer", [
    {"request_id": "r"},
    _answer(object_id="parcel:99", waybill_code="1"),
    _answer(object_id="parcel:41", waybill_code=""),
    _answer(object_id="parcel:41", waybill_code="1", cp_code="YTO"),
])
def test_an_answer_without_this_parcels_waybill_is_permanent(answer: dict[str, Any]) -> None:
    with pytest.raises(PermanentError):
        mapping.waybill_from_answer(answer, request(), cp_code="ZTO")


def test_package_ids_keep_only_letters_digits_and_underscores() -> None:
    assert mapping.package_id("dl-7/parcel:2") == "dl_7_parcel_2"


def test_settings_need_template_url_and_keep_secrets_secret() -> None:
    with pytest.raises(ValueError, match="template_url"):
        make_context(CainiaoWaybillCourier, "c", {k: v for k, v in SETTINGS.items() if k != "template_url"})
    settings = make_context(CainiaoWaybillCourier, "c", SETTINGS).settings
    assert "sess-4f1c9e" not in repr(settings) and settings.gateway_url.startswith("https://eco.taobao.com")


def test_the_readme_config_example_is_a_valid_courier_account(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "plugins/taobao/README.md").read_text()
    snippet = next(block for block in readme.split("```toml\n")[1:] if "[couriers.cainiao-zto]" in block)
    path = tmp_path / "hub.toml"
    path.write_text(snippet.split("```")[0])
    config = load_config(path)
    environ = {"CAINIAO_APP_SECRET": "s", "CAINIAO_SESSION": "t"}
    assert validate_accounts(config, build_plugin_manager(), environ) == []
    assert config.couriers["cainiao-zto"].platform == CainiaoWaybillCourier.platform
