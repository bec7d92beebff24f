"""The demo's after-sales buyers (``hub.demo_aftersales.AftersalesDriver``) without a hub: which
order each opening takes, the caps that keep the console from flooding, and the buyer's moves the
hub's case status calls for. The hub's reads are replaced by fixed answers; the sandboxes by a
recorder."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from typing import Any

import pytest

from hub.demo_aftersales import (
    DEMO_SMALL_REFUND,
    MAX_TRIES,
    RECORDED_ONLY,
    AftersalesDriver,
    CandidateOrder,
    DemoCase,
    Opening,
)


class Buyer:
    """A sandbox's control surface that records what the buyers did (and refuses when told)."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.refuse = refuse
        self.ids = itertools.count(1)

    def create_aftersale(self, shop: str, order_id: str, kind: str, *, amount: Decimal | None = None) -> str:
        self.calls.append(("open", shop, order_id, kind, amount))
        return f"C{next(self.ids)}"

    def buyer_returns_goods(self, shop: str, case_id: str, *, tracking_number: str, company: str) -> None:
        self.calls.append(("return", case_id, company))
        if self.refuse:
            raise ValueError("the seller has not agreed")

    def buyer_receives_replacement(self, shop: str, case_id: str) -> None:
        self.calls.append(("received", case_id))


class ParcelBuyer(Buyer):
    """A platform that refunds once the return parcel is delivered (AliExpress)."""

    def return_delivered(self, shop: str, case_id: str) -> None:
        self.calls.append(("delivered", case_id))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _driver(buyers: dict[str, Buyer], orders: list[CandidateOrder], statuses: dict[tuple[str, str], str],
            plan: tuple[Opening, ...], clock: Clock) -> AftersalesDriver:
    driver = AftersalesDriver(hub=None, sandboxes=dict(buyers),  # type: ignore[arg-type]
                              platforms={shop: shop.removeprefix("demo-") for shop in buyers},
                              numbers=itertools.count(1), pace_s=1.0, clock=clock, plan=plan)

    async def candidate_orders() -> list[CandidateOrder]:
        return [o for o in orders if o.id not in driver._tried_orders]

    async def case_statuses() -> dict[tuple[str, str], str]:
        return {key: status for key, status in statuses.items() if key in driver.cases}

    driver.candidate_orders = candidate_orders  # type: ignore[method-assign]
    driver.case_statuses = case_statuses  # type: ignore[method-assign]
    return driver


def _order(id: int, shop: str, *, shipped: bool = False, held: bool = False) -> CandidateOrder:
    return CandidateOrder(id=id, shop=shop, external_id=f"T{id}", shipped=shipped, held=held, delivered=False)


def _open(driver: AftersalesDriver, clock: Clock, times: int) -> None:
    for _ in range(times):
        asyncio.run(driver.open_case())
        clock.now += 2 * driver.pace_s


def test_each_opening_takes_an_order_that_suits_it_and_a_small_refund_only_a_held_one() -> None:
    buyer, clock = Buyer(), Clock()
    orders = [_order(1, "demo-taobao"), _order(2, "demo-taobao", shipped=True), _order(3, "demo-taobao", held=True)]
    plan = (Opening("taobao", "refund_only", small=True), Opening("taobao", "return_and_refund"),
            Opening("taobao", "refund_only"))
    driver = _driver({"demo-taobao": buyer}, orders, {}, plan, clock)
    _open(driver, clock, 4)
    assert buyer.calls == [("open", "demo-taobao", "T3", "refund_only", DEMO_SMALL_REFUND),
                           ("open", "demo-taobao", "T2", "return_and_refund", None),
                           ("open", "demo-taobao", "T1", "refund_only", None)]


def test_an_opening_no_order_suits_waits_in_its_round_and_one_case_opens_per_two_paces() -> None:
    buyer, clock = Buyer(), Clock()
    orders = [_order(1, "demo-douyin")]
    plan = (Opening("douyin", "exchange"), Opening("douyin", "refund_only"))
    driver = _driver({"demo-douyin": buyer}, orders, {}, plan, clock)
    asyncio.run(driver.open_case())
    asyncio.run(driver.open_case())  # too soon after the first
    assert [c[3] for c in buyer.calls] == ["refund_only"]
    orders.append(_order(2, "demo-douyin", shipped=True))
    clock.now += 2
    asyncio.run(driver.open_case())
    assert [c[3] for c in buyer.calls] == ["refund_only", "exchange"]  # the exchange was still due this round


