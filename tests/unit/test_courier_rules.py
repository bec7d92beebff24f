"""Courier rules as a table: which rule takes which parcel (province, weight, amount, platform,
warehouse), the cheapest among matching rules by the cost table, the ``select_courier`` hook
first, no match → None; and the config's errors name the field."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contracts.orders import Address
from hub.config import HubConfig
from hub.context import Hub
from hub.plugin_api import hookimpl
from hub.plugins import build_plugin_manager
from hub.services.fulfilment import courier_rules
from hub.services.fulfilment.settings import CourierCost, CourierRulesSettings
from hub.testing.factories import make_order
from hub.testing.waybill_provider import PLATFORM, WaybillProviderPlugin

COURIERS = {"zto-main": {"platform": "manual", "settings": {"courier_code": "ZTO"}},
            "sf-main": {"platform": "manual", "settings": {"courier_code": "sf"}},
            "yto-main": {"platform": "manual"}}

RULES: list[dict[str, Any]] = [
    {"courier": "sf-main", "min_amount": 500},  # valuable orders go by SF
    {"courier": "sf-main", "provinces": ["西藏", "新疆维吾尔自治区"]},
    {"courier": "yto-main", "courier_code": "yto", "max_weight_grams": 500, "platforms": ["douyin"]},
    {"courier": "zto-main", "warehouses": ["hz"], "max_weight_grams": 20_000},
]


def hub_with(rules: list[dict[str, Any]], *, strategy: str = "first_match", costs: dict[str, Any] | None = None,
             plugins: list[Any] | None = None) -> Hub:
    config = HubConfig(couriers=COURIERS, fulfilment={"couriers": {
        "strategy": strategy, "rules": rules, "costs": costs or {}}})
    return Hub(config, build_plugin_manager(extra=plugins or [], load_entry_points=False))


def order(*, province: str = "浙江省", amount: str = "19.90", platform: str = "taobao") -> Any:
    return make_order(platform=platform, unit_price=amount, shipping_address=Address(
        name="张三", phone="13800000000", province=province, city="某市", street="某路1号"))


@pytest.mark.parametrize(("case", "kwargs", "warehouse", "weight", "expected"), [
    ("amount over 500 → SF", {"amount": "600"}, "hz", 1000, ("sf-main", "sf")),
    ("Tibet without suffix", {"province": "西藏自治区"}, "hz", 1000, ("sf-main", "sf")),
    ("Xinjiang, full name", {"province": "新疆维吾尔自治区"}, "hz", 1000, ("sf-main", "sf")),
    ("light douyin parcel → YTO", {"platform": "douyin"}, "hz", 400, ("yto-main", "yto")),
    ("heavy douyin parcel → ZTO", {"platform": "douyin"}, "hz", 900, ("zto-main", "zto")),
    ("unknown weight skips weight rules", {"platform": "douyin"}, "hz", None, None),
    ("other warehouse, nothing", {}, "bj", 1000, None),
    ("too heavy for any", {}, "hz", 25_000, None),
    ("boundary: exactly max weight", {}, "hz", 20_000, ("zto-main", "zto")),
    ("boundary: exactly min amount", {"amount": "500"}, "bj", None, ("sf-main", "sf")),
])
def test_first_matching_rule(case: str, kwargs: dict[str, Any], warehouse: str, weight: int | None,
                             expected: tuple[str, str] | None) -> None:
    choice = courier_rules.choose(hub_with(RULES), order(**kwargs), 1, warehouse, weight)
    assert (None if choice is None else (choice.account, choice.courier_code)) == expected, case


COSTS = {
    "zto-main": {"first_price": "5", "extra_kg_price": "2", "provinces": {"新疆": {"first_price": "18",
                                                                               "extra_kg_price": "10"}}},
    "sf-main": {"first_price": "12", "extra_kg_price": "2"},
}
CHEAP_RULES: list[dict[str, Any]] = [{"courier": "sf-main"}, {"courier": "zto-main"}, {"courier": "yto-main"}]


@pytest.mark.parametrize(("case", "province", "weight", "expected"), [
    ("ZTO cheaper by default", "浙江省", 1000, "zto-main"),
    ("ZTO: 5 + 4 × 2 at 4.2 kg, still cheaper than SF 12 + 8", "浙江省", 4200, "zto-main"),
    ("Xinjiang: ZTO's province price is dearer", "新疆维吾尔自治区", 1000, "sf-main"),
    ("Xinjiang heavy: SF", "新疆", 3000, "sf-main"),
])
def test_cheapest_matching_rule(case: str, province: str, weight: int, expected: str) -> None:
    choice = courier_rules.choose(hub_with(CHEAP_RULES, strategy="cheapest", costs=COSTS),
                                  order(province=province), 1, "hz", weight)
    assert choice is not None and choice.account == expected, case
    assert "cheapest" in choice.reason


def test_price_counts_each_started_kilogram() -> None:
    cost = CourierCost.model_validate(COSTS["zto-main"])
    assert [courier_rules.price(cost, "浙江", w) for w in (None, 0, 1000, 1001, 2000, 2001)] == [
        Decimal(5), Decimal(5), Decimal(5), Decimal(7), Decimal(7), Decimal(9)]
    assert courier_rules.price(cost, "新疆维吾尔自治区", 1500) == Decimal(28)


def test_unpriced_couriers_come_last_and_ties_keep_rule_order() -> None:
    costs = {"zto-main": {"first_price": "6"}, "sf-main": {"first_price": "6"}}
    choice = courier_rules.choose(hub_with(CHEAP_RULES[::-1], strategy="cheapest", costs=costs), order(), 1, "hz", 1)
    assert choice is not None and choice.account == "zto-main"  # yto (unpriced) is first in the rules


def test_no_rules_means_the_first_courier_by_priority_that_issues_waybills() -> None:
    hub = hub_with([], plugins=[WaybillProviderPlugin()])
    assert courier_rules.choose(hub, order(), 1, "hz") is None  # "manual" accounts issue no waybills
    hub.config.couriers["yto-main"].platform = PLATFORM
    hub.config.couriers["zto-main"].platform = PLATFORM
    hub.config.couriers["yto-main"].priority = 1
    choice = courier_rules.choose(hub, order(), 1, "hz")
    assert choice is not None and (choice.account, choice.courier_code) == ("yto-main", "yto-main")


def test_a_rule_for_a_disabled_courier_is_skipped() -> None:
    hub = hub_with([{"courier": "sf-main"}, {"courier": "zto-main"}])
    hub.config.couriers["sf-main"].enabled = False
    choice = courier_rules.choose(hub, order(), 1, "hz")
    assert choice is not None and choice.account == "zto-main"


class PickYto:
    @hookimpl
    def select_courier(self, order: Any, order_id: int, warehouse: str, couriers: list[str]) -> str | None:
        return "yto-main" if warehouse == "hz" else None


def test_the_select_courier_hook_is_asked_first() -> None:
    hub = hub_with(RULES, plugins=[PickYto()])
    choice = courier_rules.choose(hub, order(amount="900"), 1, "hz", 100)
    assert choice is not None and (choice.account, choice.courier_code) == ("yto-main", "yto-main")
    assert "select_courier" in choice.reason
    other = courier_rules.choose(hub, order(amount="900"), 1, "bj", 100)
    assert other is not None and other.account == "sf-main"  # the hook passed: the rules decide


@pytest.mark.parametrize(("section", "field"), [
    ({"rules": [{"courier": "x", "max_weight_grams": -1}]}, "rules.0.max_weight_grams"),
    ({"rules": [{"courier": "x", "min_amount": 10, "max_amount": 5}]}, "rules.0"),
    ({"rules": [{"courier": "x", "provinc": ["浙江"]}]}, "rules.0.provinc"),
    ({"rules": [{"provinces": ["浙江"]}]}, "rules.0.courier"),
    ({"strategy": "cheap"}, "strategy"),
    ({"costs": {"x": {"extra_kg_price": 1}}}, "costs.x.first_price"),
])
def test_bad_config_names_the_field(section: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        CourierRulesSettings.model_validate(section)
    assert field in {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}


def test_rule_problems_name_unknown_couriers_and_warehouses() -> None:
    config = HubConfig(couriers=COURIERS, warehouses={"hz": {"platform": "manual"}}, fulfilment={"couriers": {
        "rules": [{"courier": "zto-main", "warehouses": ["hz", "bj"]}, {"courier": "ems"}],
        "costs": {"dhl": {"first_price": 1}}}})
    assert [field for field, _ in courier_rules.rule_problems(config)] == [
        "fulfilment.couriers.rules.0.warehouses.1", "fulfilment.couriers.rules.1.courier",
        "fulfilment.couriers.costs.dhl"]


def test_the_documented_example_is_a_valid_configuration() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "fulfilment" / "waybills.md").read_text(encoding="utf-8")
    example = tomllib.loads(text.split("```toml\n", 1)[1].split("```", 1)[0])
    config = HubConfig(**example, warehouses={"hangzhou": {"platform": "manual"}})
    assert courier_rules.rule_problems(config) == []
    hub = Hub(config, build_plugin_manager(load_entry_points=False))
    valuable = courier_rules.choose(hub, order(amount="600"), 1, "hangzhou", 800)
    assert valuable is not None and valuable.account == "zto-hz"  # cheapest of SF, ZTO, YTO at 800 g
    remote = courier_rules.choose(hub, order(province="西藏自治区"), 1, "beijing", 800)
    assert remote is not None and (remote.account, remote.courier_code) == ("sf", "sf")
