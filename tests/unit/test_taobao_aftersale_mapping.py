"""Table tests for TOP refunds as after-sale cases (deadline, version, cap, phase) and for the
params of the refund write-backs (``plugins.taobao.refund_writes``), Taobao and Tmall."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from contracts import AfterSaleAction, Money, Proof, ReturnAddress
from hub.errors import BadInputError
from plugins.taobao import mapping
from plugins.taobao import refund_writes as writes
from plugins.taobao.client import loads_exact
from plugins.taobao.signing import TopFile, sign_top, signable

GMT8 = timezone(timedelta(hours=8))
PNG = Proof(filename="proof.png", content_type="image/png", content=b"\x89PNG\r\n\x1a\n" + b"0" * 64)


def refund(**overrides: Any) -> dict[str, Any]:
    """A ``taobao.refund.get`` refund with every field the connector asks for."""
    base: dict[str, Any] = {
        "refund_id": "74800000001", "tid": 518073718172548, "oid": 518073718172549, "status": "WAIT_SELLER_AGREE",
        "order_status": "WAIT_BUYER_CONFIRM_GOODS", "good_status": "BUYER_RECEIVED", "has_good_return": False,
        "refund_fee": "30.00", "payment": "38.00", "total_fee": "40.00", "reason": "不想要了",
        "desc": "颜色和图片不一样", "company_name": "顺丰速运", "sid": "SF1", "refund_phase": "onsale",
        "refund_version": 1733380000123, "outer_id": "TX324A0212", "num": 1, "dispute_type": "REFUND",
        "created": "2024-12-05 10:00:00", "modified": "2024-12-05 11:00:00",
        "refund_remind_timeout": {"exist_timeout": True, "remind_type": 1, "timeout": "2024-12-07 10:00:00"}}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def test_a_refund_carries_deadline_version_cap_description_courier_and_write_values() -> None:
    case = mapping.aftersale_from_refund(refund(), "tb")
    assert case.deadline == datetime(2024, 12, 7, 10, 0, tzinfo=GMT8)
    assert case.version == "1733380000123"
    assert case.max_refund == Money(amount=Decimal("38.00"), currency="CNY")
    assert case.description == "颜色和图片不一样" and case.return_courier == "顺丰速运"
    assert case.extra == {"refund_phase": "onsale", "oid": "518073718172549", "dispute_type": "REFUND"}
    assert case.lines[0].refund_amount == Money(amount=Decimal("30.00"), currency="CNY")


@pytest.mark.parametrize(("fields", "deadline"), [
    ({"refund_remind_timeout": {"exist_timeout": False, "timeout": "2024-12-07 10:00:00"}}, None),
    ({"refund_remind_timeout": None}, None),
    ({"refund_remind_timeout": None, "time_out": "2024-12-09 08:30:00"}, datetime(2024, 12, 9, 8, 30, tzinfo=GMT8)),
    ({"refund_remind_timeout": None, "timeout": "2024-12-10 08:30:00"}, datetime(2024, 12, 10, 8, 30, tzinfo=GMT8)),
    ({"refund_remind_timeout": {"timeout": "2024-12-08 00:00:00"}}, datetime(2024, 12, 8, tzinfo=GMT8)),
])
def test_the_deadline_is_tops_timeout_when_one_runs(fields: dict[str, Any], deadline: datetime | None) -> None:
    assert mapping.aftersale_from_refund(refund(**fields), "tb").deadline == deadline


@pytest.mark.parametrize(("field", "expected"), [("payment", Decimal("38.00")), ("total_fee", Decimal("40.00"))])
def test_the_refund_cap_field_is_configurable(field: str, expected: Decimal) -> None:
    case = mapping.aftersale_from_refund(refund(), "tb", max_refund_field=field)
    assert case.max_refund is not None and case.max_refund.amount == expected


def test_a_listed_refund_without_the_detail_fields_maps_without_them() -> None:
    listed = refund(refund_remind_timeout=None, refund_version=None, payment=None, desc=None, company_name=None,
                    refund_phase=None, dispute_type=None)
    case = mapping.aftersale_from_refund(listed, "tb")
    assert (case.deadline, case.version, case.max_refund, case.description, case.return_courier) == (None,) * 5
    assert case.extra == {"oid": "518073718172549"}


def test_big_refund_and_sub_order_ids_stay_exact() -> None:
    body = loads_exact('{"refund_id": 90071992547409951, "tid": 1, "oid": 90071992547409953, "status": "CLOSED",'
                       ' "modified": "2024-12-05 11:00:00"}')
    case = mapping.aftersale_from_refund(body, "tb")
    assert case.ref.external_id == "90071992547409951" and case.extra["oid"] == "90071992547409953"


# -- write params -------------------------------------------------------------------------------


@pytest.mark.parametrize(("platform", "infos"), [
    ("taobao", "74800000001|2000|1733380000123"),
    ("tmall", "74800000001|2000|1733380000123|onsale"),
])
def test_agreeing_sends_fen_and_version_and_the_phase_only_on_tmall(platform: str, infos: str) -> None:
    cents = writes.checked_amount(Money(amount="20.00"), refund(), "payment")
    assert writes.agree_params(refund(), cents, platform) == {"refund_infos": infos}


@pytest.mark.parametrize(("amount", "cap", "ok"), [
    ("38.00", "payment", True), ("38.01", "payment", False), ("39.00", "total_fee", True), ("0", "payment", False),
    ("1.005", "payment", False),
])
def test_an_amount_above_what_was_paid_or_not_in_whole_fen_is_refused(amount: str, cap: str, ok: bool) -> None:
    if ok:
        assert writes.checked_amount(Money(amount=amount), refund(), cap) == int(Decimal(amount) * 100)
        return
    with pytest.raises(BadInputError) as caught:
        writes.checked_amount(Money(amount=amount), refund(), cap)
    assert caught.value.field == "refund_amount"


def test_without_an_amount_the_buyers_ask_is_refunded() -> None:
    assert writes.checked_amount(None, refund(), "payment") == 3000


@pytest.mark.parametrize(("platform", "proofs", "problem"), [
    ("taobao", [], None),
    ("tmall", [PNG], None),
    ("tmall", [], "proof"),
    ("tmall", [Proof(filename="a.pdf", content_type="application/pdf", content=b"%PDF")], "proof"),
    ("taobao", [Proof(filename="big.png", content_type="image/png", content=b"0" * 130_001)], "proof"),
])
def test_a_refusal_carries_an_image_proof_required_on_tmall(platform: str, proofs: list[Proof],
                                                           problem: str | None) -> None:
    if problem:
        with pytest.raises(BadInputError) as caught:
            writes.refuse_params(refund(), "已签收", None, proofs, platform)
        assert caught.value.field == problem
        return
    params = writes.refuse_params(refund(), "已签收", "1001", proofs, platform)
    assert params["refund_id"] == "74800000001" and params["refuse_reason_id"] == "1001"
    assert isinstance(params["refuse_proof"], TopFile) is bool(proofs)
    assert ("refund_version" in params) is (platform == "tmall")


@pytest.mark.parametrize(("text", "ok"), [("好", False), ("已签收", True), ("字" * 200, True), ("字" * 201, False)])
def test_the_refuse_message_is_two_to_two_hundred_characters(text: str, ok: bool) -> None:
    if ok:
        assert writes.refuse_message(text) == text
    else:
        with pytest.raises(BadInputError, match="2 to 200"):
            writes.refuse_message(text)


ADDRESS = ReturnAddress(address_id="8800", name="仓库", phone="13800000000", province="浙江省", city="杭州市",
                        district="余杭区", detail="文一西路1号", zip_code="311100")


def test_agreeing_a_return_on_taobao_sends_the_address_itself() -> None:
    params = writes.returngoods_agree_params(refund(), ADDRESS, None, "taobao")
    assert params == {"refund_id": "74800000001", "seller_address_id": "8800", "name": "仓库",
                      "address": "浙江省杭州市余杭区文一西路1号", "post": "311100", "tel": "13800000000",
                      "mobile": "13800000000"}


def test_agreeing_a_return_on_tmall_sends_the_lock_and_a_remark() -> None:
    params = writes.returngoods_agree_params(refund(), ReturnAddress(address_id="8800"), None, "tmall")
    assert params == {"refund_id": "74800000001", "seller_address_id": "8800", "refund_phase": "onsale",
                      "refund_version": 1733380000123, "remark": writes.DEFAULT_RETURN_REMARK}


@pytest.mark.parametrize(("address", "field"), [
    (None, "return_address"), (ReturnAddress(name="仓库"), "return_address.address_id"),
    (ReturnAddress(address_id="8800", name="仓库", detail="x", zip_code="1"), "return_address.phone"),
])
def test_a_return_address_missing_what_taobao_needs_is_refused(address: ReturnAddress | None, field: str) -> None:
    with pytest.raises(BadInputError) as caught:
        writes.returngoods_agree_params(refund(), address, None, "taobao")
    assert caught.value.field == field


def test_only_tmall_refuses_returned_goods_over_top() -> None:
    assert AfterSaleAction.REFUSE_RETURN not in writes.refund_actions("taobao")
    assert writes.refund_actions("tmall") == writes.refund_actions("taobao") | {AfterSaleAction.REFUSE_RETURN}


def test_file_params_are_sent_but_not_signed() -> None:
    params = {"method": "taobao.refund.refuse", "refund_id": "1", "refuse_message": "已签收",
              "refuse_proof": TopFile("p.png", "image/png", b"\x89PNG")}
    assert "refuse_proof" not in signable(params)
    without = {k: v for k, v in params.items() if k != "refuse_proof"}
    assert sign_top(params, "secret", "hmac-sha256") == sign_top(without, "secret", "hmac-sha256")
