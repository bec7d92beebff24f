"""The canonical models: validation errors name the field, money and ids keep their precision,
masking hides personal data, and the state machines never step backwards."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from contracts import (
    AfterSaleStatus,
    ChannelRef,
    Money,
    OrderStatus,
    ServiceOrderStatus,
    TransitionVerdict,
    aftersale_can_move,
    judge_transition,
    service_order_can_move,
)
from contracts.orders import ORDER_TRANSITIONS
from hub.testing.factories import make_order


def test_validation_error_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        make_order(lines=[("SKU-1", 0)])
    assert "lines.0.quantity" in str(info.value).replace("\n", " ").replace(" ", "") or any(
        err["loc"][-1] == "quantity" for err in info.value.errors()
    )


def test_money_keeps_decimal_precision_and_refuses_bad_currency() -> None:
    assert Money(amount="0.10").amount + Money(amount="0.20").amount == Decimal("0.30")
    assert Money(amount=0.1).amount == Decimal("0.1")
    assert Money.from_minor_units(1999).amount == Decimal("19.99")
    assert Money(amount="19.99").to_minor_units() == 1999
    with pytest.raises(ValidationError, match="currency"):
        Money(amount="1", currency="RMBX")
    with pytest.raises(ValueError, match="cannot combine"):
        _ = Money(amount="1", currency="CNY") + Money(amount="1", currency="USD")


def test_platform_ids_stay_exact_strings() -> None:
    ref = ChannelRef(platform="taobao", shop="s", external_id=163288460521879179)
    assert ref.external_id == "163288460521879179"
    with pytest.raises(ValidationError):
        ChannelRef(platform="taobao", shop="s", external_id=1.6328846052187918e17)


def test_masked_order_hides_phone_name_and_street() -> None:
    order = make_order()
    masked = order.masked()
    dumped = masked.model_dump_json()
    assert "13812345678" not in dumped
    assert "文一西路969号" not in dumped
    assert "张三" not in dumped
    assert masked.shipping_address is not None and masked.shipping_address.phone == "138****5678"
    assert masked.shipping_address.city == "杭州市"


def test_order_must_use_one_currency() -> None:
    order = make_order()
    with pytest.raises(ValidationError, match="one currency"):
        order.model_validate({**order.model_dump(), "total": {"amount": "1", "currency": "USD"}})


def test_times_must_be_timezone_aware() -> None:
    with pytest.raises(ValidationError, match="created_at"):
        make_order(created_at=datetime(2026, 1, 1))  # naive
    assert make_order(created_at=datetime(2026, 1, 1, tzinfo=UTC)).created_at.tzinfo is not None


statuses = st.sampled_from(list(OrderStatus))


@given(st.lists(statuses, min_size=1, max_size=30))
def test_order_status_never_moves_backwards(reports: list[OrderStatus]) -> None:
    """Applying any sequence of reports, the stored status only ever moves forward."""
    current = OrderStatus.PENDING_PAYMENT
    for reported in reports:
        before = current
        if judge_transition(current, reported) is TransitionVerdict.APPLY:
            current = reported
        assert current.progress >= before.progress
        if before.is_terminal:
            assert current == before


@given(st.permutations([OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.SHIPPED,
                        OrderStatus.DELIVERED, OrderStatus.COMPLETED]))
def test_any_delivery_order_of_a_normal_life_ends_completed(reports: list[OrderStatus]) -> None:
    current = reports[0]
    for reported in reports[1:]:
        if judge_transition(current, reported) is TransitionVerdict.APPLY:
            current = reported
    assert current is OrderStatus.COMPLETED


def test_terminal_statuses_have_no_exit_and_every_status_has_a_row() -> None:
    assert set(ORDER_TRANSITIONS) == set(OrderStatus)
    for status in (OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.CLOSED):
        assert ORDER_TRANSITIONS[status] == frozenset()


@given(st.lists(st.sampled_from(list(AfterSaleStatus)), max_size=20))
def test_aftersale_terminal_states_are_final(reports: list[AfterSaleStatus]) -> None:
    current = AfterSaleStatus.REQUESTED
    for reported in reports:
        if aftersale_can_move(current, reported):
            assert current not in (AfterSaleStatus.REFUNDED, AfterSaleStatus.CLOSED, AfterSaleStatus.COMPLETED)
            current = reported


@given(st.lists(st.sampled_from(list(ServiceOrderStatus)), max_size=20))
def test_service_order_never_reopens(reports: list[ServiceOrderStatus]) -> None:
    current = ServiceOrderStatus.NEW
    for reported in reports:
        if service_order_can_move(current, reported):
            assert current not in (ServiceOrderStatus.COMPLETED, ServiceOrderStatus.CANCELLED)
            current = reported
