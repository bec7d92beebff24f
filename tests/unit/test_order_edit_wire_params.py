"""The wire params of order edits, per platform: TOP's GBK byte limits and flag codes, Douyin's
star codes (a different colour table) and string-typed flags, Douyin's address change (only what
the person typed, the kept region ids, a changed region refused); what each platform keeps local."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from contracts.order_edits import OrderEditKind, OrderEditRequest, OrderEditValues, SellerFlag
from contracts.orders import Address
from hub.errors import BadInputError, PermanentError, RetryableError
from hub.testing.factories import make_order
from plugins.douyin import order_edits as douyin
from plugins.douyin.client import DouyinRefusal
from plugins.taobao import order_edits as top

ADDRESS = Address(name="李四", phone="13900001111", province="浙江省", city="杭州市", district="西湖区",
                  street="文三路90号")


@pytest.mark.parametrize(("text", "size"), [("abc", 3), ("李四", 4), ("李a", 3), ("😀", 2)])
def test_top_counts_gbk_bytes(text: str, size: int) -> None:
    assert top.gbk_bytes(text) == size


def test_top_address_params_name_each_field_and_keep_the_mobile_apart() -> None:
    params = top.address_params("123", ADDRESS, "WAIT_SELLER_SEND_GOODS")
    assert params == {"tid": "123", "receiver_name": "李四", "receiver_state": "浙江省", "receiver_city": "杭州市",
                      "receiver_district": "西湖区", "receiver_address": "文三路90号", "receiver_mobile": "13900001111"}
    landline = top.address_params("123", ADDRESS.model_copy(update={"phone": "0571-88886666"}),
                                  "WAIT_SELLER_SEND_GOODS")
    assert landline["receiver_phone"] == "0571-88886666" and "receiver_mobile" not in landline


@pytest.mark.parametrize(("field", "value", "limit"), [
    ("name", "李" * 26, 50), ("street", "路" * 115, 228), ("province", "省" * 17, 32)])
def test_top_refuses_a_value_over_its_gbk_byte_limit_by_name(field: str, value: str, limit: int) -> None:
    with pytest.raises(BadInputError) as caught:
        top.address_params("1", ADDRESS.model_copy(update={field: value}), "WAIT_SELLER_SEND_GOODS")
    assert caught.value.field == f"address.{field}" and f"at most {limit}" in str(caught.value)
    top.address_params("1", ADDRESS.model_copy(update={field: value[: limit // 2]}), "WAIT_SELLER_SEND_GOODS")


def test_top_changes_the_address_of_unshipped_trades_only() -> None:
    with pytest.raises(BadInputError, match="WAIT_SELLER_SEND_GOODS trades only; this one is WAIT_BUYER_CONFIRM"):
        top.address_params("1", ADDRESS, "WAIT_BUYER_CONFIRM_GOODS")


@pytest.mark.parametrize(("flag", "top_code", "douyin_star"), [
    (SellerFlag.NONE, 0, 0), (SellerFlag.RED, 1, 5), (SellerFlag.GREEN, 3, 3), (SellerFlag.PINK, 5, None),
    (SellerFlag.PURPLE, None, 1), (SellerFlag.ORANGE, None, 4), (SellerFlag.YELLOW, 2, None)])
def test_flag_colours_map_to_each_platforms_own_codes(flag: SellerFlag, top_code: int | None,
                                                      douyin_star: int | None) -> None:
    for convert, expected in ((top.top_flag, top_code), (douyin.douyin_star, douyin_star)):
        if expected is None:
            with pytest.raises(BadInputError) as caught:
                convert(flag)
            assert caught.value.field == "flag"
        else:
            assert convert(flag) == expected


def test_top_memo_params_clear_with_reset_and_a_flag_leaves_the_memo() -> None:
    assert top.memo_params("9", OrderEditKind.SELLER_NOTE, "", None) == {"tid": "9", "memo": "", "reset": "true"}
    assert top.memo_params("9", OrderEditKind.FLAG, None, SellerFlag.BLUE) == {"tid": "9", "flag": 4, "reset": "false"}
    with pytest.raises(BadInputError, match="note: 1002 bytes"):
        top.memo_params("9", OrderEditKind.SELLER_NOTE, "备" * 501, None)


def _request(kind: OrderEditKind, values: OrderEditValues, **order: object) -> OrderEditRequest:
    return OrderEditRequest(order=make_order(platform="douyin", **order), kind=kind, values=values, key="k")


def test_douyin_remark_params_are_strings_and_a_star_goes_with_the_current_remark() -> None:
    note = douyin.remark_params(_request(OrderEditKind.SELLER_NOTE, OrderEditValues(note="加急")))
    assert {k: note[k] for k in ("remark", "is_add_star", "star")} == {"remark": "加急", "is_add_star": "false",
                                                                       "star": "0"}
    star = douyin.remark_params(_request(OrderEditKind.FLAG, OrderEditValues(flag=SellerFlag.RED), seller_note="VIP"))
    assert {k: star[k] for k in ("remark", "is_add_star", "star")} == {"remark": "VIP", "is_add_star": "true",
                                                                       "star": "5"}
    with pytest.raises(BadInputError) as caught:
        douyin.remark_params(_request(OrderEditKind.FLAG, OrderEditValues(flag=SellerFlag.RED)))
    assert caught.value.field == "note"


def test_kinds_without_a_platform_api_are_left_to_the_hub() -> None:
    assert top.edit_call(OrderEditRequest(order=make_order(), kind=OrderEditKind.PRICE,
                                          values=OrderEditValues(), key="k")) is None
    assert OrderEditKind.PRICE not in douyin.DOUYIN_EDIT_KINDS and OrderEditKind.ADDRESS in douyin.DOUYIN_EDIT_KINDS
    assert {OrderEditKind.ADDRESS, OrderEditKind.SELLER_NOTE, OrderEditKind.FLAG} == top.TOP_EDIT_KINDS


REGIONS = {"province": {"id": "33", "name": "浙江省"}, "city": {"id": "3301", "name": "杭州市"},
           "town": {"id": "330106", "name": "西湖区"}, "street": {"id": "330106001", "name": "文新街道"}}
KEPT_ADDR = {level: dict(node) for level, node in REGIONS.items()}


def _address_request(regions: dict[str, dict[str, str]] | None = REGIONS, **address: str | None) -> OrderEditRequest:
    values = {"name": "张*", "phone": "138****5678", "province": "浙江省", "city": "杭州市", "district": "西湖区",
              "street": "****"} | address
    extra = {"post_addr_regions": regions} if regions is not None else {}
    return _request(OrderEditKind.ADDRESS, OrderEditValues(address=Address(**values)), extra=extra)


@pytest.mark.parametrize(("address", "sent"), [
    ({"name": "李四"}, {"post_receiver": "李四"}),
    ({"phone": "13900001111"}, {"post_tel": "13900001111"}),
    ({"name": "李四", "phone": "13900001111"}, {"post_receiver": "李四", "post_tel": "13900001111"}),
    ({"street": "文三路90号"}, {"post_addr": {**KEPT_ADDR, "address_detail": "文三路90号", "land_mark": ""}}),
    # An empty district means "as Douyin has it"; the street level (the hub's town) may be repeated.
    ({"street": "文三路90号", "district": None, "town": "文新街道"},
     {"post_addr": {**KEPT_ADDR, "address_detail": "文三路90号", "land_mark": ""}}),
    # Douyin's ciphertext has a ``*`` too: never sent back as a value.
    ({"name": "~AgI3*CgkIARC~", "phone": "$138$AgI*CgkI$"}, None),
    ({}, None),
])
def test_douyin_address_params_send_only_what_the_person_typed(address: dict[str, str | None],
                                                                sent: dict[str, object] | None) -> None:
    request = _address_request(**address)
    expected = None if sent is None else {"order_id": request.order.ref.external_id, **sent}
    assert douyin.address_params(request) == expected


@pytest.mark.parametrize(("address", "regions", "field", "says"), [
    ({"city": "宁波市", "street": "中山路1号"}, REGIONS, "address", r"region changed \(city\)"),
    ({"district": "余杭区"}, REGIONS, "address", "Douyin seller centre"),
    ({"name": "李四"}, None, "address", "fetch the order again"),
    ({"street": "文三路90号"}, {k: v for k, v in REGIONS.items() if k != "street"}, "address", "region id for street"),
    ({"street": "路" * 61}, REGIONS, "address.street", "61 characters"),
])
def test_douyin_address_params_refuse_what_douyin_cannot_take_by_name(
        address: dict[str, str], regions: dict[str, dict[str, str]] | None, field: str, says: str) -> None:
    with pytest.raises(BadInputError, match=says) as caught:
        douyin.address_params(_address_request(regions, **address))
    assert caught.value.field == field


async def test_douyin_address_edit_reads_the_platforms_answers() -> None:
    sent: list[tuple[str, dict[str, Any]]] = []

    def answering(sub_code: str | None) -> Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]:
        async def call(method: str, params: dict[str, Any]) -> dict[str, Any]:
            sent.append((method, params))
            if sub_code:
                raise DouyinRefusal("refused", code="40004", sub_code=sub_code)
            return {}
        return call

    request = _address_request(name="李四")
    assert (await douyin.edit_order(answering(None), request)).written_back
    assert sent[-1][0] == "order.addressModify"
    assert (await douyin.edit_order(answering("isv.parameter-invalid:80004"), request)).written_back  # a repeat
    with pytest.raises(BadInputError) as phone:
        await douyin.edit_order(answering("isv.parameter-invalid:20002"), request)
    assert phone.value.field == "address.phone"
    with pytest.raises(PermanentError, match="part of the order has shipped"):
        await douyin.edit_order(answering("isv.business-failed:80001"), request)
    with pytest.raises(RetryableError):
        await douyin.edit_order(answering("isv.business-failed:8888"), request)
    calls = len(sent)
    nothing = await douyin.edit_order(answering(None), _address_request())
    assert not nothing.written_back and len(sent) == calls  # nothing changed: no call
