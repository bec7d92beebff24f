"""Table tests for plugins.tmall.workcard_mapping: a querybyseller WorkcardDTO → ServiceOrder (link to
the trade and line, region without the buyer's address, status from the shop's codes or the times),
a ServiceMonitorMessage → ServiceAlert."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from contracts import ServiceAlertLevel, ServiceOrderStatus, ServiceOrderType
from hub.errors import BadInputError
from plugins.taobao.client import GMT8
from plugins.tmall import workcard_mapping as wm

CARD: dict[str, Any] = {
    "id": 880000001, "status_code": "X9", "sequence": 7, "service_count": 2,
    "service_definition": {"biz_code": "HOME_SERVICE", "service_code": "TMALL_INSTALL"},
    "parent_biz_order_id": 3950000000000000001,
    "gmt_create": "2024-05-01 10:00:00", "gmt_modify": "2024-05-01 11:30:00",
    "buyer_expect_date": "2024-05-03 00:00:00",
    "buyer": {"buyer_name": "王小明", "mobile": "13912345678", "address_detail": "文三路 100 号 3 幢 201",
              "address": "浙江省杭州市西湖区文三路 100 号", "address_province": "浙江省", "address_city": "杭州市",
              "address_district": "西湖区"},
    "service_provider": {"tp_id": 22, "tp_nick": "服务商"},
    "master_trade_order": {"order_id": 3950000000000000002, "parent_order_id": 3950000000000000001,
                           "outer_id_sku": "AC-1", "auction_title": "空调 1.5 匹"},
    "service_trade_order": {"auction_title": "【天猫服务】上门安装"},
}


def card(**changes: Any) -> dict[str, Any]:
    return {**CARD, **changes}


def test_a_card_maps_linked_to_its_trade_and_line_without_the_buyers_personal_data() -> None:
    order = wm.service_order_from_workcard(CARD, "tm")
    assert (order.ref.platform, order.ref.shop, order.ref.external_id) == ("tmall", "tm", "880000001")
    assert order.order_ref is not None and order.order_ref.external_id == "3950000000000000001"
    assert (order.line_external_id, order.merchant_sku, order.product_title) == (
        "3950000000000000002", "AC-1", "空调 1.5 匹")
    assert (order.quantity, order.service_code, order.service_name) == (2, "TMALL_INSTALL", "【天猫服务】上门安装")
    assert order.type is ServiceOrderType.INSTALLATION and order.raw_status == "X9"
    assert order.region is not None and order.region.names() == ("浙江省", "杭州市", "西湖区")
    assert order.extra["sequence"] == "7"
    assert order.expected_at == datetime(2024, 5, 3, tzinfo=GMT8)
    assert order.created_at == datetime(2024, 5, 1, 10, tzinfo=GMT8)
    assert order.updated_at == datetime(2024, 5, 1, 11, 30, tzinfo=GMT8)
    dumped = order.model_dump_json()
    for personal in ("王小明", "13912345678", "文三路"):
        assert personal not in dumped


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, ServiceOrderStatus.NEW),
    ({"gmt_assign_worker": "2024-05-01 10:05:00"}, ServiceOrderStatus.ASSIGNED),
    ({"service_provider": {"worker_name": "李师傅"}}, ServiceOrderStatus.ASSIGNED),
    ({"gmt_reserve_start": "2024-05-02 09:00:00", "gmt_reserve_end": "2024-05-02 11:00:00"},
     ServiceOrderStatus.BOOKED),
    ({"gmt_reserve_start": "2024-05-02 09:00:00", "gmt_sign_in": "2024-05-02 09:10:00"}, ServiceOrderStatus.ON_SITE),
    ({"gmt_sign_in": "2024-05-02 09:10:00", "gmt_identify": "2024-05-02 10:00:00"}, ServiceOrderStatus.COMPLETED),
    ({"gmt_reserve_start": "2024-05-02 09:00:00", "gmt_cancel": "2024-05-01 12:00:00"}, ServiceOrderStatus.CANCELLED),
])
def test_without_a_known_status_code_the_times_decide(changes: dict[str, Any], expected: ServiceOrderStatus) -> None:
    assert wm.service_order_from_workcard(card(**changes), "tm").status is expected


def test_the_shops_status_codes_win_over_the_times() -> None:
    mapped = wm.service_order_from_workcard(card(gmt_sign_in="2024-05-02 09:10:00"), "tm",
                                            {"X9": ServiceOrderStatus.FAILED})
    assert mapped.status is ServiceOrderStatus.FAILED


@pytest.mark.parametrize(("texts", "expected"), [
    (("【天猫服务】上门安装", None), ServiceOrderType.INSTALLATION),
    ((None, "TMALL_INSTALL"), ServiceOrderType.INSTALLATION),
    (("空调维修",), ServiceOrderType.REPAIR),
    (("油烟机清洗",), ServiceOrderType.MAINTENANCE),
    (("SVC_77", None), ServiceOrderType.OTHER),
])
def test_the_type_is_read_from_the_services_words(texts: tuple[str | None, ...], expected: ServiceOrderType) -> None:
    assert wm.service_type(*texts) is expected


def test_a_card_without_id_or_creation_time_is_bad_input() -> None:
    with pytest.raises(BadInputError, match="id"):
        wm.service_order_from_workcard(card(id=None), "tm")
    with pytest.raises(BadInputError, match="gmt_create"):
        wm.service_order_from_workcard(card(gmt_create=""), "tm")


@pytest.mark.parametrize(("level", "expected"), [
    (1, ServiceAlertLevel.WARNING), (2, ServiceAlertLevel.ALERT), ("3", ServiceAlertLevel.CRITICAL)])
def test_a_monitor_message_about_a_card_is_an_alert(level: int | str, expected: ServiceAlertLevel) -> None:
    alert = wm.service_alert_from_message({"id": 990000001, "biz_type": 1, "biz_id": 880000001, "level": level,
                                           "rule_id": "R1", "content": "师傅未在6小时内上报",
                                           "gmt_create": "2024-05-01 16:00:00"}, "tm")
    assert alert is not None and alert.level is expected
    assert (alert.ref.external_id, alert.alert_id, alert.rule_id) == ("880000001", "990000001", "R1")
    assert alert.raised_at == datetime(2024, 5, 1, 16, tzinfo=GMT8) and alert.content == "师傅未在6小时内上报"


def test_other_monitor_messages_are_no_alert_and_a_bad_level_is_refused() -> None:
    assert wm.service_alert_from_message({"id": 1, "biz_type": 2, "biz_id": 5, "level": 1}, "tm") is None
    with pytest.raises(BadInputError, match="level"):
        wm.service_alert_from_message({"id": 1, "biz_type": 1, "biz_id": 5, "level": 9,
                                       "gmt_create": "2024-05-01 16:00:00"}, "tm")
