"""The built-in routing strategy as a table: priority, region coverage, stock, split by line, and
what a plugin's decision must satisfy."""

from __future__ import annotations

from typing import Any

import pytest

from contracts.fulfilment import RoutingDecision
from contracts.orders import Order
from hub.config import HubConfig, WarehouseConfig
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager
from hub.services.fulfilment.routing import builtin_route, covers, enabled_warehouses, province_key, route
from hub.testing.factories import make_order


def _order(province: str, lines: list[tuple[str, int]]) -> Order:
    base = make_order(lines=lines)
    assert base.shipping_address is not None
    return base.model_copy(update={"shipping_address": base.shipping_address.model_copy(update={"province": province})})


WAREHOUSES = ["north", "south", "west"]  # priority order

# (case, province, lines, stock, regions, expected: warehouse | {warehouse: [line index]} | None)
CASES: list[tuple[str, str, list[tuple[str, int]], dict[str, dict[str, int]], dict[str, list[str]], Any]] = [
    ("first by priority with everything", "浙江省", [("A", 2), ("B", 1)],
     {"north": {"A": 2, "B": 1}, "south": {"A": 9, "B": 9}}, {}, "north"),
    ("skips one without every line", "浙江省", [("A", 2), ("B", 1)],
     {"north": {"A": 5, "B": 0}, "south": {"A": 2, "B": 1}}, {}, "south"),
    ("skips one not covering the province", "浙江省", [("A", 1)],
     {"north": {"A": 5}, "south": {"A": 5}}, {"north": ["北京"]}, "south"),
    ("province matched without its suffix", "浙江", [("A", 1)],
     {"north": {"A": 5}}, {"north": ["浙江省"]}, "north"),
    ("autonomous region by its short name", "广西壮族自治区", [("A", 1)],
     {"north": {"A": 5}, "south": {"A": 5}}, {"north": ["广西"], "south": ["江苏"]}, "north"),
    ("nothing covers the province: no warehouse", "新疆维吾尔自治区", [("A", 1)],
     {"north": {"A": 5}}, {"north": ["浙江"], "south": ["江苏"], "west": ["四川"]}, None),
    ("split by line", "浙江省", [("A", 2), ("B", 1)],
     {"north": {"A": 5}, "south": {"B": 1}}, {}, {"north": [0], "south": [1]}),
    ("split only across covering warehouses", "浙江省", [("A", 1), ("B", 1)],
     {"north": {"A": 5, "B": 5}, "south": {"A": 5}, "west": {"B": 5}}, {"north": ["北京"]},
     {"south": [0], "west": [1]}),
    ("one SKU on two lines counts both", "浙江省", [("A", 2), ("A", 2)],
     {"north": {"A": 3}, "south": {"A": 2}}, {}, {"north": [0], "south": [1]}),
    ("short everywhere: first covering warehouse", "浙江省", [("A", 5)],
     {"north": {"A": 1}, "south": {"A": 1}}, {"north": ["北京"]}, "south"),
]


@pytest.mark.parametrize(("province", "lines", "stock", "regions", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_builtin_route(province: str, lines: list[tuple[str, int]], stock: dict[str, dict[str, int]],
                       regions: dict[str, list[str]], expected: Any) -> None:
    order = _order(province, lines)
    decision = builtin_route(order, WAREHOUSES, stock, regions)
    if expected is None:
        assert decision.warehouse is None and not decision.split
        assert province in decision.reason
    elif isinstance(expected, str):
        assert decision.warehouse == expected and not decision.split
    else:
        assert decision.warehouse is None
        assert decision.split == {wh: [order.lines[i].external_id for i in idx] for wh, idx in expected.items()}


def test_without_warehouses_nothing_is_chosen() -> None:
    assert builtin_route(_order("浙江省", [("A", 1)]), [], {}).reason == "no warehouse configured"


@pytest.mark.parametrize(("regions", "province", "expected"), [
    ([], None, True), ([], "任何", True), (["浙江"], None, False), (["浙江省"], "浙江", True),
    (["上海"], "上海市", True), (["Zhejiang"], "zhejiang", True), (["江苏"], "浙江省", False), (["  "], "x", True),
])
def test_covers(regions: list[str], province: str | None, expected: bool) -> None:
    assert covers(regions, province) is expected


def test_province_key_keeps_a_bare_suffix() -> None:
    assert province_key("省") == "省" and province_key(" 香港特别行政区 ") == "香港"


def test_enabled_warehouses_by_priority_then_name_and_the_embedded_default() -> None:
    config = HubConfig(warehouses={
        "b": WarehouseConfig(platform="manual", priority=5), "a": WarehouseConfig(platform="manual", priority=5),
        "first": WarehouseConfig(platform="manual", priority=1), "off": WarehouseConfig(platform="manual",
                                                                                         enabled=False)})
    assert enabled_warehouses(config) == ["first", "a", "b"]
    assert enabled_warehouses(HubConfig()) == ["default"]


class _Fixed:
    def __init__(self, decision: RoutingDecision) -> None:
        self.decision = decision

    @hookimpl
    def route_order(self, order: Order) -> RoutingDecision:
        return self.decision


def test_a_plugin_split_must_name_known_warehouses_and_every_line_once() -> None:
    order = make_order(lines=[("A", 1), ("B", 1)])
    a, b = (line.external_id for line in order.lines)
    good = RoutingDecision(split={"north": [a], "south": [b]})
    assert route(build_plugin_manager(extra=[_Fixed(good)], load_entry_points=False), order, 1, WAREHOUSES,
                 {}) == good
    for bad, message in [(RoutingDecision(split={"mars": [a, b]}), "mars"),
                         (RoutingDecision(split={"north": [a]}), "every line once"),
                         (RoutingDecision(split={"north": [a, b], "south": [b]}), "every line once")]:
        with pytest.raises(ValueError, match=message):
            route(build_plugin_manager(extra=[_Fixed(bad)], load_entry_points=False), order, 1, WAREHOUSES, {})


def test_the_hook_comes_first_and_the_builtin_rule_after() -> None:
    order = _order("浙江省", [("A", 1)])
    plugins = build_plugin_manager(load_entry_points=False)
    assert route(plugins, order, 1, WAREHOUSES, {"south": {"A": 1}}, {"north": ["北京"]}).warehouse == "south"
    chosen = build_plugin_manager(extra=[_Fixed(RoutingDecision(warehouse="west", reason="rule"))],
                                  load_entry_points=False)
    assert route(chosen, order, 1, WAREHOUSES, {"south": {"A": 1}}).warehouse == "west"
