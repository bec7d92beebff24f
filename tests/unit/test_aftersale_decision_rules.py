"""The pure parts of deciding after-sale cases: idempotency keys (the caller's within the case,
else derived from the case, action and version; always within the column), the write-back
backoff, and the fake after-sales channel the hub's tests use (applies a key once, answers a
stale version with the current case, a lost answer is applied all the same)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from contracts import AfterSaleStatus, Money
from contracts.aftersales import AfterSaleAction, AfterSaleDecision
from hub.errors import BadInputError, RetryableError, StaleAfterSaleError
from hub.services.aftersales.decisions import KEY_MAX, _backoff, action_key
from hub.testing.aftersales_channel import AfterSalesPlatform
from hub.testing.factories import make_aftersale, make_order


def test_keys_stay_within_their_case_and_the_column() -> None:
    approve = AfterSaleAction.APPROVE_REFUND
    assert action_key(7, approve, "3", "k") == "as7:k"
    assert action_key(7, approve, "3", "k") != action_key(8, approve, "3", "k")
    assert action_key(7, approve, "3", None) == "as7:approve_refund:3"
    assert action_key(7, approve, "3", None) != action_key(7, approve, "4", None)
    long = action_key(7, approve, "v" * 300, None)
    assert len(long) == KEY_MAX and long != action_key(7, approve, "v" * 299, None)


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [_backoff(n) for n in (1, 2, 3)] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert _backoff(30) == timedelta(hours=1)


def _decision(action: AfterSaleAction, key: str, **fields: Any) -> AfterSaleDecision:
    return AfterSaleDecision(action=action, key=key, **fields)


def test_the_fake_channel_applies_a_key_once_even_when_its_answer_was_lost() -> None:
    platform = AfterSalesPlatform()
    case = platform.add(make_aftersale(make_order()))
    platform.lost_answers = 1
    approve = _decision(AfterSaleAction.APPROVE_REFUND, "k1", version="1")
    with pytest.raises(RetryableError):
        platform.decide(case, approve)
    again = platform.decide(case, approve)  # the retry: answered from memory
    assert again.case is not None and again.case.status is AfterSaleStatus.REFUNDING
    assert platform.taken(case.ref.external_id) == ["approve_refund"]
    with pytest.raises(StaleAfterSaleError) as stale:  # an old version
        platform.decide(case, _decision(AfterSaleAction.REFUSE, "k2", version="1", reason_text="no"))
    assert stale.value.current.version == "2"


def test_the_fake_channel_names_the_field_it_refuses() -> None:
    platform = AfterSalesPlatform()
    order = make_order()
    case = platform.add(make_aftersale(order).model_copy(update={"max_refund": order.total}))
    with pytest.raises(BadInputError) as too_much:
        platform.decide(case, _decision(AfterSaleAction.APPROVE_REFUND, "k", refund_amount=Money(
            amount=order.total.amount + Decimal("1"))))
    assert too_much.value.field == "refund_amount"
    with pytest.raises(BadInputError) as no_reason:
        platform.decide(case, _decision(AfterSaleAction.REFUSE, "k3"))
    assert no_reason.value.field == "reason_id"
