"""Table tests for Tmall exchanges: status codes, the case's new fields (deadline, version, exchange
SKU, description, return courier, extra), refuse reasons, courier names and the exchange TMC topics."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from contracts import AfterSaleAction, AfterSaleStatus, AfterSaleType, MessageKind, allowed_actions
from hub.errors import BadInputError
from plugins.taobao.tmc import TmcMessage
from plugins.tmall import mapping
from plugins.tmall.exchange_decisions import STEPS, dispute_type
from plugins.tmall.push import EXCHANGE_TOPICS, tmall_topics

GMT8 = timezone(timedelta(hours=8))


def exchange(**fields: object) -> dict[str, object]:
    return {"dispute_id": "2001", "biz_order_id": "3950000000000000001", "status": "1", "num": 2,
            "created": "2024-05-01 10:00:00", "modified": "2024-05-01 11:00:00", **fields}


@pytest.mark.parametrize(("raw", "status", "code"), [
    ("1", AfterSaleStatus.REQUESTED, "1"),
    ("2", AfterSaleStatus.AWAITING_RETURN, "2"),
    ("3", AfterSaleStatus.RETURNED, "3"),
    ("12", AfterSaleStatus.RETURNED, "12"),
    ("13", AfterSaleStatus.REPLACEMENT_SHIPPED, "13"),
    ("5", AfterSaleStatus.COMPLETED, "5"),
    ("4", AfterSaleStatus.CLOSED, "4"),
    ("6", AfterSaleStatus.REJECTED, "6"),
    ("14", AfterSaleStatus.CLOSED, "14"),
    ("待发出换货商品", AfterSaleStatus.RETURNED, "12"),
    ("待买家收货", AfterSaleStatus.REPLACEMENT_SHIPPED, "13"),
    ("请退款", AfterSaleStatus.CLOSED, "14"),
])
def test_every_exchange_status_maps_and_is_kept_as_its_code(raw: str, status: AfterSaleStatus, code: str) -> None:
    case = mapping.aftersale_from_exchange(exchange(status=raw), "tm")
    assert (case.status, case.raw_status) == (status, code)


def test_an_exchange_carries_deadline_version_wanted_sku_description_and_return_parcel() -> None:
    case = mapping.aftersale_from_exchange(exchange(
        status="3", time_out="2024-05-08 11:00:00", exchange_sku="颜色:黑色", bought_sku="颜色:白色",
        reason="尺码不合适", desc="换黑色", buyer_logistic_name="顺丰", buyer_logistic_no="SF100",
        refund_phase="售后换货", refund_version=1714532400000), "tm")
    assert case.type is AfterSaleType.EXCHANGE and case.lines[0].quantity == 2
    assert case.deadline == datetime(2024, 5, 8, 11, 0, tzinfo=GMT8)
    assert case.version == str(int(datetime(2024, 5, 1, 11, 0, tzinfo=GMT8).timestamp() * 1000))
    assert (case.exchange_sku, case.reason, case.description) == ("颜色:黑色", "尺码不合适", "换黑色")
    assert (case.return_courier, case.return_tracking_number, case.goods_returned) == ("顺丰", "SF100", True)
    assert case.extra == {"refund_phase": "售后换货", "refund_version": "1714532400000", "bought_sku": "颜色:白色"}


def test_the_list_and_the_detail_of_one_exchange_carry_the_same_version() -> None:
    """The poll (receive.get, no refund_version) and exchange.get (with it) must agree, or every
    decision on a polled case would look stale."""
    listed = mapping.aftersale_from_exchange(exchange(), "tm")
    detailed = mapping.aftersale_from_exchange(exchange(refund_version=99, modified="2024-05-01 11:00:00"), "tm")
    assert listed.version == detailed.version is not None


@pytest.mark.parametrize(("code", "received", "returned"), [
    ("1", False, False), ("2", False, False), ("3", False, True), ("12", True, True), ("13", True, True),
    ("5", True, True),
])
def test_goods_back_and_seller_receipt_follow_the_status(code: str, received: bool, returned: bool) -> None:
    case = mapping.aftersale_from_exchange(exchange(status=code), "tm")
    assert case.goods_returned is returned
    assert (case.extra.get("seller_received") == "true") is received


def test_once_received_the_hub_offers_to_ship_the_replacement() -> None:
    case = mapping.aftersale_from_exchange(exchange(status="12"), "tm")
    assert allowed_actions(case.type, case.status, received=case.extra.get("seller_received") == "true") == (
        AfterSaleAction.SHIP_EXCHANGE,)


def test_an_exchange_without_times_or_ids_is_refused_naming_the_field() -> None:
    with pytest.raises(BadInputError) as error:
        mapping.aftersale_from_exchange({"dispute_id": "1", "status": "1"}, "tm")
    assert error.value.field == "dispute_id"
    with pytest.raises(BadInputError, match="status"):
        mapping.aftersale_from_exchange(exchange(status="99"), "tm")


def test_refuse_reasons_come_from_the_result_list() -> None:
    body = {"result": {"results": {"reason": [{"reason_id": 3001, "reason_text": "商品已影响二次销售"},
                                              {"reason_id": 3002, "reason_text": "无货"}]}, "total_results": 2}}
    reasons = mapping.refuse_reasons_from_exchange(body)
    assert [(r.id, r.text, r.proof_required) for r in reasons] == [
        ("3001", "商品已影响二次销售", False), ("3002", "无货", False)]
    assert mapping.refuse_reasons_from_exchange({"result": {"total_results": 0}}) == []


@pytest.mark.parametrize(("code", "name"), [("SF", "顺丰"), ("zto", "中通"), (" Yunda ", "韵达")])
def test_courier_codes_become_company_names(code: str, name: str) -> None:
    assert mapping.courier_name(code, mapping.COURIER_NAMES) == name


def test_an_unknown_courier_is_refused_naming_the_setting() -> None:
    with pytest.raises(BadInputError, match="courier_names") as error:
        mapping.courier_name("nope", mapping.COURIER_NAMES)
    assert error.value.field == "courier_code"


@pytest.mark.parametrize(("phase", "expected"), [("售中换货", 1), ("售后换货", 2), ("onsale", 1), ("", 0)])
def test_refuse_reasons_are_asked_for_the_exchange_phase(phase: str, expected: int) -> None:
    case = mapping.aftersale_from_exchange(exchange(refund_phase=phase), "tm")
    assert dispute_type(case) == expected


def test_each_decision_applies_where_the_hub_offers_it() -> None:
    """Every status a step writes from maps to a status at which ``allowed_actions`` offers it
    (shipping from 3 once the hub recorded the goods back: ``confirm.consign``)."""
    for action, step in STEPS.items():
        for code in step.allowed:
            case = mapping.aftersale_from_exchange(exchange(status=code), "tm")
            offered = {*allowed_actions(case.type, case.status), *allowed_actions(case.type, case.status,
                                                                                 received=True)}
            assert action in offered, (action, code)
        assert not step.allowed & step.done


@pytest.mark.parametrize("topic", EXCHANGE_TOPICS)
def test_exchange_topics_name_the_case(topic: str) -> None:
    message = TmcMessage(id="1", topic=topic, content={"refund_id": 2001, "tid": 1, "modified": "2024-05-01 10:00:00"},
                         pub_time="2024-05-01 10:00:00")
    assert tmall_topics(message) == (MessageKind.AFTERSALE, "2001")
