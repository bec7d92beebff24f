"""Douyin after-sale mapping and decision tables: the fields a decision needs (deadline, version,
paid amount, evidence, return and exchange details), the exchange path's statuses, which
``afterSale.operate`` type each decision sends, when a case counts as already decided, evidence
as URLs and the refusal reasons list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from contracts import (
    AfterSaleAction,
    AfterSaleStatus,
    AfterSaleType,
    Money,
    Proof,
    allowed_actions,
)
from hub.errors import BadInputError
from plugins.douyin import mapping
from plugins.douyin.aftersale_decisions import (
    ACTIONS,
    OPERATIONS,
    already_done,
    evidence_items,
    lock_value,
    map_reasons,
    proof_url,
)


def detail(**info: Any) -> dict[str, Any]:
    """An ``afterSale.Detail`` ``data`` in the [Z] field tree (ids as int64), values invented."""
    base = {"after_sale_id": 7301000000000000009, "after_sale_status": 6, "after_sale_type": 3,
            "refund_status": 1, "refund_total_amount": 0, "real_refund_amount": 0, "apply_time": 1700000000,
            "update_time": 1700000300, "status_deadline": 1700172800, "reason": "尺码不合适", "reason_code": 12,
            "reason_remark": "想换大一码", "evidence": ["https://img.example.com/a.jpg", "https://img.example.com/b.jpg"],
            "got_pkg": 1, "part_type": 0, "return_address_id": 0,
            "exchange_sku_info": {"sku_id": 1750000000000000002, "code": "TEE-L", "out_sku_id": "",
                                  "name": "T 恤", "spec_desc": "尺码:L", "num": 1, "price": "1990"}}
    base.update(info)
    return {
        "process_info": {
            "after_sale_info": base,
            "logistics_info": {"return": {"tracking_no": "YT3000000001", "company_code": "yuantong",
                                          "company_name": "圆通速递", "logistics_time": 1700000200},
                               "exchange": {"tracking_no": "", "company_code": "", "company_name": ""}},
        },
        "order_info": {"shop_order_id": 6918000000000000001, "sku_order_infos": [
            {"sku_order_id": 6918000000000000001, "shop_sku_code": "TEE-M", "item_quantity": 1,
             "after_sale_item_count": 1, "pay_amount": 1990}]},
    }


def test_detail_maps_the_fields_a_decision_needs() -> None:
    case = mapping.map_aftersale_detail(detail(), "s")
    assert case.deadline == datetime.fromtimestamp(1700172800, UTC)
    assert case.version == "1700000300"  # operate's update_time, as sent
    assert case.max_refund == Money(amount="19.90")
    assert case.description == "想换大一码" and case.reason == "尺码不合适"
    assert case.evidence == ["https://img.example.com/a.jpg", "https://img.example.com/b.jpg"]
    assert (case.return_tracking_number, case.return_courier) == ("YT3000000001", "yuantong")
    assert case.exchange_sku == "TEE-L"
    assert case.extra["aftersale_type"] == "3" and case.extra["got_pkg"] == "1"
    assert case.extra["exchange_sku_id"] == "1750000000000000002"
    assert "return_address_id" not in case.extra and "exchange_tracking_number" not in case.extra


def test_detail_without_optional_blocks_maps_to_empty_values() -> None:
    data = detail(evidence=None, exchange_sku_info={}, status_deadline=0, reason_remark="")
    data["process_info"]["logistics_info"] = {}
    data["order_info"]["sku_order_infos"][0].pop("pay_amount")
    case = mapping.map_aftersale_detail(data, "s")
    assert case.deadline is None and case.max_refund is None and case.description is None
    assert case.evidence == [] and case.exchange_sku is None and case.return_courier is None
    assert not case.goods_returned


def test_detail_of_a_reshipped_exchange_carries_its_waybill() -> None:
    data = detail(after_sale_status=13, return_address_id=1001)
    data["process_info"]["logistics_info"]["exchange"] = {"tracking_no": "SF2000000001", "company_code": "shunfeng"}
    case = mapping.map_aftersale_detail(data, "s")
    assert case.status == AfterSaleStatus.REPLACEMENT_SHIPPED
    assert case.extra["exchange_tracking_number"] == "SF2000000001" and case.extra["exchange_courier"] == "shunfeng"
    assert case.extra["return_address_id"] == "1001"


def test_list_item_maps_deadline_and_version() -> None:
    item = {"aftersale_info": {"aftersale_id": "7301000000000000001", "aftersale_type": 0, "aftersale_status": 7,
                               "apply_time": 1700000000, "update_time": 1700000500, "status_deadline": 1700604800,
                               "refund_amount": 1990, "refund_status": 1, "return_logistics_code": ""},
            "order_info": {"shop_order_id": "6918000000000000001", "related_order_info": []}}
    case = mapping.map_aftersale_list_item(item, "s")
    assert case.version == "1700000500" and case.deadline == datetime.fromtimestamp(1700604800, UTC)
    assert case.status == AfterSaleStatus.AWAITING_RETURN and case.extra == {"aftersale_type": "0",
                                                                             "refund_status": "1"}


@pytest.mark.parametrize(("status", "expected"), [
    (6, AfterSaleStatus.REQUESTED), (7, AfterSaleStatus.AWAITING_RETURN), (11, AfterSaleStatus.RETURNED),
    (8, AfterSaleStatus.RETURNED), (13, AfterSaleStatus.REPLACEMENT_SHIPPED), (14, AfterSaleStatus.COMPLETED),
    (12, AfterSaleStatus.COMPLETED), (27, AfterSaleStatus.REJECTED), (29, AfterSaleStatus.REJECTED),
    (28, AfterSaleStatus.CLOSED),
])
def test_exchange_statuses_follow_the_exchange_path(status: int, expected: AfterSaleStatus) -> None:
    assert mapping.aftersale_status(status, 3, 1) == expected


def test_evidence_urls_accept_strings_and_objects() -> None:
    assert mapping.evidence_urls(["https://a/1.jpg", {"url": "https://a/2.jpg"}, "", None]) == [
        "https://a/1.jpg", "https://a/2.jpg"]


@pytest.mark.parametrize(("info", "expected"), [
    ({"exchange_sku_info": {"code": "TEE-L", "name": "T 恤"}}, "TEE-L"),
    ({"exchange_sku_info": {"out_sku_id": "77", "name": "T 恤"}}, "77"),
    ({"exchange_sku_info": {"name": "T 恤", "spec_desc": "尺码:L"}}, "T 恤 尺码:L"),
    ({"exchange_sku_info": {}}, None),
    ({}, None),
])
def test_exchange_sku_is_the_merchant_code_else_the_words(info: dict[str, Any], expected: str | None) -> None:
    assert mapping.exchange_sku_of(info) == expected


# --------------------------------------------------------------------------- decisions


@pytest.mark.parametrize(("action", "raw_type", "operation"), [
    (AfterSaleAction.APPROVE_REFUND, "1", 201), (AfterSaleAction.APPROVE_REFUND, "2", 201),
    (AfterSaleAction.REFUSE, "1", 202), (AfterSaleAction.AGREE_RETURN, "0", 101), (AfterSaleAction.REFUSE, "0", 102),
    (AfterSaleAction.CONFIRM_RETURN, "0", 111), (AfterSaleAction.REFUSE_RETURN, "0", 112),
    (AfterSaleAction.AGREE_EXCHANGE, "3", 301), (AfterSaleAction.REFUSE, "3", 302),
    (AfterSaleAction.SHIP_EXCHANGE, "3", 311), (AfterSaleAction.REFUSE_RETURN, "3", 312),
])
def test_each_decision_sends_its_operate_type(action: AfterSaleAction, raw_type: str, operation: int) -> None:
    assert OPERATIONS[(action, raw_type)] == operation


@pytest.mark.parametrize("case_type", [AfterSaleType.REFUND_ONLY, AfterSaleType.RETURN_AND_REFUND,
                                       AfterSaleType.EXCHANGE])
def test_every_action_the_hub_offers_is_written_back_or_explained(case_type: AfterSaleType) -> None:
    for status in AfterSaleStatus:
        for action in allowed_actions(case_type, status, received=True):
            assert action in ACTIONS or action == AfterSaleAction.RECEIVE_EXCHANGE


@pytest.mark.parametrize(("action", "raw_status", "refund_status", "done"), [
    (AfterSaleAction.APPROVE_REFUND, "6", "1", False), (AfterSaleAction.APPROVE_REFUND, "12", "3", True),
    (AfterSaleAction.APPROVE_REFUND, "6", "2", True),  # money already moving
    (AfterSaleAction.AGREE_RETURN, "6", "1", False), (AfterSaleAction.AGREE_RETURN, "7", "1", True),
    (AfterSaleAction.AGREE_RETURN, "11", "1", True), (AfterSaleAction.CONFIRM_RETURN, "11", "1", False),
    (AfterSaleAction.REFUSE, "27", "1", True), (AfterSaleAction.REFUSE, "6", "1", False),
    (AfterSaleAction.REFUSE_RETURN, "29", "1", True), (AfterSaleAction.AGREE_EXCHANGE, "7", "1", True),
    (AfterSaleAction.SHIP_EXCHANGE, "11", "1", False), (AfterSaleAction.SHIP_EXCHANGE, "13", "1", True),
])
def test_a_case_already_where_the_decision_leads_counts_as_done(action: AfterSaleAction, raw_status: str,
                                                                refund_status: str, done: bool) -> None:
    raw_type = {AfterSaleAction.AGREE_EXCHANGE: 3, AfterSaleAction.SHIP_EXCHANGE: 3}.get(action, 0)
    case = mapping.map_aftersale_detail(detail(after_sale_status=int(raw_status), after_sale_type=raw_type,
                                               refund_status=int(refund_status)), "s")
    assert already_done(action, case) is done


def test_proofs_must_be_urls() -> None:
    link = Proof(filename="a", content_type="text/uri-list", content=b"# comment\nhttps://img.example.com/a.mp4\n")
    assert proof_url(link) == "https://img.example.com/a.mp4"
    assert proof_url(Proof(filename="a.jpg", content_type="image/jpeg", content=b"\xff\xd8\xff")) is None
    assert evidence_items([link], "签收") == [{"type": 2, "url": "https://img.example.com/a.mp4", "desc": "签收"}]
    with pytest.raises(BadInputError) as exc:
        evidence_items([Proof(filename="chat.png", content_type="image/png", content=b"\x89PNG")], None)
    assert exc.value.field == "proof" and "chat.png" in str(exc.value)


def test_reject_reasons_map_evidence_need_and_follow_whether_the_buyer_has_the_goods() -> None:
    data = {"items": [
        {"reject_reason_code": 1001, "reason": "已签收", "evidence_need": "Y", "evidence_description": "签收截图",
         "pkg": 1},
        {"reject_reason_code": 1002, "reason": "协商一致", "evidence_need": "N", "pkg": -1},
        {"reject_reason_code": 1004, "reason": "运输途中", "evidence_need": "N", "pkg": 0}]}
    has_goods = map_reasons(data, "1")
    assert [(r.id, r.proof_required, r.hint) for r in has_goods] == [("1001", True, "签收截图"), ("1002", False, None)]
    assert [r.id for r in map_reasons(data, None)] == ["1001", "1002", "1004"]
    assert map_reasons({}, "0") == []


def test_lock_value_is_update_time_as_a_number() -> None:
    assert lock_value("1700000300") == 1700000300 and lock_value(None) is None and lock_value("") is None
