"""Fulfilment status follows a channel that says the goods left, and only ever moves forward."""

from __future__ import annotations

import pytest

from contracts import FulfilmentStatus, OrderStatus, fulfilment_after, fulfilment_reported_by


@pytest.mark.parametrize("status,reached", [
    (OrderStatus.PENDING_PAYMENT, None),
    (OrderStatus.PAID, None),
    (OrderStatus.PARTIALLY_SHIPPED, FulfilmentStatus.PARTIALLY_SHIPPED),
    (OrderStatus.SHIPPED, FulfilmentStatus.SHIPPED),
    (OrderStatus.DELIVERED, FulfilmentStatus.SHIPPED),
    (OrderStatus.COMPLETED, FulfilmentStatus.SHIPPED),
    (OrderStatus.CANCELLED, None),
    (OrderStatus.CLOSED, None),  # a refund does not unship anything, nor ship it
])
def test_what_a_channel_status_says_of_fulfilment(status: OrderStatus, reached: FulfilmentStatus | None) -> None:
    assert fulfilment_reported_by(status) == reached


@pytest.mark.parametrize("current,reached,after", [
    ("unfulfilled", FulfilmentStatus.SHIPPED, FulfilmentStatus.SHIPPED),
    ("sent_to_warehouse", FulfilmentStatus.PARTIALLY_SHIPPED, FulfilmentStatus.PARTIALLY_SHIPPED),
    ("partially_shipped", FulfilmentStatus.SHIPPED, FulfilmentStatus.SHIPPED),
    ("shipped", FulfilmentStatus.PARTIALLY_SHIPPED, None),
    ("shipped", FulfilmentStatus.SHIPPED, None),
    ("routed", FulfilmentStatus.UNFULFILLED, None),
    ("something_new", FulfilmentStatus.SHIPPED, None),  # unknown: kept, never guessed over
])
def test_fulfilment_only_moves_forward(current: str, reached: FulfilmentStatus, after: FulfilmentStatus | None) -> None:
    assert fulfilment_after(current, reached) == after