def test_at_most_six_cases_open_and_half_of_one_kind_but_small_refunds_go_on() -> None:
    buyer, clock = Buyer(), Clock()
    orders = [_order(i, "demo-tmall", shipped=i % 2 == 0, held=i > 20) for i in range(1, 31)]
    plan = (Opening("tmall", "refund_only"), Opening("tmall", "return_and_refund"), Opening("tmall", "exchange"),
            Opening("tmall", "refund_only", small=True))
    statuses: dict[tuple[str, str], str] = {}
    driver = _driver({"demo-tmall": buyer}, orders, statuses, plan, clock)
    for _ in range(20):
        _open(driver, clock, 1)
        for key, case in driver.cases.items():  # the rule approves the small refunds at once
            if case.order_id > 20:
                statuses[key] = "refunded"
    opened = [c[3] for c in buyer.calls if c[4] is None]
    assert len(opened) == 6 and max(opened.count(k) for k in set(opened)) <= 3
    assert sum(1 for c in buyer.calls if c[4] == DEMO_SMALL_REFUND) >= 2  # not held back by the caps
    # A person settles two cases (refunded, completed): two new ones come.
    for case_id in ("C1", "C2"):
        statuses[("demo-tmall", case_id)] = "refunded"
    _open(driver, clock, 10)
    assert len([c for c in buyer.calls if c[4] is None]) == 8


@pytest.mark.parametrize(("status", "buyer", "expected"), [
    ("awaiting_return", Buyer(), [("return", "C1", "SF")]),
    ("replacement_shipped", Buyer(), [("received", "C1")]),
    ("returned", Buyer(), []),  # the seller confirms: a person's
    (RECORDED_ONLY, Buyer(), []),  # decided in the hub only: the platform's case did not move
])
def test_the_buyer_makes_the_move_the_case_waits_for_a_pace_after_the_hub_shows_it(
    status: str, buyer: Buyer, expected: list[tuple[str, ...]],
) -> None:
    clock = Clock()
    driver = _driver({"demo-douyin": buyer}, [], {("demo-douyin", "C1"): status}, (), clock)
    driver.cases[("demo-douyin", "C1")] = DemoCase("demo-douyin", "C1", "exchange", 1)
    asyncio.run(driver.follow_cases())
    assert buyer.calls == []
    clock.now += 1.0
    asyncio.run(driver.follow_cases())
    clock.now += 1.0
    asyncio.run(driver.follow_cases())
    assert buyer.calls == expected  # once


def test_a_returned_parcel_is_delivered_where_the_platform_refunds_on_delivery() -> None:
    buyer, clock = ParcelBuyer(), Clock()
    statuses = {("demo-aliexpress", "C1"): "awaiting_return"}
    driver = _driver({"demo-aliexpress": buyer}, [], statuses, (), clock)
    driver.cases[("demo-aliexpress", "C1")] = DemoCase("demo-aliexpress", "C1", "return_and_refund", 1)
    for status in ("awaiting_return", "awaiting_return", "refunding", "refunding"):
        statuses[("demo-aliexpress", "C1")] = status
        asyncio.run(driver.follow_cases())
        clock.now += 1.0
    assert buyer.calls == [("return", "C1", "SF"), ("delivered", "C1")]


def test_a_move_the_platform_refuses_is_tried_a_few_times_a_pace_apart_then_left_to_a_person() -> None:
    buyer, clock = Buyer(refuse=True), Clock()
    driver = _driver({"demo-taobao": buyer}, [], {("demo-taobao", "C1"): "awaiting_return"}, (), clock)
    driver.cases[("demo-taobao", "C1")] = DemoCase("demo-taobao", "C1", "exchange", 1)
    for _ in range(20):
        clock.now += 0.5
        asyncio.run(driver.follow_cases())
    assert len(buyer.calls) == MAX_TRIES
