"""AliExpress mapping: statuses, money, US Pacific times, orders, addresses and TMC (issues:
``test_aliexpress_issue_mapping.py``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from contracts import MessageKind, Money, OrderStatus
from hub.errors import BadInputError
from plugins.aliexpress.mapping import (
    STATUS_MAP,
    format_pacific,
    map_address,
    map_order,
    map_status,
    money,
    parse_pacific,
)
from plugins.aliexpress.push import parse_tmc_message, tmc_messages

FIXTURES = Path(__file__).resolve().parents[2] / "plugins" / "aliexpress" / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


# -- statuses -------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("raw", "status", "tag"),
    [
        ("PLACE_ORDER_SUCCESS", OrderStatus.PENDING_PAYMENT, None),
        ("IN_CANCEL", OrderStatus.PAID, "cancel_requested_by_buyer"),
        ("WAIT_SELLER_SEND_GOODS", OrderStatus.PAID, None),
        ("SELLER_PART_SEND_GOODS", OrderStatus.PARTIALLY_SHIPPED, None),
        ("WAIT_BUYER_ACCEPT_GOODS", OrderStatus.SHIPPED, None),
        ("FUND_PROCESSING", OrderStatus.DELIVERED, "fund_processing"),
        ("PAYMENT_PROCESSING", OrderStatus.DELIVERED, "fund_processing"),
        ("IN_ISSUE", OrderStatus.SHIPPED, "in_issue"),
        ("IN_FROZEN", OrderStatus.PAID, "frozen"),
        ("WAIT_SELLER_EXAMINE_MONEY", OrderStatus.PENDING_PAYMENT, "seller_must_confirm_amount"),
        ("RISK_CONTROL", OrderStatus.PENDING_PAYMENT, "risk_control"),
        ("RISK_CONTROL_HOLD", OrderStatus.PENDING_PAYMENT, "risk_control"),
        ("WAIT_GROUP_SUCCESS", OrderStatus.PENDING_PAYMENT, "waiting_group_buy"),
        ("IN_BOOK_SALE", OrderStatus.PENDING_PAYMENT, "presale"),
    ],
)
def test_every_open_status_maps_with_its_tag(raw: str, status: OrderStatus, tag: str | None) -> None:
    mapped, tags = map_status(raw)
    assert mapped == status
    assert (tag in tags) if tag else tags == ()


def test_every_status_of_the_platform_notes_is_mapped() -> None:
    documented = {"PLACE_ORDER_SUCCESS", "IN_CANCEL", "WAIT_SELLER_SEND_GOODS", "SELLER_PART_SEND_GOODS",
                  "WAIT_BUYER_ACCEPT_GOODS", "FUND_PROCESSING", "IN_ISSUE", "IN_FROZEN", "WAIT_SELLER_EXAMINE_MONEY",
                  "RISK_CONTROL", "FINISH", "RISK_CONTROL_HOLD", "WAIT_GROUP_SUCCESS", "IN_BOOK_SALE",
                  "PAYMENT_PROCESSING", "ARCHIVE"}
    for raw in documented:
        assert isinstance(map_status(raw, {"fund_status": "PAY_SUCCESS"})[0], OrderStatus)
    assert documented - {"FINISH", "ARCHIVE"} == set(STATUS_MAP)


@pytest.mark.parametrize(
    ("order", "status"),
    [
        ({"fund_status": "PAY_SUCCESS", "end_reason": "buyer_accept_goods"}, OrderStatus.COMPLETED),
        ({"fund_status": "PAY_SUCCESS"}, OrderStatus.COMPLETED),
        ({"fund_status": "NOT_PAY", "end_reason": "buyer_cancel_notpay_order"}, OrderStatus.CANCELLED),
        ({"end_reason": "pay_timeout"}, OrderStatus.CANCELLED),
        ({"fund_status": "PAY_SUCCESS", "end_reason": "cancel_order_close_trade"}, OrderStatus.CLOSED),
        ({"fund_status": "PAY_SUCCESS", "order_end_reason": "seller_accept_issue_no_goods_return"}, OrderStatus.CLOSED),
    ],
)
@pytest.mark.parametrize("raw", ["FINISH", "ARCHIVE"])
def test_finished_orders_are_completed_cancelled_or_closed_by_what_they_say(
        raw: str, order: dict[str, Any], status: OrderStatus) -> None:
    mapped, tags = map_status(raw, order)
    assert mapped == status
    reason = order.get("end_reason") or order.get("order_end_reason")
    assert (f"end_reason:{reason}" in tags) if reason else tags == ()


def test_an_unknown_status_is_refused_by_name() -> None:
    with pytest.raises(BadInputError, match="WAIT_FOR_MARS"):
        map_status("WAIT_FOR_MARS")


# -- money and time -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"currency_code": "USD", "amount": "1.01"}, Money(amount="1.01", currency="USD")),
        ({"currency_code": "EUR", "amount": "45.80"}, Money(amount="45.80", currency="EUR")),
        ({"currency_code": "RUB", "amount": "1299"}, Money(amount="1299", currency="RUB")),
        ({"currency_code": "BRL", "amount_str": "407.47"}, Money(amount="407.47", currency="BRL")),
        ({"currency_code": "USD", "cent": 2095, "cent_factor": 100}, Money(amount="20.95", currency="USD")),
        ({"currency": {"currency_code": "JPY"}, "cent": 1200, "cent_factor": 1}, Money(amount="1200", currency="JPY")),
    ],
)
def test_amounts_stay_in_their_own_currency(value: dict[str, Any], expected: Money) -> None:
    assert money(value) == expected


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-01-15 12:00:00", datetime(2024, 1, 15, 20, 0, tzinfo=UTC)),  # PST, UTC-8
        ("2024-07-15 12:00:00", datetime(2024, 7, 15, 19, 0, tzinfo=UTC)),  # PDT, UTC-7
        ("2024-03-10 01:59:59", datetime(2024, 3, 10, 9, 59, 59, tzinfo=UTC)),  # just before spring-forward
        ("2024-03-10 03:00:00", datetime(2024, 3, 10, 10, 0, tzinfo=UTC)),  # just after it
        ("2024-11-03 00:30:00", datetime(2024, 11, 3, 7, 30, tzinfo=UTC)),  # before fall-back, still PDT
        ("2024-11-03 03:00:00", datetime(2024, 11, 3, 11, 0, tzinfo=UTC)),  # after it, PST
    ],
)
def test_pacific_times_convert_across_daylight_saving(text: str, utc: datetime) -> None:
    assert parse_pacific(text) == utc
    assert format_pacific(utc) == text


def test_a_query_window_in_beijing_is_sent_in_pacific_time() -> None:
    from zoneinfo import ZoneInfo
    assert format_pacific(datetime(2024, 7, 16, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))) == "2024-07-15 18:00:00"
    with pytest.raises(ValueError):
        format_pacific(datetime(2024, 7, 16, 9, 0))


def test_a_malformed_time_is_bad_input() -> None:
    with pytest.raises(BadInputError):
        parse_pacific("15/07/2024")


# -- orders ---------------------------------------------------------------------------------------

def test_the_real_order_list_fixture_maps() -> None:
    result = fixture("solution_order_get.json")["aliexpress_solution_order_get_response"]["result"]
    order = map_order(result["target_list"]["order_dto"][0], "ae-shop")
    assert order.ref.external_id == "1160045860056286"
    assert order.status == OrderStatus.PENDING_PAYMENT and order.raw_status == "PLACE_ORDER_SUCCESS"
    assert order.total == Money(amount="1.01", currency="USD")
    assert order.created_at == datetime(2017, 10, 12, 19, 12, 12, tzinfo=UTC)  # PDT in October
    line = order.lines[0]
    assert (line.external_id, line.merchant_sku, line.channel_item_id, line.quantity) == ("222222", "12", "2356980", 1)
    assert order.buyer.nick == "test"
    assert order.shipping_address is None


def test_the_order_detail_maps_lines_prices_and_address() -> None:
    data = fixture("solution_order_info_get.json")["aliexpress_solution_order_info_get_response"]["result"]["data"]
    order = map_order(data, "ae-shop")
    assert order.ref.external_id == "8194715118451470"
    assert order.status == OrderStatus.PAID
    assert order.total == Money(amount="45.80", currency="EUR")
    assert order.shipping_fee == Money(amount="3.90", currency="EUR")
    line = order.lines[0]
    assert line.external_id == "8194715118461470" and line.merchant_sku == "CAGE-BLK"
    assert line.unit_price == Money(amount="20.95", currency="EUR") and line.quantity == 2
    address = order.shipping_address
    assert address is not None and address.country == "DE" and address.postcode == "10115"
    assert address.street == "Hauptstrasse 5, Hinterhaus"
    assert order.paid_at == datetime(2024, 3, 10, 9, 35, tzinfo=UTC)  # PST: DST starts later that night
    assert "015112345678" not in order.masked().model_dump_json()


def test_sixteen_digit_ids_stay_exact_strings() -> None:
    raw = json.loads('{"order_id": 8194715118461479, "order_status": "WAIT_SELLER_SEND_GOODS", '
                     '"gmt_create": "2024-01-01 00:00:00", "pay_amount": {"currency_code": "USD", "amount": "2"}, '
                     '"product_list": {"order_product_dto": [{"order_id": 8194715118461489, "product_count": 1}]}}')
    order = map_order(raw, "s")
    assert order.ref.external_id == "8194715118461479"
    assert order.lines[0].external_id == "8194715118461489"


def test_an_order_with_an_unknown_status_is_refused() -> None:
    data = fixture("solution_order_info_get.json")["aliexpress_solution_order_info_get_response"]["result"]["data"]
    with pytest.raises(BadInputError, match="SHIPPED_BY_PIGEON"):
        map_order({**data, "order_status": "SHIPPED_BY_PIGEON"}, "s")


def test_address_uses_mobile_and_turns_uk_into_gb() -> None:
    address = map_address({"country": "UK", "city": "London", "address": "1 High St", "detail_address": "Flat 3",
                           "zip": "N1 1AA", "phone_country": "+44", "phone_number": "2079460000",
                           "contact_person": "Sam Smith"})
    assert address is not None
    assert address.country == "GB" and address.street == "Flat 3, 1 High St"
    assert address.phone == "+442079460000"
    assert address.masked().phone == "442****0000"


# -- TMC ------------------------------------------------------------------------------------------

def test_an_order_tmc_message_becomes_an_order_trigger() -> None:
    message = {"id": 7301234567890123456, "topic": "aliexpress_order_WaitSellerSendGoods",
               "pub_time": "2024-05-02 09:00:00",
               "content": json.dumps({"order_id": 8194715118451470, "current_status": "WAIT_SELLER_SEND_GOODS",
                                      "last_status": "PLACE_ORDER_SUCCESS", "login_id": "b",
                                      "order_change_time": "2024-05-01 18:00:00"})}
    inbound = parse_tmc_message(message)
    assert inbound.kind == MessageKind.ORDER
    assert inbound.message_id == "7301234567890123456" and inbound.external_id == "8194715118451470"
    assert inbound.occurred_at == datetime(2024, 5, 2, 1, 0, tzinfo=UTC)


def test_other_topics_and_unreadable_content_are_recorded_not_lost() -> None:
    other = parse_tmc_message({"id": 1, "topic": "taobao_item_ItemAdd", "content": "{}"})
    broken = parse_tmc_message({"id": 2, "topic": "aliexpress_order_Finish", "content": "{not json"})
    assert other.kind == broken.kind == MessageKind.OTHER
    assert "unreadable_content" in broken.payload


def test_consume_bodies_in_both_list_shapes() -> None:
    assert tmc_messages({"messages": {"tmc_message": [{"id": 1}]}}) == [{"id": 1}]
    assert tmc_messages({"messages": [{"id": 2}]}) == [{"id": 2}]
    assert tmc_messages({}) == []


def test_money_from_a_bare_string_needs_the_order_currency() -> None:
    assert money("3.5", "EUR") == Money(amount=Decimal("3.5"), currency="EUR")
