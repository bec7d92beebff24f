"""The TOP gateway emulator shapes answers as TOP does: null fields and empty lists left out, and
with ``simplify=true`` no list wrappers (table tests, no network)."""

from __future__ import annotations

from typing import Any

import pytest

from plugins.taobao.top_gateway import TmcQueue, simplified, without_empties


@pytest.mark.parametrize(("inner", "sent"), [
    ({"trades": {"trade": []}, "total_results": 0}, {"total_results": 0}),
    ({"trade": {"tid": 1, "pay_time": None, "orders": {"order": [{"oid": 2, "refund_id": None}]}}},
     {"trade": {"tid": 1, "orders": {"order": [{"oid": 2}]}}}),
    ({"item": {"num": 3, "skus": {"sku": []}}}, {"item": {"num": 3}}),
    ({"has_next": False, "flags": {}}, {"has_next": False, "flags": {}}),  # False and {} are values, kept
    ({"memo": ""}, {"memo": ""}),  # an empty string is a value TOP sends
])
def test_null_fields_and_empty_lists_are_left_out(inner: dict[str, Any], sent: dict[str, Any]) -> None:
    assert without_empties(inner) == sent


@pytest.mark.parametrize(("inner", "sent"), [
    ({"trades": {"trade": [{"tid": 1, "orders": {"order": [{"oid": 2}]}}]}},
     {"trades": [{"tid": 1, "orders": [{"oid": 2}]}]}),
    ({"messages": {"tmc_message": [{"id": 1}]}}, {"messages": [{"id": 1}]}),
    ({"shipping": {"is_success": True}}, {"shipping": {"is_success": True}}),  # one field, not a list
])
def test_simplify_drops_the_list_wrappers(inner: dict[str, Any], sent: dict[str, Any]) -> None:
    assert simplified(inner) == sent


def test_tmc_holds_a_sellers_messages_until_permitted_and_then_only_the_permitted_topics() -> None:
    queue = TmcQueue(redelivery_seconds=0.0, clock=lambda: 0.0)
    queue.publish("app", "default", "taobao_trade_TradeCreate", {"tid": 1}, user_nick="seller-a")
    queue.publish("app", "default", "taobao_refund_RefundCreated", {"refund_id": 2}, user_nick="seller-a")
    queue.publish("app", "default", "taobao_trade_TradeCreate", {"tid": 3}, user_nick="seller-b")
    assert queue.consume("app", "default", 100) == []
    queue.permit("seller-a", ["taobao_refund_RefundCreated"])
    assert [m["topic"] for m in queue.consume("app", "default", 100)] == ["taobao_refund_RefundCreated"]
    queue.permit("seller-b", [])  # no topics: every topic
    assert {(m["user_nick"], m["topic"]) for m in queue.consume("app", "default", 100)} == {
        ("seller-a", "taobao_refund_RefundCreated"), ("seller-b", "taobao_trade_TradeCreate")}
