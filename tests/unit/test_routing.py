"""Warehouse routing and courier choice: plugins decide first, built-in rules after."""

from __future__ import annotations

import pytest

from contracts.fulfilment import RoutingDecision
from contracts.orders import Order
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager
from hub.services.fulfilment.routing import choose_courier, route
from hub.testing.factories import make_order


def test_builtin_route_prefers_the_first_warehouse_with_everything() -> None:
    plugins = build_plugin_manager(load_entry_points=False)
    order = make_order(lines=[("A", 2), ("B", 1)])
    stock = {"north": {"A": 5, "B": 0}, "south": {"A": 2, "B": 1}}
    decision = route(plugins, order, 1, ["north", "south"], stock)
    assert decision.warehouse == "south"


def test_builtin_route_splits_when_no_warehouse_has_everything() -> None:
    plugins = build_plugin_manager(load_entry_points=False)
    order = make_order(lines=[("A", 2), ("B", 1)])
    decision = route(plugins, order, 1, ["north", "south"], {"north": {"A": 5}, "south": {"B": 1}})
    assert decision.warehouse is None
    assert decision.split == {"north": [order.lines[0].external_id], "south": [order.lines[1].external_id]}


def test_a_plugin_route_wins_and_an_unknown_warehouse_is_refused() -> None:
    class Always:
        def __init__(self, wh: str) -> None:
            self.wh = wh

        @hookimpl
        def route_order(self, order: Order, warehouses: list[str]) -> RoutingDecision:
            return RoutingDecision(warehouse=self.wh, reason="merchant rule")

    plugins = build_plugin_manager(extra=[Always("south")], load_entry_points=False)
    assert route(plugins, make_order(), 1, ["north", "south"], {}).warehouse == "south"
    bad = build_plugin_manager(extra=[Always("mars")], load_entry_points=False)
    with pytest.raises(ValueError, match="mars"):
        route(bad, make_order(), 1, ["north", "south"], {})


def test_select_courier_plugin_first_then_first_configured() -> None:
    class PreferSF:
        @hookimpl
        def select_courier(self, couriers: list[str]) -> str | None:
            return "sf" if "sf" in couriers else None

    plugins = build_plugin_manager(extra=[PreferSF()], load_entry_points=False)
    assert choose_courier(plugins, make_order(), 1, "main", ["zto", "sf"]) == "sf"
    assert choose_courier(plugins, make_order(), 1, "main", ["zto", "yto"]) == "zto"
    assert choose_courier(plugins, make_order(), 1, "main", []) is None
